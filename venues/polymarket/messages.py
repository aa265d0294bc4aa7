"""Polymarket market-channel wire events as frozen typed structs (venue-protocols.md P2).

Prices are integers of 1e-4 USD, sizes integers of 1e-2 shares, timestamps integer milliseconds.
Levels are `(price, size)` in the order the venue sent them (live data: best level last).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Side = Literal["BUY", "SELL"]  # BUY = bid side
Level = tuple[int, int]


@dataclass(frozen=True, slots=True)
class BookEvent:
    """Full book of one token: replaces whatever we had."""

    asset_id: str
    market: str
    timestamp_ms: int
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    tick_size: int | None  # absent in some frames


@dataclass(frozen=True, slots=True)
class PriceChange:
    """One entry of `price_changes[]`: the level's new absolute size (0 removes it)."""

    asset_id: str
    price: int
    size: int
    side: Side
    best_bid: int | None  # the venue's view after this entry (0 / absent = no bid)
    best_ask: int | None


@dataclass(frozen=True, slots=True)
class PriceChangeEvent:
    market: str
    timestamp_ms: int
    changes: tuple[PriceChange, ...]


@dataclass(frozen=True, slots=True)
class TickSizeChange:
    asset_id: str
    market: str
    old_tick_size: int | None
    new_tick_size: int
    timestamp_ms: int


@dataclass(frozen=True, slots=True)
class LastTradePrice:
    asset_id: str
    market: str
    price: int
    size: int
    side: Side
    timestamp_ms: int


@dataclass(frozen=True, slots=True)
class OtherEvent:
    """A well-formed event the book does not use (`best_bid_ask`, `new_market`, …, or unknown types)."""

    event_type: str
    known: bool


PolyEvent = BookEvent | PriceChangeEvent | TickSizeChange | LastTradePrice | OtherEvent
