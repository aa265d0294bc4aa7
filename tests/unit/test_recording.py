"""Recording files and replay helpers (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core import codec
from recording import container, replay
from recording.exceptions import RecordingError
from recording.window import parse_time
from schemas.records import Leg, Signal, Tick


def test_container_round_trip_keeps_bytes_and_metadata(tmp_path: Path) -> None:
    rows = [{"topic": "arb.ticks", "partition": 3, "offset": 7, "timestamp_ms": 1_795_000_000_000, "key": b"g1", "value": b"\xc3\x01abc", "type": "Tick"},
            {"topic": "arb.markets", "partition": 0, "offset": 1, "timestamp_ms": 1, "key": b"g1", "value": None, "type": "MarketPairing"}]
    f = tmp_path / "r.avro"
    assert container.write(f, rows) == 2
    assert list(container.read(f)) == rows
    with pytest.raises(RecordingError):
        list(container.read(tmp_path / "missing.avro"))
    bad = tmp_path / "bad.avro"
    bad.write_bytes(b"not avro")
    with pytest.raises(RecordingError):
        list(container.read(bad))


def test_replay_order_is_by_timestamp_then_partition_offset() -> None:
    rows = [{"timestamp_ms": 5, "partition": 1, "offset": 9}, {"timestamp_ms": 3, "partition": 2, "offset": 4}, {"timestamp_ms": 5, "partition": 0, "offset": 2}]
    assert [(r["timestamp_ms"], r["partition"]) for r in replay.ordered(rows)] == [(3, 2), (5, 0), (5, 1)]


def test_parse_time() -> None:
    assert parse_time("1795000000000") == 1_795_000_000_000
    assert parse_time("2026-11-25T00:00:00Z") == parse_time("2026-11-25 00:00:00") == 1_795_564_800_000
    with pytest.raises(ValueError):
        parse_time("yesterday")


def _signal(sid: str, size: int = 100, *, cost: int = 1, edge: int = 1, deadline_ts: int = 1, detected_ts: int = 0) -> Signal:
    leg = Leg(venue="KALSHI", market="M", book="M", side="YES", limit_price=5000, size=size, expected_fee=0, pays_on=["a"])
    return Signal(signal_id=sid, game_id="g", legs=[leg], size=size, cost=cost, edge=edge, event_ts=0, deadline_ts=deadline_ts,
                  input_tick_ids=["t"], input_received_ts=[0], detected_ts=detected_ts)


def test_diff_lists_appear_vanish_changed() -> None:
    sig = _signal
    d = replay.diff([sig("a"), sig("b"), sig("c", 200)], [sig("b"), sig("c"), sig("d")])
    assert [x["signal_id"] for x in d["appear"]] == ["a"] and [x["signal_id"] for x in d["vanish"]] == ["d"]
    assert d["appear"][0] == {"signal_id": "a", "game_id": "g", "size": 100, "edge": 1, "legs": ["KALSHI:M:YES@5000"]}
    assert d["changed"] == ["c"] and d["same"] == 1


@pytest.mark.parametrize("other", [{"cost": 2}, {"edge": 2}, {"deadline_ts": 2}])
def test_diff_compares_size_cost_edge_and_deadline_only(other: dict[str, int]) -> None:
    assert replay.diff([_signal("a", **other)], [_signal("a")])["changed"] == ["a"]
    assert replay.diff([_signal("a", detected_ts=5)], [_signal("a")]) == {"same": 1, "appear": [], "vanish": [], "changed": []}


def test_decode_all_reads_records_and_counts_the_undecodable() -> None:
    rows: list[dict[str, bytes | None]] = [{"value": codec.encode_record(_signal("a"))}, {"value": None}, {"value": b"garbage"}, {"value": codec.encode_record(_signal("b"))}]
    signals, bad = replay.decode_all(rows, Signal)
    assert signals == [_signal("a"), _signal("b")] and bad == 1
    assert replay.decode_all(rows[:1], Tick) == ([], 1)  # another type's bytes are not a Tick
