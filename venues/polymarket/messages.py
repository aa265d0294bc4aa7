"""Polymarket market-channel wire events as frozen typed structs (venue-protocols.md P2).

Prices are integers of 1e-4 USD, sizes integers of 1e-6 shares (SIZE_DP: the venue's precision, see
core/units.py; the Tick floors them to 1e-2), timestamps integer milliseconds.
Levels are `(price, size)` in the order the venue sent them (live data: best level last).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Side = Literal["BUY", "SELL"]  # BUY = bid side
Level = tuple[int, int]

# Share sizes carry up to 6 decimals: the CTF share token has 6 (Polymarket/py-sdk parses base-unit amounts with
# six implied decimals, models/clob/_validators.py) and a real fill left 1.464786 shares (NautilusTrader
# crates/adapters/polymarket/test_data/data_api_trades_captured_response.json).
SIZE_DP = 6


@dataclass(frozen=True, slots=True)
class Unparsable:
    """An event, or one `price_changes[]` entry, that could not be parsed, for tokens whose ids were readable.
    What it carried is unknown, so those books can no longer be vouched for: they go RESYNCING until a fresh
    `book` rebuilds them. (One whose token id cannot be read makes the whole frame unreadable instead.)"""

    asset_ids: tuple[str, ...]
    error: str


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
    """`changes`: the entries that parsed, in wire order; `unparsable`: one per entry that did not (its token's
    book must be rebuilt; the other tokens' entries still apply)."""

    market: str
    timestamp_ms: int
    changes: tuple[PriceChange, ...]
    unparsable: tuple[Unparsable, ...] = ()


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


PolyEvent = BookEvent | PriceChangeEvent | TickSizeChange | LastTradePrice | OtherEvent | Unparsable
