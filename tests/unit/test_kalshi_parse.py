"""Kalshi WS parsing: recorded fixtures and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from venues.kalshi.messages import Error, Ok, OrderbookDelta, OrderbookSnapshot, Other, Subscribed, Unsubscribed
from venues.kalshi.parse import ParseError, parse_frame, parse_message

FIX = Path(__file__).parents[1] / "resources" / "kalshi"


def test_snapshot_fixture() -> None:
    msg = parse_frame((FIX / "ws_orderbook_snapshot.json").read_bytes())
    assert isinstance(msg, OrderbookSnapshot)
    assert (msg.sid, msg.seq, msg.market_ticker) == (1, 1, "KXBTC-25MAR15-B100000")
    assert msg.yes == ((3500, 20000), (4200, 1300))
    assert msg.no == ((5400, 40000), (5600, 1700))


def test_delta_fixture() -> None:
    msg = parse_frame((FIX / "ws_orderbook_delta.json").read_text())
    assert msg == OrderbookDelta(sid=1, seq=2, market_ticker="KXBTC-25MAR15-B100000", price=4200, delta=5000, side="yes",
                                 ts_ms=None, client_order_id=None)


def test_demo_capture_acks_and_empty_snapshot() -> None:
    lines = (FIX / "ws_demo_capture.jsonl").read_text().splitlines()
    msgs = [parse_frame(line) for line in lines]
    assert msgs[0] == Subscribed(id=1, channel="orderbook_delta", sid=1)
    assert msgs[1] == Subscribed(id=1, channel="trade", sid=2)
    snap = msgs[2]
    assert isinstance(snap, OrderbookSnapshot) and snap.yes == () and snap.no == ()  # empty sides omitted


def test_trade_fixture_is_known_other_with_sid() -> None:
    msg = parse_frame((FIX / "ws_trade.json").read_text())
    assert msg == Other(type="trade", sid=2, seq=1, known=True)


def test_replies() -> None:
    assert parse_message({"id": 123, "sid": 456, "seq": 222, "type": "ok", "msg": {"market_tickers": ["M1", "M2"]}}) == \
        Ok(id=123, sid=456, seq=222, market_tickers=("M1", "M2"))
    assert parse_message({"id": 2, "sid": 4, "seq": 9, "type": "unsubscribed"}) == Unsubscribed(id=2, sid=4, seq=9)
    err = parse_message({"id": 1, "type": "error", "msg": {"code": 2, "msg": "Params required"}})
    assert err == Error(id=1, sid=None, code=2, msg="Params required") and not err.terminal
    term = parse_message({"type": "error", "sid": 3, "msg": {"code": 25, "msg": "buffer overflow"}})
    assert isinstance(term, Error) and term.terminal and term.sid == 3


def test_fractional_and_negative_delta() -> None:
    msg = parse_message({"type": "orderbook_delta", "sid": 2, "seq": 3, "msg": {
        "market_ticker": "T", "price_dollars": "0.960", "delta_fp": "-54.25", "side": "no", "ts_ms": 1669149841000}})
    assert isinstance(msg, OrderbookDelta)
    assert (msg.price, msg.delta, msg.side, msg.ts_ms) == (9600, -5425, "no", 1669149841000)


def test_unknown_type_is_other_unknown() -> None:
    msg = parse_message({"type": "brand_new", "sid": 1, "seq": 5})
    assert msg == Other(type="brand_new", sid=1, seq=5, known=False)


@pytest.mark.parametrize("raw", [
    "{not json",
    b"\xff\xfe",
    "[]",
    '{"msg": {}}',
    '{"type": "orderbook_delta", "sid": 1, "seq": 2, "msg": {"market_ticker": "T", "price_dollars": "abc", "delta_fp": "1", "side": "yes"}}',
    '{"type": "orderbook_delta", "sid": 1, "seq": 2, "msg": {"market_ticker": "T", "price_dollars": "0.5", "delta_fp": "1", "side": "maybe"}}',
    '{"type": "orderbook_delta", "sid": "1", "seq": 2, "msg": {"market_ticker": "T", "price_dollars": "0.5", "delta_fp": "1", "side": "yes"}}',
    '{"type": "orderbook_delta", "sid": 1, "seq": 2, "msg": {"market_ticker": "T", "price_dollars": "0.5", "delta_fp": "1.005", "side": "yes"}}',
    '{"type": "orderbook_snapshot", "sid": 1, "seq": 1, "msg": {"market_ticker": "T", "yes_dollars_fp": [["0.5", "-3"]]}}',
    '{"type": "orderbook_snapshot", "sid": 1, "seq": 1, "msg": {"market_ticker": "T", "yes_dollars_fp": [["1.5", "3"]]}}',
    '{"type": "orderbook_snapshot", "sid": 1, "seq": 1, "msg": {"market_ticker": "T", "no_dollars_fp": "x"}}',
    '{"type": "orderbook_snapshot", "sid": 1, "seq": 1, "msg": {"yes_dollars_fp": []}}',
    '{"type": "orderbook_snapshot", "sid": 1, "seq": 1, "msg": [1]}',
])
def test_bad_input_raises_parse_error(raw: str | bytes) -> None:
    with pytest.raises(ParseError):
        parse_frame(raw)


def test_parse_error_never_other_exception_on_garbage() -> None:
    for obj in (None, 1, "x", [1, 2], {"type": 5}, {"type": "subscribed", "msg": {"sid": "a"}}, {"type": "error", "msg": {}}):
        with pytest.raises(ParseError):
            parse_message(json.loads(json.dumps(obj)))


# --- issue 27: every numeric field is bounded at parse time; no other exception escapes ------------------------

def _delta(**msg: object) -> str:
    body = {"market_ticker": "T", "price_dollars": "0.5", "delta_fp": "1", "side": "yes", **msg}
    return json.dumps({"type": "orderbook_delta", "sid": 1, "seq": 2, "msg": body})


@pytest.mark.parametrize("raw", [
    _delta(delta_fp=str(10**25)),  # 1e25: its Tick size would not fit Avro's long
    _delta(delta_fp="-" + str(10**25)),
    _delta(ts_ms=10**17),  # x1000 = venue_ts in µs: over int64
    _delta(ts_ms=-1),
    json.dumps({"type": "orderbook_delta", "sid": 2**63, "seq": 2, "msg": {"market_ticker": "T", "price_dollars": "0.5", "delta_fp": "1", "side": "yes"}}),
    json.dumps({"type": "orderbook_delta", "sid": 1, "seq": -1, "msg": {"market_ticker": "T", "price_dollars": "0.5", "delta_fp": "1", "side": "yes"}}),
    json.dumps({"type": "orderbook_snapshot", "sid": 1, "seq": 1, "msg": {"market_ticker": "T", "yes_dollars_fp": [["0.5", str(10**25)]]}}),
    json.dumps({"type": "ok", "id": 10**30}),
    json.dumps({"type": "error", "id": 1, "msg": {"code": 10**30}}),
    _delta(price_dollars="1.00"),  # a level at 0 or 1 USD: nobody rests an order there (and NO 1.00 is a YES ask at 0)
    _delta(price_dollars="0.0000"),
    json.dumps({"type": "orderbook_snapshot", "sid": 1, "seq": 1, "msg": {"market_ticker": "T", "no_dollars_fp": [["1.0", "5"]]}}),
])
def test_out_of_range_numbers_are_parse_errors(raw: str) -> None:
    with pytest.raises(ParseError):
        parse_frame(raw)


@pytest.mark.parametrize("raw", [
    "[" * 100_000 + "]" * 100_000,  # RecursionError inside json
    '{"type": "ok", "x": ' + "[" * 100_000 + "]" * 100_000 + "}",
    _delta(delta_fp="1" * 5000),  # int() refuses more than 4,300 digits (ValueError)
    _delta(price_dollars="0." + "0" * 5000),
    _delta(delta_fp="1." + "0" * 5000),
    _delta(delta_fp="\u00b2"),  # a unicode digit
    json.dumps({"type": "orderbook_snapshot", "sid": 1, "seq": 1, "msg": {"market_ticker": "T", "no_dollars_fp": [["0.5", "9" * 5000]]}}),
    json.dumps({"type": "orderbook_delta", "sid": 1, "seq": 2, "msg": {"market_ticker": "\ud800", "price_dollars": "0.5", "delta_fp": "1", "side": "yes"}}),
])
def test_parser_escapes_are_parse_errors(raw: str) -> None:
    with pytest.raises(ParseError):
        parse_frame(raw)


def test_largest_accepted_values_make_a_tick_that_encodes() -> None:
    """Whatever the parser accepts, the book and the Tick it yields fit the schema (the feed's writer task died on
    one delta of 1e25 before these bounds)."""
    from core import codec
    from core.units import format_price, format_size
    from producers.tick import build_tick
    from venues.kalshi.book import KalshiBooks
    from venues.kalshi.parse import MAX_SIZE, MAX_TS_MS

    books = KalshiBooks(yes_price=True, auto_create=True)
    levels = [[format_price(p), format_size(MAX_SIZE)] for p in range(1, 200)]
    books.apply(parse_frame(json.dumps({"type": "orderbook_snapshot", "sid": 1, "seq": 1,
                                        "msg": {"market_ticker": "T", "yes_dollars_fp": levels, "no_dollars_fp": levels}})))
    books.apply(parse_frame(_delta(ts_ms=MAX_TS_MS, price_dollars="0.0001", delta_fp="-1")))
    book = books.books["T"]
    assert book.synced
    tick = build_tick(venue="KALSHI", market="T", game_id="g", book=book, depth=100, position="1:2", received_ts=1, produced_ts=1)
    assert codec.decode(codec.encode("Tick", tick), "Tick")["venue_ts"] == MAX_TS_MS * 1000


def test_a_level_growing_past_the_bound_re_snapshots() -> None:
    from core.units import format_size
    from venues.kalshi.book import KalshiBooks
    from venues.kalshi.parse import MAX_SIZE

    books = KalshiBooks(yes_price=True, auto_create=True)
    big = format_size(MAX_SIZE)
    books.apply(parse_frame(json.dumps({"type": "orderbook_snapshot", "sid": 1, "seq": 1,
                                        "msg": {"market_ticker": "T", "yes_dollars_fp": [["0.5", big]]}})))
    res = books.apply(parse_frame(_delta(delta_fp=big)))  # the level would hold 2 x MAX_SIZE
    assert res.resync == [1] and books.books["T"].status == "RESYNCING" and res.error
    res = books.apply(parse_frame(json.dumps({"type": "orderbook_snapshot", "sid": 1, "seq": 3,
                                              "msg": {"market_ticker": "T", "yes_dollars_fp": [["0.5", big], ["0.5", big]]}})))
    assert res.resync == [1] and books.books["T"].status == "RESYNCING" and res.error


async def test_feed_drops_an_out_of_range_delta_and_the_next_one_re_snapshots() -> None:
    """End to end in the feed: the bad delta is a parse error, the seq gap it leaves marks the book RESYNCING, and
    every tick handed to the writer encodes."""
    from core import codec
    from producers.handoff import Handoff
    from producers.kalshi_feed import KalshiFeed

    handoff: Handoff = Handoff()
    feed = KalshiFeed(url="ws://unused", key_id="", private_key=None, markets={"T": "g"}, handoff=handoff)
    snap = {"type": "orderbook_snapshot", "sid": 1, "seq": 1, "msg": {"market_ticker": "T", "yes_dollars_fp": [["0.5", "10"]]}}
    assert await feed._on_frame(json.dumps(snap), 1)
    assert await feed._on_frame(_delta(delta_fp=str(10**25)), 2)
    assert feed.metrics.parse_errors == 1
    ok = json.dumps({"type": "orderbook_delta", "sid": 1, "seq": 3,
                     "msg": {"market_ticker": "T", "price_dollars": "0.5", "delta_fp": "1", "side": "yes"}})
    assert await feed._on_frame(ok, 3)
    assert feed.books.books["T"].status == "RESYNCING" and feed.metrics.gaps == 1
    while (item := handoff.get_nowait()) is not None:
        codec.encode("Tick", item[1])
