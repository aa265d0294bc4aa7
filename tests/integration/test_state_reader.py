"""core/state_reader.follow: "caught up" means every record that existed at the start was handed over, also
when the partition ends in transaction markers (committed and aborted) and is read from an explicit offset."""

from __future__ import annotations

import threading

import pytest

from core.kafka import make_producer, make_transactional_producer
from core.settings import KafkaSettings
from core.state_reader import follow
from core.topics import topic_name

pytestmark = pytest.mark.integration


def test_caught_up_only_after_every_existing_record(topics: KafkaSettings) -> None:
    topic = topic_name("control", topics)
    plain = make_producer(topics)
    for i in range(500):
        plain.produce(topic, key=f"k{i}".encode(), value=b"v", partition=0)
    assert plain.flush(10) == 0
    txn = make_transactional_producer(topics, f"{topics.topic_prefix}state-reader-test")
    txn.init_transactions(10)
    txn.begin_transaction()
    for i in range(500, 1000):
        txn.produce(topic, key=f"k{i}".encode(), value=b"v", partition=0)
    txn.commit_transaction(10)
    txn.begin_transaction()
    txn.produce(topic, key=b"aborted", value=b"v", partition=0)
    txn.abort_transaction(10)  # the partition now ends in an abort marker: read_committed never hands it over

    seen: list[bytes] = []
    at_caught_up: list[int] = []
    caught_up, stop = threading.Event(), threading.Event()

    def on_record(msg: object) -> None:
        seen.append(msg.key())  # type: ignore[attr-defined]

    def watch() -> None:
        caught_up.wait(30)
        at_caught_up.append(len(seen))

    watcher = threading.Thread(target=watch)
    watcher.start()
    reader = threading.Thread(target=follow, args=(topics, topic, on_record, caught_up, stop))
    reader.start()
    try:
        assert caught_up.wait(30), "never caught up"
        watcher.join(5)
        assert at_caught_up and at_caught_up[0] == 1000, at_caught_up
        assert b"aborted" not in seen
    finally:
        stop.set()
        reader.join(10)
