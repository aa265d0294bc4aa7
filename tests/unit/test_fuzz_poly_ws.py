"""Fuzz: Polymarket market-channel frames (venues/polymarket/parse.py) through the feed (producers/polymarket_feed.py).

Documented: parse_frame never raises (bad events are reported in ParsedFrame.errors) and parse_event raises only
ParseError; whatever is accepted, every Tick the feed hands to the writer fits the Tick schema.
Short by default; ARB_FUZZ_SECONDS=60 for a one-minute run (tests/unit/test_fuzz_support.py).
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

from core import codec
from core.units import format_fixed, format_price, format_size
from producers.handoff import Handoff
from producers.polymarket_feed import PolymarketFeed
from tests.unit.test_fuzz_kalshi_ws import ANY_JSON, INTS, NUMERIC_TEXT, often
from tests.unit.test_fuzz_support import fuzz
from venues.polymarket.parse import ParsedFrame, ParseError, parse_event, parse_frame

ASSETS = ["A1", "A2"]
PRICE = st.one_of(st.integers(0, 10_000).map(format_price), st.sampled_from(["0", "1", "1.0", "0.5", ".5", "0.00001"]), NUMERIC_TEXT)
SIZE = st.one_of(st.integers(0, 10**6).map(format_size), st.integers(0, 10**16).map(format_size), NUMERIC_TEXT,
                 st.integers(0, 10**19).map(lambda v: format_fixed(v, 6)), st.integers(0, 10**9).map(lambda v: format_fixed(v, 7)))
TS = st.one_of(st.integers(0, 2**45).map(str), INTS, INTS.map(str), NUMERIC_TEXT)
ASSET = often(st.sampled_from(ASSETS))
LEVELS = st.lists(st.fixed_dictionaries({"price": often(PRICE), "size": often(SIZE)}), max_size=6)
SIDE = often(st.sampled_from(["BUY", "SELL"]))

BOOK = st.fixed_dictionaries({"event_type": st.just("book"), "asset_id": ASSET, "timestamp": often(TS), "bids": often(LEVELS),
                              "asks": often(LEVELS)}, optional={"market": ANY_JSON, "tick_size": often(PRICE)})
CHANGE = st.fixed_dictionaries({"asset_id": ASSET, "price": often(PRICE), "size": often(SIZE), "side": SIDE},
                               optional={"best_bid": often(PRICE), "best_ask": often(PRICE)})
PRICE_CHANGE = st.fixed_dictionaries({"event_type": st.just("price_change"), "timestamp": often(TS),
                                      "price_changes": often(st.lists(often(CHANGE), max_size=5))}, optional={"market": ANY_JSON})
TICK_SIZE = st.fixed_dictionaries({"event_type": st.just("tick_size_change"), "asset_id": ASSET, "timestamp": often(TS),
                                   "new_tick_size": often(PRICE)}, optional={"old_tick_size": often(PRICE), "market": ANY_JSON})
TRADE = st.fixed_dictionaries({"event_type": st.just("last_trade_price"), "asset_id": ASSET, "timestamp": often(TS),
                               "price": often(PRICE), "size": often(SIZE), "side": SIDE})
OTHER = st.fixed_dictionaries({"event_type": st.one_of(st.sampled_from(["best_bid_ask", "new_market", "x"]), ANY_JSON)})
EVENT = st.one_of(BOOK, BOOK, PRICE_CHANGE, PRICE_CHANGE, PRICE_CHANGE, TICK_SIZE, TRADE, OTHER, ANY_JSON)


@st.composite
def frames(draw: st.DrawFn) -> str | bytes:
    obj: Any = draw(st.one_of(EVENT, st.lists(EVENT, max_size=4)))
    text = json.dumps(obj, ensure_ascii=draw(st.booleans()))
    how = draw(st.integers(0, 11))
    if how == 0:
        cut = draw(st.integers(0, len(text)))
        return text[:cut] + draw(st.text(max_size=4)) + text[cut + draw(st.integers(0, 3)):]
    if how == 1:
        depth = draw(st.sampled_from([10, 500, 990, 1_100, 50_000]))
        return '[{"event_type": "book", "x": ' + "[" * depth + "]" * depth + "}]"
    if how == 2:
        return draw(st.one_of(st.binary(max_size=40), st.sampled_from(["PONG", "NO NEW ASSETS", " PING\n", ""])))
    if how == 3:
        return text.encode("utf-8")
    return text


def test_fuzz_parse_frame_never_raises() -> None:
    def prop(raw: str | bytes) -> None:
        assert isinstance(parse_frame(raw), ParsedFrame)

    fuzz(prop, frames(), examples=400, name="polymarket parse_frame")


def test_fuzz_parse_event_raises_only_parse_error() -> None:
    def prop(obj: Any) -> None:
        try:
            parse_event(obj)
        except ParseError:
            pass

    fuzz(prop, EVENT, examples=400, name="polymarket parse_event")


def test_fuzz_feed_ticks_always_encode() -> None:
    def prop(batch: list[str | bytes]) -> None:
        handoff: Handoff[dict[str, Any]] = Handoff()
        feed = PolymarketFeed(url="ws://unused", markets={a: "nfl-20261129-buf-kc" for a in ASSETS}, handoff=handoff)
        for i, raw in enumerate(batch):
            feed._on_frame(raw, 1_000_000 + i)
        feed._emit(feed.books.mark_stale(), 2_000_000)
        feed._emit(feed.books.invalidate_all(), 2_000_001)
        while (item := handoff.get_nowait()) is not None:
            tick = item[1]
            assert codec.decode(codec.encode("Tick", tick), "Tick") == tick

    fuzz(prop, st.lists(frames(), min_size=1, max_size=12), examples=200, name="polymarket feed -> Tick")
