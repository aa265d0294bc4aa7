"""Kalshi WebSocket wire messages as frozen typed structs (venue-protocols.md K3).

Prices are integers of 1e-4 USD and sizes integers of 1e-2 contracts (core.units). A level is
`(price, size)`. Prices are exactly as the venue sent them: on the NO side they are NO-leg prices
unless the subscription set `use_yes_price` (the book converts; the parser cannot know the scale).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from venues.kalshi.constants import WS_TERMINAL_ERRORS

Side = Literal["yes", "no"]
Level = tuple[int, int]


@dataclass(frozen=True, slots=True)
class OrderbookSnapshot:
    sid: int
    seq: int
    market_ticker: str
    market_id: str | None
    yes: tuple[Level, ...]  # YES bids, as sent (ascending: best last)
    no: tuple[Level, ...]  # NO bids, as sent; the scale depends on use_yes_price


@dataclass(frozen=True, slots=True)
class OrderbookDelta:
    sid: int
    seq: int
    market_ticker: str
    price: int  # level price as sent (NO side: NO-leg or YES scale, see module doc)
    delta: int  # signed change of the level's size, 1e-2 contracts
    side: Side
    ts_ms: int | None  # venue time; `ts` (ISO, deprecated) is ignored
    client_order_id: str | None  # only when our own order caused the change


@dataclass(frozen=True, slots=True)
class Subscribed:
    id: int
    channel: str
    sid: int


@dataclass(frozen=True, slots=True)
class Ok:
    """Reply to update_subscription. Whether it takes a number of its sid's seq is not documented: venues/kalshi/book.py
    `SeqCheck` is correct either way."""

    id: int
    sid: int | None
    seq: int | None
    market_tickers: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Unsubscribed:
    id: int
    sid: int
    seq: int | None


@dataclass(frozen=True, slots=True)
class Error:
    id: int | None
    sid: int | None  # present when the error ends one subscription (10/17/25)
    code: int
    msg: str

    @property
    def terminal(self) -> bool:
        """The subscription is gone and must be re-created (constants.WS_TERMINAL_ERRORS)."""
        return self.code in WS_TERMINAL_ERRORS


@dataclass(frozen=True, slots=True)
class Other:
    """A well-formed message the book does not use (ticker, trade, unknown types).

    Kept with its sid/seq: a message carrying both still takes a number of the sid's sequence.
    `known` is False for types this client has never heard of (counted by the feed).
    """

    type: str
    sid: int | None
    seq: int | None
    known: bool


KalshiMessage = OrderbookSnapshot | OrderbookDelta | Subscribed | Ok | Unsubscribed | Error | Other
