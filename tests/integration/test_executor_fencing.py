"""init_transactions with a stable transactional.id fences the previous owner of a partition."""

import time

import pytest

from core import codec
from core.settings import KafkaSettings
from core.topics import topic_name
from executor.recovery_reader import read_partition
from executor.txn import Fenced, PartitionWriter

pytestmark = pytest.mark.integration


def _intent(coid: str) -> dict:
    return {"client_order_id": coid, "signal_id": "s1", "game_id": "g", "leg_index": 0, "step": 0, "type": "INTENT",
            "venue": "KALSHI", "market": "T", "side": "YES", "action": "BUY", "limit_price": 5000, "size": 100,
            "filled_size": 0, "fill_cost": 0, "fee": 0, "venue_order_id": None, "signed_order": None, "reason": None,
            "paper": False, "intent_ts": 1, "sent_ts": None, "acked_ts": None}


def test_new_owner_fences_zombie_and_recovery_reads_committed(topics: KafkaSettings) -> None:
    old = PartitionWriter(topics, 3)
    old.init()
    old.commit_intents([_intent("s1:0:0")])
    new = PartitionWriter(topics, 3)
    new.init()  # bumps the epoch: `old` is now a zombie
    with pytest.raises(Fenced):
        old.commit_intents([_intent("s1:1:0")])
    new.commit_intents([_intent("s2:0:0")])
    records, bad = read_partition(topics, [topic_name("orders", topics), topic_name("outcomes", topics)], 3)
    coids = [r["client_order_id"] for t, r in records if t == "OrderEvent"]
    assert bad == 0
    assert "s1:0:0" in coids and "s2:0:0" in coids


def test_recovery_read_ends_at_once_and_leaves_out_what_a_fenced_owner_left_open(topics: KafkaSettings) -> None:
    """The read ends at the partition's end (EOF at the last stable offset): the previous owner's open
    transaction, aborted by the new owner's init_transactions, is neither read nor waited for."""
    old = PartitionWriter(topics, 5)
    old.init()
    old.commit_intents([_intent("s1:0:0")])
    old.producer.begin_transaction()  # then "killed" before its commit
    old.producer.produce(old.orders_topic, key="s1:1:0", value=codec.encode("OrderEvent", _intent("s1:1:0")), partition=5)
    assert old.producer.flush(10) == 0
    new = PartitionWriter(topics, 5)
    new.init()
    started = time.monotonic()
    records, bad = read_partition(topics, [topic_name("orders", topics), topic_name("outcomes", topics)], 5, stall_s=20)
    assert time.monotonic() - started < 10
    assert bad == 0 and [r["client_order_id"] for t, r in records if t == "OrderEvent"] == ["s1:0:0"]
