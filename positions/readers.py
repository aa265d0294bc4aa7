"""Reading `fills`, `settlements` and `markets` to the end and recent marks from `ticks` (what `arb positions` shows).

read_settlements and read_pairings_seen hand out dicts: cli/commands/positions.py indexes them (until it reads
the records of schemas/records.py).
"""

from __future__ import annotations

import time
from typing import Any

from confluent_kafka import TopicPartition

from core import codec
from core.kafka import make_consumer, watermarks
from core.settings import KafkaSettings
from core.topics import partitions, topic_name
from positions.boundary import follow_pairings, read_records
from schemas.records import Fill, MarketPairing, Settlement, Tick, to_dict


def read_fills(kafka: KafkaSettings, *, paper: bool = False) -> tuple[list[Fill], int]:
    """Every Fill on `fills` (all partitions), plus the count of undecodable records."""
    topic = topic_name("fills", kafka, paper=paper)
    fills: list[Fill] = []
    bad = 0
    for p in range(partitions("fills", kafka)):
        recs, b = read_records(kafka, topic, p)
        bad += b
        fills += [r for r in recs if isinstance(r, Fill)]
    return fills, bad


def read_marks(kafka: KafkaSettings, tail: int, timeout_s: float = 5.0) -> dict[tuple[str, str], int]:
    """(venue, market) -> best bid of the latest OK tick, from the last `tail` records of each partition.

    Each partition is read up to its end when the read starts (its high watermark: ticks are not written
    in transactions). Kalshi ticks are YES books: a NO holding is marked at 1 - YES ask by the caller."""
    topic = topic_name("ticks", kafka)
    c = make_consumer(kafka, None)
    out: dict[tuple[str, str], Tick] = {}
    try:
        tps = []
        ends: dict[int, int] = {}
        for p in range(partitions("ticks", kafka)):
            lo, hi = watermarks(c, topic, p, timeout_s=5)
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
                t = codec.decode_record(msg.value() or b"", Tick)
            except codec.DecodeError:
                continue
            out[(t.venue, t.market)] = t
            if (msg.offset() or 0) + 1 >= ends[msg.partition() or 0]:
                done.add(msg.partition() or 0)
    finally:
        c.close()
    marks: dict[tuple[str, str], int] = {}
    for (venue, market), t in out.items():
        if t.status != "OK":
            continue
        if t.bids:
            marks[(venue, market + ":YES")] = t.bids[0].price
        if venue == "KALSHI" and t.asks:
            marks[(venue, market + ":NO")] = 10_000 - t.asks[0].price
    return marks


def mark_for(marks: dict[tuple[str, str], int], venue: str, market: str, side: str) -> int | None:
    return marks.get((venue, f"{market}:{side}"))


def read_settlements(kafka: KafkaSettings) -> tuple[list[dict[str, Any]], int]:
    """Every Settlement on `settlements` (one partition, compacted: the latest per market), as dicts, plus the
    count of undecodable records."""
    recs, bad = read_records(kafka, topic_name("settlements", kafka), 0)
    settlements: list[dict[str, object]] = [to_dict(r) for r in recs if isinstance(r, Settlement)]
    return settlements, bad


def read_pairings_seen(kafka: KafkaSettings, wait_s: float = 10.0) -> tuple[dict[str, dict[str, Any]], set[str]]:
    """Every game's latest pairing on `markets` as a dict, withdrawn games included while the topic still holds
    their last value: a finished game is withdrawn before its markets resolve, and its `pays_on` is what says how
    the venues' resolutions map to the game's outcomes. Also the games withdrawn (ended), among those."""
    from core.markets_cache import MarketsCache

    seen: dict[str, MarketPairing] = {}
    live: set[str] = set()

    def on_change(game_id: str, pairing: MarketPairing | None) -> None:
        if pairing is None:
            live.discard(game_id)
        else:
            seen[game_id] = pairing
            live.add(game_id)

    cache = MarketsCache(kafka)
    follow_pairings(cache, on_change)
    cache.start(wait_s=wait_s)
    cache.stop()
    pairings: dict[str, dict[str, object]] = {g: to_dict(p) for g, p in seen.items()}
    return pairings, set(seen) - live
