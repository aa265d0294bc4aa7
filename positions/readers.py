"""Reading `fills` to the end and recent marks from `ticks` (the I/O edge of the positions role)."""

from __future__ import annotations

import time
from typing import Any

from confluent_kafka import TopicPartition

from core import codec
from core.kafka import make_consumer
from core.settings import KafkaSettings
from core.topics import partitions, topic_name
from executor.recovery_reader import read_partition


def read_fills(kafka: KafkaSettings, *, paper: bool = False) -> tuple[list[dict[str, Any]], int]:
    """Every Fill on `fills` (all partitions), plus the count of undecodable records."""
    topic = topic_name("fills", kafka, paper=paper)
    fills: list[dict[str, Any]] = []
    bad = 0
    for p in range(partitions("fills", kafka)):
        recs, b = read_partition(kafka, [topic], p)
        bad += b
        fills += [r for t, r in recs if t == "Fill"]
    return fills, bad


def best_bid(tick: dict[str, Any]) -> int | None:
    return tick["bids"][0]["price"] if tick.get("bids") and tick.get("status") == "OK" else None


def read_marks(kafka: KafkaSettings, tail: int, timeout_s: float = 5.0) -> dict[tuple[str, str], int]:
    """(venue, market) -> best bid of the latest OK tick, from the last `tail` records of each partition.

    Each partition is read up to its end when the read starts (its high watermark: ticks are not written
    in transactions). Kalshi ticks are YES books: a NO holding is marked at 1 - YES ask by the caller."""
    topic = topic_name("ticks", kafka)
    c = make_consumer(kafka, None)
    out: dict[tuple[str, str], dict[str, Any]] = {}
    try:
        tps = []
        ends: dict[int, int] = {}
        for p in range(partitions("ticks", kafka)):
            lo, hi = c.get_watermark_offsets(TopicPartition(topic, p), timeout=5)
            if hi > lo:
                tps.append(TopicPartition(topic, p, max(lo, hi - tail)))
                ends[p] = hi
        if not tps:
            return {}
        c.assign(tps)
        deadline = time.monotonic() + timeout_s
        done: set[int] = set()
        while time.monotonic() < deadline and len(done) < len(ends):
            msg = c.poll(0.05)
            if msg is None or msg.error() is not None or msg.value() is None:
                continue
            try:
                t = codec.decode(msg.value() or b"", "Tick")
            except codec.DecodeError:
                continue
            out[(t["venue"], t["market"])] = t
            if (msg.offset() or 0) + 1 >= ends[msg.partition() or 0]:
                done.add(msg.partition() or 0)
    finally:
        c.close()
    marks: dict[tuple[str, str], int] = {}
    for (venue, market), t in out.items():
        if t.get("status") != "OK":
            continue
        if t["bids"]:
            marks[(venue, market + ":YES")] = t["bids"][0]["price"]
        if venue == "KALSHI" and t["asks"]:
            marks[(venue, market + ":NO")] = 10_000 - t["asks"][0]["price"]
    return marks


def mark_for(marks: dict[tuple[str, str], int], venue: str, market: str, side: str) -> int | None:
    return marks.get((venue, f"{market}:{side}"))


def read_settlements(kafka: KafkaSettings) -> tuple[list[dict[str, Any]], int]:
    """Every Settlement on `settlements` (one partition, compacted: the latest per market), plus the count of
    undecodable records."""
    recs, bad = read_partition(kafka, [topic_name("settlements", kafka)], 0)
    return [r for t, r in recs if t == "Settlement"], bad


def read_pairings_seen(kafka: KafkaSettings, wait_s: float = 10.0) -> tuple[dict[str, dict[str, Any]], set[str]]:
    """Every game's latest pairing on `markets`, withdrawn games included while the topic still holds their last
    value: a finished game is withdrawn before its markets resolve, and its `pays_on` is what says how the
    venues' resolutions map to the game's outcomes. Also the games withdrawn (ended), among those."""
    from core.markets_cache import MarketsCache

    seen: dict[str, dict[str, Any]] = {}
    cache = MarketsCache(kafka)
    cache.listeners.append(lambda gid, p: seen.__setitem__(gid, p) if p is not None else None)
    cache.start(wait_s=wait_s)
    cache.stop()
    return seen, set(seen) - set(cache.pairings)
