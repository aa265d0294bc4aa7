"""Kalshi WS frames (bytes/str or decoded JSON) -> typed messages. Pure; raises ParseError on bad input."""

from __future__ import annotations

import json
from typing import Any

from core.units import UnitError, parse_price, parse_size
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


class ParseError(ValueError):
    """A frame that is not a valid Kalshi message; the feed counts and logs it with the frame."""


def parse_frame(data: str | bytes) -> KalshiMessage:
    try:
        obj = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ParseError(f"malformed JSON: {exc}") from None
    return parse_message(obj)


def _int(obj: dict[str, Any], key: str, *, required: bool = True) -> int | None:
    v = obj.get(key)
    if v is None:
        if required:
            raise ParseError(f"missing {key}")
        return None
    if isinstance(v, bool) or not isinstance(v, int):
        raise ParseError(f"{key} is not an integer: {v!r}")
    return v


def _req_int(obj: dict[str, Any], key: str) -> int:
    v = obj.get(key)
    if isinstance(v, bool) or not isinstance(v, int):
        raise ParseError(f"missing or non-integer {key}: {v!r}")
    return v


def _str(obj: dict[str, Any], key: str) -> str:
    v = obj.get(key)
    if not isinstance(v, str) or not v:
        raise ParseError(f"missing or non-string {key}: {v!r}")
    return v


def _levels(raw: Any, key: str) -> tuple[Level, ...]:
    if raw is None:  # an empty side is omitted
        return ()
    if not isinstance(raw, list):
        raise ParseError(f"{key} is not a list")
    out: list[Level] = []
    for lvl in raw:
        if not isinstance(lvl, list) or len(lvl) != 2:
            raise ParseError(f"{key}: bad level {lvl!r}")
        try:
            price, size = parse_price(lvl[0]), parse_size(lvl[1])
        except UnitError as exc:
            raise ParseError(f"{key}: {exc}") from None
        if not 0 < price < 10_000:
            raise ParseError(f"{key}: price out of range {lvl[0]!r}")
        out.append((price, size))
    return tuple(out)


def _side(v: Any) -> Side:
    if v == "yes":
        return "yes"
    if v == "no":
        return "no"
    raise ParseError(f"bad side {v!r}")


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
                                 market_id=body.get("market_id") if isinstance(body.get("market_id"), str) else None,
                                 yes=_levels(body.get("yes_dollars_fp"), "yes_dollars_fp"),
                                 no=_levels(body.get("no_dollars_fp"), "no_dollars_fp"))
    if typ == "orderbook_delta":
        try:
            price = parse_price(_str(body, "price_dollars"))
            delta = parse_size(_str(body, "delta_fp"), signed=True)
        except UnitError as exc:
            raise ParseError(str(exc)) from None
        if not 0 < price < 10_000:
            raise ParseError(f"price out of range {body.get('price_dollars')!r}")
        coid = body.get("client_order_id")
        return OrderbookDelta(sid=_req_int(obj, "sid"), seq=_req_int(obj, "seq"), market_ticker=_str(body, "market_ticker"),
                              price=price, delta=delta, side=_side(body.get("side")), ts_ms=_int(body, "ts_ms", required=False),
                              client_order_id=coid if isinstance(coid, str) else None)
    if typ == "subscribed":
        return Subscribed(id=_int(obj, "id", required=False) or 0, channel=_str(body, "channel"), sid=_req_int(body, "sid"))
    if typ == "ok":
        tickers = body.get("market_tickers") or ()
        if not isinstance(tickers, (list, tuple)) or not all(isinstance(t, str) for t in tickers):
            raise ParseError("ok: market_tickers is not a list of strings")
        return Ok(id=_int(obj, "id", required=False) or 0, sid=_int(obj, "sid", required=False),
                  seq=_int(obj, "seq", required=False), market_tickers=tuple(tickers))
    if typ == "unsubscribed":
        return Unsubscribed(id=_int(obj, "id", required=False) or 0, sid=_req_int(obj, "sid"), seq=_int(obj, "seq", required=False))
    if typ == "error":
        detail = body.get("msg")
        return Error(id=_int(obj, "id", required=False), sid=_int(obj, "sid", required=False) or _int(body, "sid", required=False),
                     code=_req_int(body, "code"), msg=detail if isinstance(detail, str) else "")
    return Other(type=typ, sid=_int(obj, "sid", required=False), seq=_int(obj, "seq", required=False), known=typ in KNOWN_OTHER_TYPES)
