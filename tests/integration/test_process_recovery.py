"""A worker whose recovered table state is ahead of its committed offsets (it crashed after writing
state, before committing) consumes those ticks again: it must skip them, not fold an old book in
next to newer ones and signal a combination that never existed."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from confluent_kafka import OFFSET_BEGINNING, Message, TopicPartition
from confluent_kafka.admin import NewTopic

from core import codec
from core.config import load
from core.kafka import make_admin, make_consumer, make_producer
from core.settings import KafkaSettings
from core.topics import topic_name
from processors.detector import detect_all
from processors.settings import DetectorSettings
from schemas.records import MarketPairing, Tick, from_dict
from tests.factories import pairing, tick
from tests.integration.test_process_e2e import stop, worker
from tests.kafka_helpers import read_records

pytestmark = pytest.mark.integration

APP = "proc-recover"
APP2 = "proc-recover-2"
GAME = "nfl-20261129-buf-kc"


def signals_until(s: KafkaSettings, tick_id: str, timeout: float) -> list[dict]:
    """Every Signal from the beginning up to and including the first that uses `tick_id`."""
    c = make_consumer(s, None)
    topic = topic_name("signals", s)
    try:
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(s.partitions)])
        out: list[dict] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = c.poll(0.1)
            if m is None or m.error():
                continue
            sig = codec.decode(m.value() or b"", "Signal")
            out.append(sig)
            if tick_id in sig["input_tick_ids"]:
                return out
        raise AssertionError(f"no signal from {tick_id} within {timeout} s; read {len(out)}")
    finally:
        c.close()


def all_records(s: KafkaSettings, topic: str, idle_s: float = 2.0) -> list[Message]:
    """Every record of `topic`, read until none arrives for `idle_s` (after at least one)."""
    c = make_consumer(s, None)
    try:
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(s.partitions)])
        out: list[Message] = []
        deadline, idle_until = time.monotonic() + 60, time.monotonic() + 60
        while time.monotonic() < min(deadline, idle_until):
            m = c.poll(0.1)
            if m is not None and not m.error():
                out.append(m)
                idle_until = time.monotonic() + idle_s
        assert out, f"no record in {topic}"
        return out
    finally:
        c.close()


@pytest.mark.timeout(400)
def test_ticks_already_in_the_state_are_skipped(topics: KafkaSettings, tmp_path: Path) -> None:
    prod = make_producer(topics)
    prod.produce(topic_name("markets", topics), key=GAME, value=codec.encode("MarketPairing", pairing(GAME)))
    t0 = 1_795_000_000_000_000
    # Signals (t1,t2) and (t3,t4); (t3,t2) is held back as t2's liquidity was just signalled
    # (book-reuse guard). t1 and t4 never coexisted.
    t1 = tick("K-BUF", asks=[(4500, 1000)], ts=t0, seq=1)
    t2 = tick("K-KC", asks=[(5000, 1000)], ts=t0 + 1000, seq=2)
    t3 = tick("K-BUF", asks=[(4500, 2000)], ts=t0 + 2000, seq=3)
    t4 = tick("K-KC", asks=[(5000, 3000)], ts=t0 + 3000, seq=4)
    for t in (t1, t2, t3, t4):
        prod.produce(topic_name("ticks", topics), key=GAME, value=codec.encode("Tick", t))
    assert prod.flush(10) == 0

    first = worker(topics, tmp_path, APP)
    try:
        before = signals_until(topics, t4["tick_id"], 120)
        # The state (offset of t4) reaches the changelog before the offsets are committed.
        read_records(topics, f"{topics.topic_prefix}{APP}-games-changelog", 1, timeout=60)
    finally:
        stop(first)
    assert [s["input_tick_ids"] for s in before] == [[t1["tick_id"], t2["tick_id"]], [t3["tick_id"], t4["tick_id"]]]

    # As if it had crashed before committing: a worker whose table changelog holds that state but whose
    # group has committed nothing. Another app id (its own group), its changelog seeded with the first
    # one's records, partition for partition; it consumes the ticks from the beginning.
    target = f"{topics.topic_prefix}{APP2}-games-changelog"
    admin = make_admin(topics)
    admin.create_topics([NewTopic(target, topics.partitions, 1)])[target].result(30)
    for m in all_records(topics, f"{topics.topic_prefix}{APP}-games-changelog"):
        prod.produce(target, key=m.key(), value=m.value(), partition=m.partition() or 0)
    # A new opportunity for an uninterrupted detector too: another price, and past the book-reuse time
    # (the recovered state carries the detector's memory of the (t3,t4) signal).
    t5 = tick("K-KC", asks=[(4900, 4000)], ts=t0 + 1_500_000, seq=5)
    uninterrupted = detect_all([from_dict(Tick, t) for t in (t1, t2, t3, t4, t5)], {GAME: from_dict(MarketPairing, pairing(GAME))},
                               load(DetectorSettings))
    prod.produce(topic_name("ticks", topics), key=GAME, value=codec.encode("Tick", t5))
    assert prod.flush(10) == 0

    second = worker(topics, tmp_path, APP2)
    try:
        after = signals_until(topics, t5["tick_id"], 60)[len(before):]
    finally:
        stop(second)
    # t1..t4 were consumed again before t5 (one partition, in order) and skipped: the next signal is
    # t5's, paired with the newest BUF book (t3), and nothing pairs t1 with t4.
    assert [s["input_tick_ids"] for s in after] == [[t3["tick_id"], t5["tick_id"]]]
    assert [s["signal_id"] for s in before + after] == [s.signal_id for s in uninterrupted]
