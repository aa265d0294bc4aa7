"""Polymarket market-channel frames -> typed events. Pure.

A frame is one JSON object or a JSON array of them (the initial dump is batched), or one of the plain
texts `PONG` / `NO NEW ASSETS`, which carry nothing. Each event of an array parses on its own: one bad
event is reported in `ParsedFrame.errors` and the others still apply.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from core.units import UnitError, parse_price, parse_size
from venues.polymarket.messages import (
    BookEvent,
    LastTradePrice,
    Level,
    OtherEvent,
    PolyEvent,
    PriceChange,
    PriceChangeEvent,
    Side,
    TickSizeChange,
)

CONTROL_TEXTS = frozenset({"PONG", "NO NEW ASSETS", "PING"})
KNOWN_OTHER_EVENTS = frozenset({"best_bid_ask", "new_market", "market_resolved"})


class ParseError(ValueError):
    """An event that is not a valid market-channel event."""


@dataclass
class ParsedFrame:
    events: list[PolyEvent] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    control: bool = False  # PONG / NO NEW ASSETS
    readable: bool = True  # False: not JSON at all, so what it carried is unknown


def parse_frame(data: str | bytes) -> ParsedFrame:
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    if text.strip() in CONTROL_TEXTS:
        return ParsedFrame(control=True)
    try:
        obj = json.loads(text)
    except ValueError as exc:
        return ParsedFrame(errors=[f"malformed JSON: {exc}"], readable=False)
    return parse_decoded(obj)


def parse_decoded(obj: Any) -> ParsedFrame:
    """A decoded frame (object or array of objects)."""
    out = ParsedFrame()
    for item in obj if isinstance(obj, list) else [obj]:
        try:
            out.events.append(parse_event(item))
        except ParseError as exc:
            out.errors.append(str(exc))
    return out


def _str(obj: dict[str, Any], key: str) -> str:
    v = obj.get(key)
    if not isinstance(v, str) or not v:
        raise ParseError(f"missing or non-string {key}: {v!r}")
    return v


def _price(v: Any, key: str) -> int:
    try:
        p = parse_price(v)
    except UnitError as exc:
        raise ParseError(f"{key}: {exc}") from None
    if not 0 <= p <= 10_000:
        raise ParseError(f"{key}: price out of range {v!r}")
    return p


def _opt_price(obj: dict[str, Any], key: str) -> int | None:
    v = obj.get(key)
    return None if v is None or v == "" else _price(v, key)


def _size(v: Any, key: str) -> int:
    try:
        return parse_size(v)
    except UnitError as exc:
        raise ParseError(f"{key}: {exc}") from None


def _ts(obj: dict[str, Any]) -> int:
    v = obj.get("timestamp")
    if isinstance(v, str) and v.isdigit():
        return int(v)
    if isinstance(v, int) and not isinstance(v, bool):
        return v
    raise ParseError(f"bad timestamp {v!r}")


def _side(v: Any) -> Side:
    if v == "BUY":
        return "BUY"
    if v == "SELL":
        return "SELL"
    raise ParseError(f"bad side {v!r}")


def _levels(raw: Any, key: str) -> tuple[Level, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ParseError(f"{key} is not a list")
    out: list[Level] = []
    for lvl in raw:
        if not isinstance(lvl, dict):
            raise ParseError(f"{key}: bad level {lvl!r}")
        out.append((_price(lvl.get("price"), key), _size(lvl.get("size"), key)))
    return tuple(out)


def parse_event(obj: Any) -> PolyEvent:
    if not isinstance(obj, dict):
        raise ParseError(f"event is not an object: {type(obj).__name__}")
    typ = obj.get("event_type")
    if not isinstance(typ, str):
        raise ParseError("missing event_type")
    if typ == "book":
        tick = obj.get("tick_size")
        return BookEvent(asset_id=_str(obj, "asset_id"), market=str(obj.get("market") or ""), timestamp_ms=_ts(obj),
                         bids=_levels(obj.get("bids"), "bids"), asks=_levels(obj.get("asks"), "asks"),
                         tick_size=None if tick is None else _price(tick, "tick_size"))
    if typ == "price_change":
        raw = obj.get("price_changes")
        if not isinstance(raw, list):
            raise ParseError("price_change without price_changes[] (old schema?)")
        changes = []
        for e in raw:
            if not isinstance(e, dict):
                raise ParseError(f"price_changes: bad entry {e!r}")
            changes.append(PriceChange(asset_id=_str(e, "asset_id"), price=_price(e.get("price"), "price"),
                                       size=_size(e.get("size"), "size"), side=_side(e.get("side")),
                                       best_bid=_opt_price(e, "best_bid"), best_ask=_opt_price(e, "best_ask")))
        return PriceChangeEvent(market=str(obj.get("market") or ""), timestamp_ms=_ts(obj), changes=tuple(changes))
    if typ == "tick_size_change":
        new = _price(obj.get("new_tick_size"), "new_tick_size")
        if new <= 0:
            raise ParseError("new_tick_size must be positive")
        return TickSizeChange(asset_id=_str(obj, "asset_id"), market=str(obj.get("market") or ""),
                              old_tick_size=_opt_price(obj, "old_tick_size"), new_tick_size=new, timestamp_ms=_ts(obj))
    if typ == "last_trade_price":
        return LastTradePrice(asset_id=_str(obj, "asset_id"), market=str(obj.get("market") or ""),
                              price=_price(obj.get("price"), "price"), size=_size(obj.get("size"), "size"),
                              side=_side(obj.get("side")), timestamp_ms=_ts(obj))
    return OtherEvent(event_type=typ, known=typ in KNOWN_OTHER_EVENTS)
