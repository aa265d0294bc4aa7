"""Replaying recorded records: re-publishing into an isolated topic prefix, or offline detection + diff."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any, TypeVar

from core import codec
from core.kafka import make_producer
from core.settings import KafkaSettings
from core.topics import logical_name, topic_name
from processors.detector import detect_all
from processors.settings import DetectorSettings
from schemas.records import AvroRecord, MarketPairing, Signal, Tick

R = TypeVar("R", bound=AvroRecord)


def ordered(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records in replay order: by timestamp, then partition and offset (each partition stays in order)."""
    return sorted(records, key=lambda r: (r["timestamp_ms"], r["partition"], r["offset"]))


def republish(records: list[dict[str, Any]], source: KafkaSettings, prefix: str, speed: float | None) -> int:
    """Write the records to the same logical topics under `prefix` (which must exist: only `arb topics create` creates topics); speed None = max."""
    target = replace(source, topic_prefix=prefix)
    if prefix == source.topic_prefix:
        raise ValueError("--into needs a prefix other than the source's: replay never writes to the production topics")
    producer = make_producer(target)
    t0_wall = time.monotonic()
    t0_rec = records[0]["timestamp_ms"] if records else 0
    n = 0
    for r in records:
        logical = logical_name(r["topic"], source) or r["topic"]
        if speed:
            due = t0_wall + (r["timestamp_ms"] - t0_rec) / 1000 / speed
            while (wait := due - time.monotonic()) > 0:
                producer.poll(min(wait, 0.05))
        producer.produce(topic_name(logical, target), key=r["key"], value=r["value"])
        producer.poll(0)
        n += 1
    producer.flush(30)
    return n


def decode_all(records: Iterable[dict[str, Any]], cls: type[R]) -> tuple[list[R], int]:
    """The values of recorded rows decoded into records of class `cls` (tombstones skipped), and how many
    could not be decoded."""
    out: list[R] = []
    bad = 0
    for r in records:
        if r["value"] is None:
            continue
        try:
            out.append(codec.decode_record(r["value"], cls))
        except codec.DecodeError:
            bad += 1
    return out, bad


def detect(ticks: list[Tick], pairings: Mapping[str, MarketPairing], settings: DetectorSettings) -> list[Signal]:
    return detect_all(ticks, pairings, settings)


def _terms(s: Signal) -> tuple[int, int, int, int]:
    return s.size, s.cost, s.edge, s.deadline_ts


def diff(replayed: list[Signal], recorded: list[Signal]) -> dict[str, Any]:
    """Signals that appear only in the replay, vanish from it, or exist in both with other terms."""
    a = {s.signal_id: s for s in replayed}
    b = {s.signal_id: s for s in recorded}
    changed = [sid for sid in a.keys() & b.keys() if _terms(a[sid]) != _terms(b[sid])]

    def brief(s: Signal) -> dict[str, Any]:
        return {"signal_id": s.signal_id, "game_id": s.game_id, "size": s.size, "edge": s.edge,
                "legs": [f"{leg.venue}:{leg.market}:{leg.side}@{leg.limit_price}" for leg in s.legs]}

    return {"same": len(a.keys() & b.keys()) - len(changed), "appear": [brief(a[s]) for s in sorted(a.keys() - b.keys())],
            "vanish": [brief(b[s]) for s in sorted(b.keys() - a.keys())], "changed": sorted(changed)}
