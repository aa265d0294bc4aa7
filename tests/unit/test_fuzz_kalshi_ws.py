"""Fuzz: Kalshi WS frames (venues/kalshi/parse.py) through the feed (producers/kalshi_feed.py).

Documented: parse_frame raises ParseError and nothing else; whatever it accepts, the books and every Tick the feed
hands to the writer fit the Tick schema (codec.encode never raises: a tick that did not encode ended the writer).
Short by default; ARB_FUZZ_SECONDS=60 for a one-minute run (tests/unit/test_fuzz_support.py).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from hypothesis import strategies as st

from core import codec
from core.units import format_price, format_size
from producers.handoff import Handoff
from producers.kalshi_feed import KalshiFeed
from tests.unit.test_fuzz_support import fuzz
from venues.kalshi.parse import KNOWN_OTHER_TYPES, ParseError, parse_frame

TICKERS = ["T1", "T2"]

# Numbers as the venue might (mis)send them: near and past every bound, and the strings int() chokes on.
INTS = st.one_of(st.integers(-3, 60), st.integers(), st.integers(2**62, 2**64), st.integers(-(2**64), -(2**62)),
                 st.integers(10**15, 10**30), st.sampled_from([2**63 - 1, 2**63, -(2**63), 9_223_372_036_854_775, 10**17]))
NUMERIC_TEXT = st.one_of(
    st.from_regex(r"-?[0-9]{0,25}(\.[0-9]{0,8})?", fullmatch=True),
    st.text(alphabet="0123456789.-+eE \u00b2\u0661\uff11", max_size=30),
    st.integers(4_290, 4_400).map(lambda n: "9" * n),
    st.integers(4_290, 4_400).map(lambda n: "0." + "0" * n),
    INTS.map(str),
    st.integers(0, 10**16).map(format_size),
    st.integers(-(10**16), 10**16).map(lambda v: format_size(v)),
)
SCALARS = st.one_of(st.none(), st.booleans(), INTS, st.floats(), st.text(max_size=12), NUMERIC_TEXT)
ANY_JSON = st.recursive(SCALARS, lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=6), c, max_size=3),
                        max_leaves=12)


def often(good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly a plausible value, sometimes anything."""
    return st.one_of(good, good, good, ANY_JSON)


PRICE = st.one_of(st.integers(1, 9_999).map(format_price), st.integers(-5, 10_005).map(format_price), NUMERIC_TEXT)
SIZE = st.one_of(st.integers(0, 10**6).map(format_size), st.integers(0, 10**16).map(format_size), NUMERIC_TEXT)
DELTA = st.one_of(st.integers(-(10**6), 10**6).map(format_size), st.integers(-(10**16), 10**16).map(format_size), NUMERIC_TEXT)
LEVELS = st.lists(st.tuples(often(PRICE), often(SIZE)).map(list), max_size=6)
SID = often(st.integers(1, 2))
SEQ = often(st.integers(1, 12))
TICKER = often(st.sampled_from(TICKERS))

SNAPSHOT = st.fixed_dictionaries({"type": st.just("orderbook_snapshot"), "sid": SID, "seq": SEQ, "msg": often(st.fixed_dictionaries(
    {"market_ticker": TICKER, "yes_dollars_fp": often(LEVELS), "no_dollars_fp": often(LEVELS)}))})
DELTA_MSG = st.fixed_dictionaries({"type": st.just("orderbook_delta"), "sid": SID, "seq": SEQ, "msg": often(st.fixed_dictionaries(
    {"market_ticker": TICKER, "price_dollars": often(PRICE), "delta_fp": often(DELTA), "side": often(st.sampled_from(["yes", "no"]))},
    optional={"ts_ms": often(INTS), "client_order_id": ANY_JSON}))})
REPLIES = st.fixed_dictionaries(
    {"type": st.sampled_from(["subscribed", "ok", "unsubscribed", "error", "brand_new", *sorted(KNOWN_OTHER_TYPES)])},
    optional={"id": often(st.integers(0, 5)), "sid": SID, "seq": SEQ, "msg": often(st.fixed_dictionaries(
        {}, optional={"channel": often(st.just("orderbook_delta")), "sid": SID, "code": often(st.integers(1, 20)),
                      "msg": ANY_JSON, "market_tickers": often(st.lists(st.sampled_from(TICKERS)))}))})
MESSAGE = st.one_of(SNAPSHOT, SNAPSHOT, DELTA_MSG, DELTA_MSG, DELTA_MSG, REPLIES, ANY_JSON)


@st.composite
def frames(draw: st.DrawFn) -> str | bytes:
    obj = draw(MESSAGE)
    text = json.dumps(obj, ensure_ascii=draw(st.booleans()))  # NaN / Infinity tokens included: json.loads takes them
    how = draw(st.integers(0, 9))
    if how == 0:  # a broken frame
        cut = draw(st.integers(0, len(text)))
        return text[:cut] + draw(st.text(max_size=4)) + text[cut + draw(st.integers(0, 3)):]
    if how == 1:  # deep nesting
        depth = draw(st.sampled_from([10, 500, 990, 1_100, 50_000]))
        return '{"type": "ok", "x": ' + "[" * depth + "]" * depth + "}"
    if how == 2:
        return draw(st.binary(max_size=40))
    if how == 3:
        return text.encode("utf-8")
    return text


def _feed() -> tuple[KalshiFeed, Handoff[dict[str, Any]]]:
    handoff: Handoff[dict[str, Any]] = Handoff()
    feed = KalshiFeed(url="ws://unused", key_id="", private_key=None, markets={t: "nfl-20261129-buf-kc" for t in TICKERS}, handoff=handoff)
    return feed, handoff


def test_fuzz_parse_frame_raises_only_parse_error() -> None:
    def prop(raw: str | bytes) -> None:
        try:
            parse_frame(raw)
        except ParseError:
            pass

    fuzz(prop, frames(), examples=400, name="kalshi parse_frame")


def test_fuzz_feed_ticks_always_encode() -> None:
    loop = asyncio.new_event_loop()

    def prop(batch: list[str | bytes]) -> None:
        feed, handoff = _feed()

        async def run() -> None:
            for i, raw in enumerate(batch):
                await feed._on_frame(raw, 1_000_000 + i)  # counts and logs what it cannot use; never raises
            feed._emit(feed.books.invalidate_all(), 2_000_000)  # a reconnect's RESYNCING ticks too

        loop.run_until_complete(run())
        while (item := handoff.get_nowait()) is not None:
            tick = item[1]
            assert codec.decode(codec.encode("Tick", tick), "Tick") == tick

    try:
        fuzz(prop, st.lists(frames(), min_size=1, max_size=12), examples=200, name="kalshi feed -> Tick")
    finally:
        loop.close()
