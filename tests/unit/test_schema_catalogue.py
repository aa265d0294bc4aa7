"""The schemas are loaded once per process, whichever threads ask first (schemas._loaded).

Loaded twice at once (the processor worker's event loop and its markets reader both decode at start-up),
`latest` and `by_fingerprint` held different objects for one version, and every Tick was then decoded
against a "different" reader schema: resolved by fastavro and parsed again on every call."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

import schemas
from core import codec
from schemas.records import Tick


def test_two_threads_loading_at_once_get_one_set_of_schema_objects(monkeypatch: pytest.MonkeyPatch) -> None:
    real_load = schemas._load
    # Holds each load until a second thread is loading too (or 0.5 s): without the lock both threads load.
    both_loading = threading.Barrier(2, timeout=0.5)

    def load(path: Path) -> schemas.SchemaVersion:
        try:
            both_loading.wait()
        except threading.BrokenBarrierError:
            pass  # the other thread is waiting for this load to finish, as it should
        return real_load(path)

    schemas.reload()
    monkeypatch.setattr(schemas, "_load", load)
    found: dict[str, schemas.SchemaVersion] = {}

    def latest() -> None:
        found["latest"] = schemas.latest("Tick")

    def by_fingerprint() -> None:
        found["by_fingerprint"] = next(v for v in schemas.by_fingerprint().values() if v == schemas.latest("Tick"))

    threads = [threading.Thread(target=latest), threading.Thread(target=by_fingerprint)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert found["latest"] is found["by_fingerprint"]
        assert schemas.by_fingerprint()[found["latest"].fingerprint] is schemas.latest("Tick")
    finally:
        monkeypatch.undo()
        schemas.reload()


def test_decoding_a_tick_parses_its_schema_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[object] = []
    real_parse = codec.parse_schema

    def parse(schema: Any, **kwargs: Any) -> Any:  # fastavro's signature
        calls.append(schema)
        return real_parse(schema, **kwargs)

    monkeypatch.setattr(codec, "_parsed", {})
    monkeypatch.setattr(codec, "parse_schema", parse)
    tick = Tick(tick_id="KALSHI:M:1:1", game_id="g", venue="KALSHI", market="M", status="OK", bids=[], asks=[], tick_size=100,
                venue_ts=None, received_ts=1, produced_ts=1)
    data = codec.encode_record(tick)
    for _ in range(3):
        assert codec.decode_record(data, Tick) == tick
    assert len(calls) == 1  # the Tick schema, for writing and reading alike
