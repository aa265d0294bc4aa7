"""A benchmark reads the ticks of its measured interval after the run: exactly those, every partition."""

import time

import pytest

from core import codec
from core.kafka import make_producer
from core.partitioning import partition_for
from core.settings import KafkaSettings
from core.topics import topic_name
from demo.collector import Collector

pytestmark = pytest.mark.integration


def _tick(game: str, i: int, produced_ts: int) -> dict:
    return {"tick_id": f"KALSHI:T-{game}:1:{i}", "game_id": game, "venue": "KALSHI", "market": f"T-{game}", "status": "OK",
            "bids": [{"price": 4000, "size": 100}], "asks": [{"price": 6000, "size": 500}], "tick_size": 1,
            "venue_ts": None, "received_ts": produced_ts - 100 - i, "produced_ts": produced_ts}


def _one_game_per_partition(n: int, skip: int | None = None) -> list[str]:
    games: dict[int, str] = {}
    d = 0
    while len(games) < n - (skip is not None):
        d += 1
        game = f"nba-20261206-aaa-b{d:03d}"
        if partition_for(game, n) != skip:
            games.setdefault(partition_for(game, n), game)
    return list(games.values())


def _produce(topics: KafkaSettings, games: list[str], since: int, until: int) -> list[int]:
    """Per game: ticks before the interval, inside it (both ends), after it; the inside ones' tick_produce hops."""
    producer = make_producer(topics)
    inside = []
    for g_i, game in enumerate(games):
        # Before the interval, inside it (its two ends included), then one after it on every partition.
        for i, ts in enumerate([since - 1, since, since + 5_000 * (g_i + 1), until, until + 1]):
            tick = _tick(game, i, ts)
            producer.produce(topic_name("ticks", topics), key=game, value=codec.encode("Tick", tick))
            if since <= ts <= until:
                inside.append(tick["produced_ts"] - tick["received_ts"])
    assert producer.flush(10) == 0
    return inside


def test_fold_ticks_between_takes_the_interval_and_stops_past_its_end(topics: KafkaSettings) -> None:
    since, until = 10_000_000, 20_000_000
    games = _one_game_per_partition(topics.partitions)
    inside = _produce(topics, games, since, until)

    collector = Collector(topics, topics=())  # nothing read live
    folded, complete = collector.fold_ticks_between(since, until, timeout_s=60.0)

    assert complete
    assert folded == len(inside) == 3 * len(games)
    assert collector.stats.ticks == folded
    assert sorted(collector.stats.hops["tick_produce"]) == sorted(inside)


def test_a_partition_without_ticks_past_the_interval_is_done_at_its_end(topics: KafkaSettings) -> None:
    since, until = 10_000_000, 20_000_000
    games = _one_game_per_partition(topics.partitions, skip=0)  # no game in partition 0
    inside = _produce(topics, games, since, until)
    # Partition 0: a tick inside the interval, none after it.
    late = next(g for g in _one_game_per_partition(topics.partitions) if partition_for(g, topics.partitions) == 0)
    producer = make_producer(topics)
    producer.produce(topic_name("ticks", topics), key=late, value=codec.encode("Tick", _tick(late, 0, since + 1)))
    assert producer.flush(10) == 0

    started = time.monotonic()
    folded, complete = Collector(topics, topics=()).fold_ticks_between(since, until, timeout_s=60.0)

    assert complete and folded == len(inside) + 1
    assert time.monotonic() - started < 30  # ended by the partitions' end, not by the timeout
