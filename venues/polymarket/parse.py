"""Polymarket market-channel frames -> typed events. Pure.

A frame is one JSON object or a JSON array of them (the initial dump is batched), or one of the plain
texts `PONG` / `NO NEW ASSETS`, which carry nothing. Each event of an array, and each entry of a
`price_changes[]`, parses on its own: what fails is reported in `ParsedFrame.errors` and the rest still
applies. A failure never passes silently, because there is no seq to reveal what it lost:
- tied to tokens whose ids are readable (a bad entry, a `book` / `tick_size_change` with a bad field), it
  becomes an `Unparsable` event for those tokens: their books go RESYNCING until a fresh `book`;
- otherwise (not JSON, no readable token id, no event type) the frame is not `readable`: any book may be
  affected and all are rebuilt;
- a bad `last_trade_price` changes no book: it is only counted.

Sizes are parsed exactly at the venue's precision, 6 dp (messages.SIZE_DP: 1.464786 shares is a real fill);
a 7th non-zero decimal is a parse error, never rounded. The Tick floors them to 1e-2 (core/units.py).

Every number is bounded here so that nothing the venue sends makes a book or Tick outside its Avro schema:
book levels (bids, asks, price_changes) strictly between 0 and 1 USD, sizes within MAX_SIZE, tick sizes
strictly between 0 and 1 USD, timestamps such that the Tick's `venue_ts` (µs, long) fits int64. Best bid / ask
and trade prices may be 0 or 1 (the venue reports an empty side that way). parse_frame never raises;
parse_event raises ParseError only (deep nesting, numeric strings too long for int(), lone surrogates included).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar

from core.units import ONE_DOLLAR, parse_fixed
from venues import wire
from venues.errors import ParseError
from venues.polymarket.messages import (
    SIZE_DP,
    BookEvent,
    LastTradePrice,
    Level,
    OtherEvent,
    PolyEvent,
    PriceChange,
    PriceChangeEvent,
    Side,
    TickSizeChange,
    Unparsable,
)
from venues.wire import MAX_NUMBER_CHARS, MAX_TS_MS, show

T = TypeVar("T")

CONTROL_TEXTS = frozenset({"PONG", "NO NEW ASSETS", "PING"})
KNOWN_OTHER_EVENTS = frozenset({"best_bid_ask", "new_market", "market_resolved"})

MAX_SIZE = 10**17  # 1e-6 shares (10^11 shares, Kalshi's bound): floored to the Tick's 1e-2 it is 10^13, see venues/kalshi/parse.py
SIDES: dict[str, Side] = {"BUY": "BUY", "SELL": "SELL"}
_parse_shares = partial(parse_fixed, dp=SIZE_DP)


@dataclass
class ParsedFrame:
    events: list[PolyEvent] = field(default_factory=list)  # in wire order, `Unparsable` ones included
    errors: list[str] = field(default_factory=list)  # one per failed event or entry, each bounded in length
    control: bool = False  # PONG / NO NEW ASSETS
    readable: bool = True  # False: not JSON, or a failure with no readable token id: any book may be affected


def parse_frame(data: str | bytes) -> ParsedFrame:
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    if text.strip() in CONTROL_TEXTS:
        return ParsedFrame(control=True)
    try:
        obj = json.loads(text)
    except ValueError as exc:
        return ParsedFrame(errors=[f"malformed JSON: {exc}"], readable=False)
    except RecursionError:
        return ParsedFrame(errors=["malformed JSON: nested too deeply"], readable=False)
    return parse_decoded(obj)


def parse_decoded(obj: object) -> ParsedFrame:
    """A decoded frame (object or array of objects)."""
    out = ParsedFrame()
    for item in obj if isinstance(obj, list) else [obj]:
        try:
            ev = parse_event(item)
        except ParseError as exc:
            out.errors.append(str(exc))
            if exc.assets is None:
                out.readable = False
            elif exc.assets:
                out.events.append(Unparsable(exc.assets, str(exc)))
            continue
        out.events.append(ev)
        if isinstance(ev, PriceChangeEvent):
            out.errors.extend(u.error for u in ev.unparsable)
    return out


def _scoped(assets: tuple[str, ...], build: Callable[[], T]) -> T:
    """build(), its ParseError tied to `assets` (the tokens the event is for) unless it already says whose it is."""
    try:
        return build()
    except ParseError as exc:
        if exc.assets is None:
            exc.assets = assets
        raise


def _opt_str(obj: dict[str, object], key: str) -> str:
    """An optional string ("" when absent); anything else present is an error."""
    v = obj.get(key)
    if v is None:
        return ""
    if not isinstance(v, str):
        raise ParseError(f"non-string {key}: {show(v)}")
    return wire.valid_text(v, key)


def _price(v: object, key: str, *, level: bool = False) -> int:
    """A price in 1e-4 USD: 0..1 USD, or strictly between for a book level (nobody rests an order at 0 or 1)."""
    return wire.price(v, key, edges=not level)


def _opt_price(obj: dict[str, object], key: str) -> int | None:
    v = obj.get(key)
    return None if v is None or v == "" else _price(v, key)


def _tick_size(v: object, key: str) -> int:
    t = _price(v, key)
    if not 0 < t < ONE_DOLLAR:
        raise ParseError(f"{key}: tick size out of range {show(v)}")
    return t


def _size(v: object, key: str) -> int:
    """A size in 1e-6 shares, exactly (a 7th non-zero decimal is an error)."""
    return wire.size(v, key, _parse_shares, MAX_SIZE)


def _ts(obj: dict[str, object]) -> int:
    v = obj.get("timestamp")
    if isinstance(v, str) and 0 < len(v) <= MAX_NUMBER_CHARS and v.isascii() and v.isdigit():
        ts = int(v)
    elif isinstance(v, int) and not isinstance(v, bool):
        ts = v
    else:
        raise ParseError(f"bad timestamp {show(v)}")
    if not 0 <= ts <= MAX_TS_MS:
        raise ParseError(f"timestamp out of range {show(v)}")
    return ts


def _level(lvl: object, key: str) -> Level | None:
    """A `{"price", "size"}` object."""
    return (_price(lvl.get("price"), key, level=True), _size(lvl.get("size"), key)) if isinstance(lvl, dict) else None


def _levels(raw: object, key: str) -> tuple[Level, ...]:
    return wire.levels(raw, key, lambda lvl: _level(lvl, key))


def parse_event(obj: object) -> PolyEvent:
    obj, typ = wire.typed(obj, "event", "event_type")
    if typ == "book":
        asset = wire.text(obj, "asset_id")
        tick = obj.get("tick_size")
        return _scoped((asset,), lambda: BookEvent(
            asset_id=asset, market=_opt_str(obj, "market"), timestamp_ms=_ts(obj),
            bids=_levels(obj.get("bids"), "bids"), asks=_levels(obj.get("asks"), "asks"),
            tick_size=None if tick is None else _tick_size(tick, "tick_size")))
    if typ == "price_change":
        return _price_change(obj)
    if typ == "tick_size_change":
        asset = wire.text(obj, "asset_id")
        return _scoped((asset,), lambda: TickSizeChange(
            asset_id=asset, market=_opt_str(obj, "market"), old_tick_size=_opt_price(obj, "old_tick_size"),
            new_tick_size=_tick_size(obj.get("new_tick_size"), "new_tick_size"), timestamp_ms=_ts(obj)))
    if typ == "last_trade_price":  # a trade print: the book changes arrive as price_change
        return _scoped((), lambda: LastTradePrice(
            asset_id=wire.text(obj, "asset_id"), market=_opt_str(obj, "market"), price=_price(obj.get("price"), "price"),
            size=_size(obj.get("size"), "size"), side=wire.one_of(obj.get("side"), SIDES, "side"), timestamp_ms=_ts(obj)))
    return OtherEvent(event_type=typ, known=typ in KNOWN_OTHER_EVENTS)


def _price_change(obj: dict[str, object]) -> PriceChangeEvent:
    """Entries parse one by one: a bad entry is `Unparsable` for its token, the others still apply. An entry whose
    token id cannot be read, or a bad event-level field, fails the event (for every token it names)."""
    raw = obj.get("price_changes")
    if not isinstance(raw, list):
        raise ParseError("price_change without price_changes[] (old schema?)")
    assets: list[str] = []
    for e in raw:
        if not isinstance(e, dict):
            raise ParseError(f"price_changes: bad entry {show(e)}")
        assets.append(wire.text(e, "asset_id"))
    market, ts = _scoped(tuple(dict.fromkeys(assets)), lambda: (_opt_str(obj, "market"), _ts(obj)))
    changes: list[PriceChange] = []
    bad: list[Unparsable] = []
    for i, (e, asset) in enumerate(zip(raw, assets, strict=True)):
        try:
            changes.append(PriceChange(asset_id=asset, price=_price(e.get("price"), "price", level=True),
                                       size=_size(e.get("size"), "size"), side=wire.one_of(e.get("side"), SIDES, "side"),
                                       best_bid=_opt_price(e, "best_bid"), best_ask=_opt_price(e, "best_ask")))
        except ParseError as exc:
            bad.append(Unparsable((asset,), f"price_changes[{i}] of {show(asset)}: {exc}"))
    return PriceChangeEvent(market=market, timestamp_ms=ts, changes=tuple(changes), unparsable=tuple(bad))
