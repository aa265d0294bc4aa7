"""Fuzz: override files (producers/discovery/overrides.py).

Documented: parse and load return Overrides or raise OverrideError, nothing else; what they accept is text only,
and every forced pair's dates agree. Short by default; ARB_FUZZ_SECONDS=60 for a one-minute run.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

from producers.discovery.exceptions import OverrideError
from producers.discovery.overrides import Overrides, kalshi_event_date, load, parse, slug_date
from tests.unit.test_fuzz_support import fuzz

KALSHI = st.sampled_from(["KXNFLGAME-26NOV29BUFKC", "KXNBAGAME-26NOV30BOSLAL", "KXNFLGAME-26FEB30XX", "X", "KXMLB-26JUL041905NYYBOS"])
POLY = st.sampled_from(["nfl-buf-kc-2026-11-29", "nba-bos-lal-2026-11-30", "nfl-buf-kc-2026-13-01", "123456", "slug"])
YAML_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=12), st.dates(), st.binary(max_size=4),
                         KALSHI, POLY)
ANY = st.recursive(YAML_SCALARS, lambda c: st.lists(c, max_size=3) | st.dictionaries(st.one_of(st.text(max_size=8), st.integers()), c, max_size=3),
                   max_leaves=10)
KEYS = st.sampled_from(["kalshi_event", "polymarket_event", "game_id", "note"])


def often(good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(good, good, good, ANY)


ENTRY = st.dictionaries(KEYS, often(st.one_of(KALSHI, POLY, st.text(max_size=20))), max_size=3)
DOC = st.one_of(st.fixed_dictionaries({}, optional={"force": often(st.lists(often(ENTRY), max_size=4)),
                                                    "block": often(st.lists(often(ENTRY), max_size=4))}), ANY)


def _check(o: Overrides) -> None:
    for kalshi, poly in o.force:
        assert isinstance(kalshi, str) and isinstance(poly, str) and kalshi and poly
        day = kalshi_event_date(kalshi)
        assert day is not None and slug_date(poly) in (None, day)
    assert all(isinstance(v, str) and v for s in (o.block_games, o.block_kalshi, o.block_polymarket) for v in s)


def test_fuzz_parse_raises_only_override_error() -> None:
    def prop(doc: Any) -> None:
        try:
            _check(parse(doc))
        except OverrideError:
            pass

    fuzz(prop, DOC, examples=500, name="overrides parse")


def _dump(doc: Any) -> str:
    try:
        return yaml.safe_dump(doc, allow_unicode=True)
    except yaml.YAMLError:
        return str(doc)


@st.composite
def files(draw: st.DrawFn) -> bytes:
    text = _dump(draw(DOC))
    how = draw(st.integers(0, 5))
    if how == 0:
        cut = draw(st.integers(0, len(text)))
        text = text[:cut] + draw(st.text(alphabet=":-[]{}&*!|>'\"%@`#\n ", max_size=6)) + text[cut:]
    elif how == 1:
        text = draw(st.sampled_from(["force: 5", "force:\n  - kalshi_event: K\n    polymarket_event: yes", "a: &x [*x]",
                                     "force: " + "[" * 600 + "]" * 600, "date: 2026-13-45", "t: 2026-02-30 25:61:00",
                                     "x: !!python/object:os.system {}", "x: !!binary 'Zm9v'", "x: !!timestamp 'nope'",
                                     "x: 0o99", "x: .inf", "%YAML 9.9\n---\nx: 1", "? [a]\n: b"]))
    elif how == 2:
        return draw(st.binary(max_size=60))
    return text.encode("utf-8")


def test_fuzz_load_raises_only_override_error() -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "overrides.yaml"

        def prop(data: bytes) -> None:
            path.write_bytes(data)
            try:
                _check(load(str(path)))
            except OverrideError:
                pass

        fuzz(prop, files(), examples=400, name="overrides load")


def test_dates_of_the_fuzz_inputs() -> None:
    assert kalshi_event_date("KXNFLGAME-26NOV29BUFKC") == dt.date(2026, 11, 29) and kalshi_event_date("KXNFLGAME-26FEB30XX") is None
    assert slug_date("nfl-buf-kc-2026-11-29") == dt.date(2026, 11, 29) and slug_date("123456") is None
