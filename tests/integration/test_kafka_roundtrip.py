"""Keyed ticks land in the partition of their game and come back decoded through a consumer group."""

import time

import pytest

from core import codec
from core.kafka import make_consumer, make_producer
from core.partitioning import partition_for
from core.settings import KafkaSettings
from core.topics import topic_name

pytestmark = pytest.mark.integration

GAMES = [f"nfl-202611{d:02d}-aaa-b{d:02d}" for d in range(1, 9)]


def _tick(game: str, i: int) -> dict:
    return {"tick_id": f"KALSHI:T-{game}:1:{i}", "game_id": game, "venue": "KALSHI", "market": f"T-{game}", "status": "OK",
            "bids": [{"price": 4000 + i, "size": 100 * i}], "asks": [{"price": 6000, "size": 500}], "tick_size": 1,
            "venue_ts": None, "received_ts": 1_000 + i, "produced_ts": 2_000 + i}


def test_keyed_ticks_partition_and_group_read(topics: KafkaSettings) -> None:
    topic = topic_name("ticks", topics)
    producer = make_producer(topics)
    sent = [(g, _tick(g, i)) for i in range(1, 6) for g in GAMES]
    landed: dict[str, set[int]] = {}

    def on_delivery(err, msg) -> None:  # type: ignore[no-untyped-def]
        assert err is None, err
        landed.setdefault(msg.key().decode(), set()).add(msg.partition())

    for game, tick in sent:
        producer.produce(topic, key=game, value=codec.encode("Tick", tick), on_delivery=on_delivery)
    assert producer.flush(10) == 0
    # Every record of a game went to one partition: the one Kafka's (Java) partitioner picks for its key.
    assert landed == {g: {partition_for(g, topics.partitions)} for g in GAMES}

    consumer = make_consumer(topics, f"{topics.topic_prefix}grp")
    consumer.subscribe([topic])
    got: list[tuple[str, int, dict]] = []
    deadline = time.monotonic() + 30
    try:
        while len(got) < len(sent) and time.monotonic() < deadline:
            m = consumer.poll(0.2)
            if m is None or m.error():
                continue
            got.append((m.key().decode(), m.partition(), codec.decode(m.value(), "Tick")))
    finally:
        consumer.close()
    assert len(got) == len(sent)
    assert sorted((g, t["tick_id"]) for g, _, t in got) == sorted((g, t["tick_id"]) for g, t in sent)
    # Per game, the consumer sees ticks in production order.
    for game in GAMES:
        seq = [t["received_ts"] for g, _, t in got if g == game]
        assert seq == sorted(seq)
