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
