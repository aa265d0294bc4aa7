"""init_transactions with a stable transactional.id fences the previous owner of a partition."""

import time
from pathlib import Path

import pytest

from core import codec
from core.settings import KafkaSettings
from core.topics import topic_name
from executor.exceptions import Fenced
from executor.recovery_reader import read_partition
from executor.txn import PartitionWriter
from schemas.records import OrderEvent
from tests.factories import order_event_record

pytestmark = pytest.mark.integration


def _intent(coid: str) -> OrderEvent:
    return order_event_record(coid, "INTENT", signal_id="s1", game_id="g", market="T", intent_ts=1)


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
    coids = [r.client_order_id for r in records if isinstance(r, OrderEvent)]
    assert bad == 0
    assert "s1:0:0" in coids and "s2:0:0" in coids


def test_recovery_read_ends_at_once_and_leaves_out_what_a_fenced_owner_left_open(topics: KafkaSettings) -> None:
    """The read ends at the partition's end (EOF at the last stable offset): the previous owner's open
    transaction, aborted by the new owner's init_transactions, is neither read nor waited for."""
    old = PartitionWriter(topics, 5)
    old.init()
    old.commit_intents([_intent("s1:0:0")])
    old.producer.begin_transaction()  # then "killed" before its commit
    old.producer.produce(old.orders_topic, key="s1:1:0", value=codec.encode_record(_intent("s1:1:0")), partition=5)
    assert old.producer.flush(10) == 0
    new = PartitionWriter(topics, 5)
    new.init()
    started = time.monotonic()
    records, bad = read_partition(topics, [topic_name("orders", topics), topic_name("outcomes", topics)], 5, stall_s=20)
    assert time.monotonic() - started < 10
    assert bad == 0 and [r.client_order_id for r in records if isinstance(r, OrderEvent)] == ["s1:0:0"]


async def test_a_fenced_executor_stops_with_an_error_and_sends_nothing(topics: KafkaSettings, tmp_path: Path) -> None:
    """Issue 24 defect 4: a partition worker that cannot go on (here: fenced by a newer owner of its partition)
    used to end while its partition stayed assigned, and the process looked healthy. Now the executor stops with
    an error (so its group reassigns the partitions), and nothing is sent for the signal it could not commit."""
    import asyncio

    from cryptography.hazmat.primitives import serialization

    from core.kafka import make_producer
    from executor.run import build
    from executor.service import WorkerFailed
    from executor.settings import ExecutorSettings
    from simulators.runner import Simulator
    from simulators.settings import SimSettings
    from tests.integration.test_executor_kalshi import Rig, signal
    from tests.kafka_helpers import eventually
    from venues.kalshi.settings import KalshiSettings

    async with Simulator(SimSettings(games=1, updates_per_s=0, arb_rate_per_min=0, autostart=False, kalshi_tier="unlimited")) as sim:
        assert sim.kalshi_private_key is not None
        key = tmp_path / "k.pem"
        key.write_bytes(sim.kalshi_private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        game = next(iter(sim.world.games.values()))
        a, b = game.kalshi_markets[game.away], game.kalshi_markets[game.home]
        kalshi = KalshiSettings(rest_url=sim.kalshi_url, key_id=sim.settings.kalshi_key_id, private_key_file=str(key), tier="unlimited")
        service, closers = build(topics, ExecutorSettings(lookup_grace_ms=500), kalshi=kalshi)
        task = asyncio.create_task(service.run())
        try:
            await eventually(service.ready, 30)
            for p in list(service.workers):  # a newer owner of every partition fences this executor's producers
                zombie_killer = PartitionWriter(topics, p)
                await asyncio.to_thread(zombie_killer.init)
            producer = make_producer(topics)
            s = signal(Rig(sim, topics, service, game, a, b), "fenced-1")
            producer.produce(topic_name("signals", topics), key=s["game_id"], value=codec.encode("Signal", s))
            assert producer.flush(10) == 0
            try:
                await asyncio.wait_for(task, 30)
                raise AssertionError("the executor went on after being fenced")
            except WorkerFailed as exc:
                assert "fenced" in str(exc).lower() or "Fenced" in repr(exc.__cause__)
            assert service.stats.worker_failures >= 1
            assert [r for r in sim.world.orderlog.query(venue="KALSHI") if r.account != "admin"] == []  # never sent
        finally:
            service.stop()
            if not task.done():
                await asyncio.wait_for(task, 30)
            for c in closers:
                await c.aclose() if hasattr(c, "aclose") else c.stop()
