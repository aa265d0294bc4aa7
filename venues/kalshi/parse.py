"""Kalshi WS frames (bytes/str or decoded JSON) -> typed messages. Pure; raises ParseError on bad input.

Every number is bounded here, at parse time, so that nothing the venue sends can make a book or a Tick that
does not fit its Avro schema (a Tick that does not encode stops the feed's writer): sizes and deltas within
MAX_SIZE, prices strictly between 0 and 1 USD, `ts_ms` such that the Tick's `venue_ts` (µs, long) fits int64,
sids/seqs/ids/codes within int64. ParseError is the only exception parse_frame/parse_message raise (deep
nesting, numeric strings too long for int(), undecodable bytes and lone surrogates included).
"""

from __future__ import annotations

import json
from functools import partial

from core.units import parse_size
from venues import wire
from venues.errors import ParseError
from venues.kalshi.messages import Error, KalshiMessage, Level, Ok, OrderbookDelta, OrderbookSnapshot, Other, Side, Subscribed, Unsubscribed
from venues.wire import INT64_MAX, INT64_MIN, MAX_TS_MS, show

# Types that are valid but carry nothing for the book.
KNOWN_OTHER_TYPES = frozenset({
    "ticker", "trade", "fill", "market_positions", "market_lifecycle_v2", "multivariate_market_lifecycle",
    "communications", "order_group_updates", "user_order", "user_orders", "event_fee_update", "list_subscriptions",
    "cfbenchmarks_value", "pyth_value", "event_lifecycle",
})

# A size or delta is in 1e-2 contracts: 1e13 = 100 billion contracts, far above any book, and price (<= 1e4) x
# size (<= 1e13) = 1e17 money units, so sums over many levels still fit int64.
MAX_SIZE = 10**13
SIDES: dict[str, Side] = {"yes": "yes", "no": "no"}
_parse_delta = partial(parse_size, signed=True)


def parse_frame(data: str | bytes) -> KalshiMessage:
    try:
        obj = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ParseError(f"malformed JSON: {exc}") from None
    except RecursionError:
        raise ParseError("malformed JSON: nested too deeply") from None
    return parse_message(obj)


def _bounded(key: str, v: int, lo: int, hi: int) -> int:
    if not lo <= v <= hi:
        raise ParseError(f"{key} out of range [{lo}, {hi}]: {show(v)}")
    return v


def _int(obj: dict[str, object], key: str, *, required: bool = True, lo: int = INT64_MIN, hi: int = INT64_MAX) -> int | None:
    v = obj.get(key)
    if v is None:
        if required:
            raise ParseError(f"missing {key}")
        return None
    if isinstance(v, bool) or not isinstance(v, int):
        raise ParseError(f"{key} is not an integer: {show(v)}")
    return _bounded(key, v, lo, hi)


def _req_int(obj: dict[str, object], key: str, *, lo: int = 0, hi: int = INT64_MAX) -> int:
    v = obj.get(key)
    if isinstance(v, bool) or not isinstance(v, int):
        raise ParseError(f"missing or non-integer {key}: {show(v)}")
    return _bounded(key, v, lo, hi)


def _opt_seq(obj: dict[str, object], key: str) -> int | None:
    return _int(obj, key, required=False, lo=0)


def _opt_str(obj: dict[str, object], key: str) -> str | None:
    """An optional string; None when absent, not a string or not valid unicode."""
    v = obj.get(key)
    if not isinstance(v, str):
        return None
    try:
        return wire.valid_text(v, key)
    except ParseError:
        return None


def _size(v: object, key: str, *, signed: bool = False) -> int:
    """A size (or, signed, a delta) within MAX_SIZE, in 1e-2 contracts."""
    return wire.size(v, key, _parse_delta if signed else parse_size, MAX_SIZE)


def _level(lvl: object, key: str) -> Level | None:
    """A `[price, size]` pair."""
    return (wire.price(lvl[0], key), _size(lvl[1], key)) if isinstance(lvl, list) and len(lvl) == 2 else None


def _levels(raw: object, key: str) -> tuple[Level, ...]:
    return wire.levels(raw, key, lambda lvl: _level(lvl, key))  # an empty side is omitted (None)


def parse_message(obj: object) -> KalshiMessage:
    """One decoded JSON message -> typed message."""
    obj, typ = wire.typed(obj, "message", "type")
    msg = obj.get("msg")
    if msg is not None and not isinstance(msg, dict):
        raise ParseError("msg is not an object")
    body: dict[str, object] = msg or {}
    if typ == "orderbook_snapshot":
        return OrderbookSnapshot(sid=_req_int(obj, "sid"), seq=_req_int(obj, "seq"), market_ticker=wire.text(body, "market_ticker"),
                                 market_id=_opt_str(body, "market_id"),
                                 yes=_levels(body.get("yes_dollars_fp"), "yes_dollars_fp"),
                                 no=_levels(body.get("no_dollars_fp"), "no_dollars_fp"))
    if typ == "orderbook_delta":
        price = wire.price(wire.text(body, "price_dollars"), "price_dollars")
        delta = _size(wire.text(body, "delta_fp"), "delta_fp", signed=True)
        return OrderbookDelta(sid=_req_int(obj, "sid"), seq=_req_int(obj, "seq"), market_ticker=wire.text(body, "market_ticker"),
                              price=price, delta=delta, side=wire.one_of(body.get("side"), SIDES, "side"),
                              ts_ms=_int(body, "ts_ms", required=False, lo=0, hi=MAX_TS_MS),
                              client_order_id=_opt_str(body, "client_order_id"))
    if typ == "subscribed":
        return Subscribed(id=_int(obj, "id", required=False) or 0, channel=wire.text(body, "channel"), sid=_req_int(body, "sid"))
    if typ == "ok":
        tickers = body.get("market_tickers") or ()
        if not isinstance(tickers, (list, tuple)) or not all(isinstance(t, str) for t in tickers):
            raise ParseError("ok: market_tickers is not a list of strings")
        return Ok(id=_int(obj, "id", required=False) or 0, sid=_opt_seq(obj, "sid"),
                  seq=_opt_seq(obj, "seq"), market_tickers=tuple(tickers))
    if typ == "unsubscribed":
        return Unsubscribed(id=_int(obj, "id", required=False) or 0, sid=_req_int(obj, "sid"), seq=_opt_seq(obj, "seq"))
    if typ == "error":
        return Error(id=_int(obj, "id", required=False), sid=_opt_seq(obj, "sid") or _opt_seq(body, "sid"),
                     code=_req_int(body, "code", lo=INT64_MIN), msg=_opt_str(body, "msg") or "")
    return Other(type=typ, sid=_opt_seq(obj, "sid"), seq=_opt_seq(obj, "seq"), known=typ in KNOWN_OTHER_TYPES)
