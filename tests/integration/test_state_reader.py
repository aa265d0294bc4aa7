"""core/state_reader.follow: "caught up" means every record that existed at the start was handed over, also
when the partition ends in transaction markers (committed and aborted) and is read from an explicit offset."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from confluent_kafka import OFFSET_BEGINNING, OFFSET_INVALID, Consumer, TopicPartition

from core import state_reader
from core.kafka import make_producer, make_transactional_producer
from core.settings import KafkaSettings
from core.state_reader import follow, resume_offset
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


class _RecordingConsumer:
    """A real consumer whose assign() calls are recorded."""

    def __init__(self, consumer: Consumer, assigned: list[int]) -> None:
        self._consumer = consumer
        self._assigned = assigned

    def assign(self, tps: list[TopicPartition]) -> None:
        self._assigned.extend(tp.offset for tp in tps)
        self._consumer.assign(tps)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._consumer, name)


def test_follower_of_an_empty_partition_starts_at_an_explicit_offset(topics: KafkaSettings, monkeypatch: pytest.MonkeyPatch) -> None:
    """The loader of an empty partition has no position (OFFSET_INVALID). Handed that, the follower would first ask
    the group coordinator for a committed offset, and librdkafka never retries that question after a request-level
    NOT_COORDINATOR (a fresh broker: confluentinc/librdkafka#5586): the reader then never saw a record. So no
    consumer of follow() is assigned a logical offset that needs the coordinator, and a record written after the
    switch arrives."""
    assigned: list[int] = []
    real = state_reader.make_consumer
    monkeypatch.setattr(state_reader, "make_consumer", lambda *a, **kw: _RecordingConsumer(real(*a, **kw), assigned))
    topic = topic_name("control", topics)
    seen: list[bytes] = []
    caught_up, stop = threading.Event(), threading.Event()
    reader = threading.Thread(target=follow, args=(topics, topic, lambda m: seen.append(m.key()), caught_up, stop))
    reader.start()
    try:
        assert caught_up.wait(30), "never caught up"
        deadline = time.monotonic() + 10
        while len(assigned) < 2 and time.monotonic() < deadline:  # caught_up is set just before the follower is made
            time.sleep(0.01)
        assert len(assigned) == 2, assigned  # the loader, then the follower
        assert all(o >= 0 or o == OFFSET_BEGINNING for o in assigned), assigned  # never OFFSET_INVALID / OFFSET_STORED
        producer = make_producer(topics)
        producer.produce(topic, key=b"after", value=b"v", partition=0)
        assert producer.flush(10) == 0
        deadline = time.monotonic() + 20
        while not seen and time.monotonic() < deadline:
            time.sleep(0.02)
        assert seen == [b"after"]
    finally:
        stop.set()
        reader.join(10)


@pytest.mark.parametrize(("position", "start", "expected"), [(17, 3, 17), (OFFSET_INVALID, 0, 0), (OFFSET_INVALID, 42, 42),
                                                             (OFFSET_INVALID, OFFSET_BEGINNING, OFFSET_BEGINNING)])
def test_resume_offset(position: int, start: int, expected: int) -> None:
    assert resume_offset(position, start) == expected
