"""What every venue's order book is, and the per-connection set of them (venues/kalshi/book.py and
venues/polymarket/book.py keep only how their venue changes a book).

A book is exact: {price (1e-4 USD): size} a side, in the venue's own size unit. Its status is what a Tick
carries: RESYNCING until the venue's full book has come (and again whenever it can no longer be vouched for),
STALE when marked so, CROSSED while the best bid is at or above the best ask (a rebuilt book can be, briefly),
OK otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, Literal, TypeVar

BookStatus = Literal["OK", "STALE", "RESYNCING", "CROSSED"]
Level = tuple[int, int]


@dataclass
class Book:
    bids: dict[int, int] = field(default_factory=dict, kw_only=True)  # price (1e-4 USD) -> size
    asks: dict[int, int] = field(default_factory=dict, kw_only=True)
    synced: bool = field(default=False, kw_only=True)  # False until the venue's full book arrives, and again when lost
    stale: bool = field(default=False, kw_only=True)
    venue_ts_ms: int | None = field(default=None, kw_only=True)
    tick_size: int = field(default=0, kw_only=True)  # 1e-4 USD; 0 = unknown (as the Tick schema says)

    @property
    def best_bid(self) -> int | None:
        return max(self.bids) if self.bids else None

    @property
    def best_ask(self) -> int | None:
        return min(self.asks) if self.asks else None

    @property
    def crossed(self) -> bool:
        return bool(self.bids) and bool(self.asks) and max(self.bids) >= min(self.asks)

    @property
    def status(self) -> BookStatus:
        if not self.synced:
            return "RESYNCING"
        if self.stale:
            return "STALE"
        return "CROSSED" if self.crossed else "OK"

    def top_exact(self, n: int) -> tuple[list[Level], list[Level]]:
        """Top n levels a side in the book's own units, best first (bids descending, asks ascending); never by
        wire position."""
        return sorted(self.bids.items(), key=lambda kv: -kv[0])[:n], sorted(self.asks.items())[:n]

    def top(self, n: int) -> tuple[list[Level], list[Level]]:
        """The Tick's top n levels a side, best first: the exact levels where the book's size unit is the Tick's."""
        return self.top_exact(n)


B = TypeVar("B", bound=Book)


class BookSet(Generic[B]):
    """All books of one connection, by market id. `auto_create`: a book for any market the venue sends (an
    offline tool); otherwise only for the markets added."""

    def __init__(self, new: Callable[[str], B], *, auto_create: bool = False) -> None:
        self._new = new
        self.auto_create = auto_create
        self.books: dict[str, B] = {}

    def add(self, key: str) -> B:
        return self.books.setdefault(key, self._new(key))

    def remove(self, key: str) -> None:
        self.books.pop(key, None)

    def invalidate_all(self) -> list[str]:
        """Mark every book RESYNCING (reconnect); returns the markets whose status changed."""
        changed = [k for k, b in self.books.items() if b.synced]
        for k in changed:
            self.books[k].synced = False
        return changed

    def mark_stale(self) -> list[str]:
        changed = [k for k, b in self.books.items() if b.synced and not b.stale]
        for k in changed:
            self.books[k].stale = True
        return changed
