"""Paper trading's book reader (executor/paper.py LatestTicks) on a real broker: the latest Tick of each market, as the
typed record that was written, read from the end of `ticks` on; a record it cannot decode is skipped."""

from __future__ import annotations

import time

import pytest

from core import codec
from core.kafka import make_producer
from core.settings import KafkaSettings
from core.topics import topic_name
from executor.paper import LatestTicks
from schemas.records import Tick
from tests.factories import tick_record

pytestmark = pytest.mark.integration


def test_latest_ticks_holds_the_newest_tick_record_of_each_market(topics: KafkaSettings) -> None:
    ticks = LatestTicks(topics).start()
    producer = make_producer(topics)
    topic = topic_name("ticks", topics)
    try:
        # The reader starts at the end of `ticks`: write until it has seen one (each write a newer tick), bounded.
        deadline, seq = time.monotonic() + 30, 0
        while ticks.ticks.get("K-BUF") is None:
            assert time.monotonic() < deadline, "LatestTicks saw no tick within 30 s"
            seq += 1
            first = tick_record("K-BUF", bids=[(4_000 + seq, 100)], asks=[(4_200, 300)], seq=seq)
            producer.produce(topic, key=first.game_id, value=codec.encode_record(first))
            assert producer.flush(10) == 0
            wait_until = time.monotonic() + 0.5
            while ticks.ticks.get("K-BUF") is None and time.monotonic() < wait_until:
                time.sleep(0.01)
        producer.produce(topic, key="nfl-20261129-buf-kc", value=b"\xc3\x01not a tick")  # undecodable: skipped
        newer = tick_record("K-BUF", bids=[(4_500, 100)], asks=[(4_600, 300)], seq=seq + 1)
        other = tick_record("TOK-KC", venue="POLYMARKET", asks=[(5_000, 200)], seq=1)
        for rec in (newer, other):
            producer.produce(topic, key=rec.game_id, value=codec.encode_record(rec))
        assert producer.flush(10) == 0
        deadline = time.monotonic() + 30
        while ticks.ticks.get("K-BUF") != newer or ticks.ticks.get("TOK-KC") != other:
            assert time.monotonic() < deadline, f"latest ticks not read within 30 s: {ticks.ticks}"
            time.sleep(0.01)
        assert all(isinstance(t, Tick) for t in ticks.ticks.values())
    finally:
        ticks.stop()
