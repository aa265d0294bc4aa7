"""Kalshi WS frames (bytes/str or decoded JSON) -> typed messages. Pure; raises ParseError on bad input.

Every number is bounded here, at parse time, so that nothing the venue sends can make a book or a Tick that
does not fit its Avro schema (a Tick that does not encode stops the feed's writer): sizes and deltas within
MAX_SIZE, prices strictly between 0 and 1 USD, `ts_ms` such that the Tick's `venue_ts` (µs, long) fits int64,
sids/seqs/ids/codes within int64. ParseError is the only exception parse_frame/parse_message raise (deep
nesting, numeric strings too long for int(), undecodable bytes and lone surrogates included).
"""

from __future__ import annotations

import json
import reprlib
from typing import Any

from core.units import ONE_DOLLAR, UnitError, parse_price, parse_size
from venues.kalshi.messages import (
    Error,
    KalshiMessage,
    Level,
    Ok,
    OrderbookDelta,
    OrderbookSnapshot,
    Other,
    Side,
    Subscribed,
    Unsubscribed,
)

# Types that are valid but carry nothing for the book.
KNOWN_OTHER_TYPES = frozenset({
    "ticker", "trade", "fill", "market_positions", "market_lifecycle_v2", "multivariate_market_lifecycle",
    "communications", "order_group_updates", "user_order", "user_orders", "event_fee_update", "list_subscriptions",
    "cfbenchmarks_value", "pyth_value", "event_lifecycle",
})


INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
# Bounds (see the module doc). A size or delta is in 1e-2 contracts: 1e13 = 100 billion contracts, far above any
# book, and price (<= 1e4) x size (<= 1e13) = 1e17 money units, so sums over many levels still fit int64.
MAX_SIZE = 10**13
MAX_TS_MS = INT64_MAX // 1000  # Tick.venue_ts = ts_ms * 1000 µs is a long
MAX_NUMBER_CHARS = 40  # a decimal string longer than this is no price or size (and int() refuses > 4,300 digits)

_repr = reprlib.Repr()
_repr.maxlevel, _repr.maxstring, _repr.maxother = 3, 60, 60


def _show(v: Any) -> str:
    """A short repr for error messages: bounded in size and depth whatever the frame holds."""
    try:
        return _repr.repr(v)
    except Exception:  # RecursionError, ValueError (a >4,300-digit int), …
        return f"<{type(v).__name__}>"


class ParseError(ValueError):
    """A frame that is not a valid Kalshi message; the feed counts and logs it with the frame."""


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
        raise ParseError(f"{key} out of range [{lo}, {hi}]: {_show(v)}")
    return v


def _int(obj: dict[str, Any], key: str, *, required: bool = True, lo: int = INT64_MIN, hi: int = INT64_MAX) -> int | None:
    v = obj.get(key)
    if v is None:
        if required:
            raise ParseError(f"missing {key}")
        return None
    if isinstance(v, bool) or not isinstance(v, int):
        raise ParseError(f"{key} is not an integer: {_show(v)}")
    return _bounded(key, v, lo, hi)


def _req_int(obj: dict[str, Any], key: str, *, lo: int = 0, hi: int = INT64_MAX) -> int:
    v = obj.get(key)
    if isinstance(v, bool) or not isinstance(v, int):
        raise ParseError(f"missing or non-integer {key}: {_show(v)}")
    return _bounded(key, v, lo, hi)


def _opt_seq(obj: dict[str, Any], key: str) -> int | None:
    return _int(obj, key, required=False, lo=0)


def _str(obj: dict[str, Any], key: str) -> str:
    v = obj.get(key)
    if not isinstance(v, str) or not v:
        raise ParseError(f"missing or non-string {key}: {_show(v)}")
    try:
        v.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate ("\ud800" in JSON): no Avro string can carry it
        raise ParseError(f"{key} is not valid unicode: {_show(v)}") from None
    return v


def _opt_str(obj: dict[str, Any], key: str) -> str | None:
    v = obj.get(key)
    if not isinstance(v, str):
        return None
    try:
        v.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return v


def _price(v: Any, key: str) -> int:
    """A price strictly between 0 and 1 USD, in 1e-4 USD."""
    if isinstance(v, str) and len(v) > MAX_NUMBER_CHARS:
        raise ParseError(f"{key}: not a price: {_show(v)}")
    try:
        price = parse_price(v)
    except (UnitError, ValueError) as exc:
        raise ParseError(f"{key}: {exc}") from None
    if not 0 < price < ONE_DOLLAR:
        raise ParseError(f"{key}: price out of range {_show(v)}")
    return price


def _size(v: Any, key: str, *, signed: bool = False) -> int:
    """A size (or, signed, a delta) within MAX_SIZE, in 1e-2 contracts."""
    if isinstance(v, str) and len(v) > MAX_NUMBER_CHARS:
        raise ParseError(f"{key}: not a size: {_show(v)}")
    try:
        size = parse_size(v, signed=signed)
    except (UnitError, ValueError) as exc:
        raise ParseError(f"{key}: {exc}") from None
    if abs(size) > MAX_SIZE:
        raise ParseError(f"{key}: size out of range {_show(v)}")
    return size


def _levels(raw: Any, key: str) -> tuple[Level, ...]:
    if raw is None:  # an empty side is omitted
        return ()
    if not isinstance(raw, list):
        raise ParseError(f"{key} is not a list")
    out: list[Level] = []
    for lvl in raw:
        if not isinstance(lvl, list) or len(lvl) != 2:
            raise ParseError(f"{key}: bad level {_show(lvl)}")
        out.append((_price(lvl[0], key), _size(lvl[1], key)))
    return tuple(out)


def _side(v: Any) -> Side:
    if v == "yes":
        return "yes"
    if v == "no":
        return "no"
    raise ParseError(f"bad side {_show(v)}")


def parse_message(obj: Any) -> KalshiMessage:
    """One decoded JSON message -> typed message."""
    if not isinstance(obj, dict):
        raise ParseError(f"message is not an object: {type(obj).__name__}")
    typ = obj.get("type")
    if not isinstance(typ, str):
        raise ParseError("missing type")
    msg = obj.get("msg")
    if msg is not None and not isinstance(msg, dict):
        raise ParseError("msg is not an object")
    body: dict[str, Any] = msg or {}
    if typ == "orderbook_snapshot":
        return OrderbookSnapshot(sid=_req_int(obj, "sid"), seq=_req_int(obj, "seq"), market_ticker=_str(body, "market_ticker"),
                                 market_id=_opt_str(body, "market_id"),
                                 yes=_levels(body.get("yes_dollars_fp"), "yes_dollars_fp"),
                                 no=_levels(body.get("no_dollars_fp"), "no_dollars_fp"))
    if typ == "orderbook_delta":
        price = _price(_str(body, "price_dollars"), "price_dollars")
        delta = _size(_str(body, "delta_fp"), "delta_fp", signed=True)
        return OrderbookDelta(sid=_req_int(obj, "sid"), seq=_req_int(obj, "seq"), market_ticker=_str(body, "market_ticker"),
                              price=price, delta=delta, side=_side(body.get("side")),
                              ts_ms=_int(body, "ts_ms", required=False, lo=0, hi=MAX_TS_MS),
                              client_order_id=_opt_str(body, "client_order_id"))
    if typ == "subscribed":
        return Subscribed(id=_int(obj, "id", required=False) or 0, channel=_str(body, "channel"), sid=_req_int(body, "sid"))
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
