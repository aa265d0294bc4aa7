"""Exact Polymarket books per token, and the book set shared by the live feed and `arb books`.

`book` replaces a token's book; each `price_changes[]` entry sets one level to an absolute size (0
removes it); `tick_size_change` updates the tick. There is no seq. A rebuilt book can be briefly
crossed (best bid >= best ask) while the removals of the crossed levels are still in flight: it is
CROSSED, never OK, until later entries uncross it. What could not be parsed (`Unparsable`) makes its
tokens' books RESYNCING until their next `book`: nothing else would ever correct them.

Levels are exact, in 1e-6 shares (the venue's precision); best bid / ask and crossing use them. `top()` is the
Tick's view: sizes floored to 1e-2, levels under 0.01 left out (core/units.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.units import floor_size
from venues.book import Book, BookSet
from venues.polymarket.messages import SIZE_DP, BookEvent, Level, OtherEvent, PolyEvent, PriceChangeEvent, TickSizeChange, Unparsable


@dataclass
class PolyBook(Book):
    """Sizes in 1e-6 shares, exact; not synced until a `book` arrives (and after reconnect)."""

    asset_id: str
    position: str = ""  # "<frame timestamp>/<n>" of the last change (tick_id); see bump()
    _pos: tuple[int, int] = (-1, 0)

    def top(self, n: int) -> tuple[list[Level], list[Level]]:
        """The Tick's top n levels a side, best first, in 1e-2 shares: each size floored, levels under 0.01 left out."""
        bids, asks = self.top_exact(len(self.bids) + len(self.asks))
        return _grid(bids, n), _grid(asks, n)

    def bump(self, ts_ms: int) -> None:
        """Advance the change position. Several frames can share one timestamp (a crossing's removals
        arrive in later frames with the same timestamp), so n counts this token's changes at `ts_ms`:
        unique, and the same on every replay of the same frames."""
        ts, n = self._pos
        self._pos = (ts_ms, n + 1 if ts == ts_ms else 0)
        self.position = f"{ts_ms}/{self._pos[1]}"
        self.venue_ts_ms = ts_ms

    def replace(self, ev: BookEvent) -> None:
        self.bids = {p: s for p, s in ev.bids if s > 0}
        self.asks = {p: s for p, s in ev.asks if s > 0}
        if ev.tick_size is not None:
            self.tick_size = ev.tick_size
        self.synced, self.stale = True, False
        self.bump(ev.timestamp_ms)

    def set_level(self, side: str, price: int, size: int) -> None:
        book = self.bids if side == "BUY" else self.asks
        if size == 0:
            book.pop(price, None)
        else:
            book[price] = size


def _grid(levels: list[Level], n: int) -> list[Level]:
    out: list[Level] = []
    for price, size in levels:
        if len(out) == n:
            break
        if (floored := floor_size(size, SIZE_DP)) > 0:
            out.append((price, floored))
    return out


@dataclass
class Disagreement:
    """An entry whose best_bid/best_ask differs from the rebuilt book (expected while crossed)."""

    asset_id: str
    position: str
    venue: tuple[int | None, int | None]
    ours: tuple[int | None, int | None]
    crossed: bool


@dataclass
class ApplyResult:
    changed: list[str] = field(default_factory=list)  # asset ids, once each, in order of first change
    invalidated: list[str] = field(default_factory=list)  # known books made RESYNCING by an Unparsable: re-snapshot them
    error: str | None = None
    disagreements: list[Disagreement] = field(default_factory=list)


class PolyBooks(BookSet[PolyBook]):
    """All token books of one connection. `auto_create` makes books for any asset (offline tool)."""

    def __init__(self, *, auto_create: bool = False) -> None:
        super().__init__(PolyBook, auto_create=auto_create)

    def _get(self, asset_id: str, res: ApplyResult) -> PolyBook | None:
        book = self.books.get(asset_id)
        if book is None and self.auto_create:
            book = self.add(asset_id)
        if book is None:
            res.error = f"unknown asset {asset_id}"
        return book

    def _invalidate(self, bad: Unparsable, res: ApplyResult) -> None:
        for a in bad.asset_ids:
            book = self.books.get(a) or (self.add(a) if self.auto_create else None)
            if book is None:  # not ours: nothing to rebuild (its error is counted as a parse error already)
                continue
            if book.synced:
                book.synced = False
                if a not in res.changed:
                    res.changed.append(a)
            if a not in res.invalidated:
                res.invalidated.append(a)

    def apply(self, ev: PolyEvent) -> ApplyResult:
        res = ApplyResult()
        if isinstance(ev, BookEvent):
            book = self._get(ev.asset_id, res)
            if book is not None:
                book.replace(ev)
                res.changed.append(ev.asset_id)
        elif isinstance(ev, Unparsable):
            self._invalidate(ev, res)
        elif isinstance(ev, PriceChangeEvent):
            lost = {a for u in ev.unparsable for a in u.asset_ids}
            for ch in ev.changes:
                if ch.asset_id in lost:  # this event's changes to that book are incomplete: it is rebuilt instead
                    continue
                book = self._get(ch.asset_id, res)
                if book is None:
                    continue
                if not book.synced:  # no base to apply an absolute level to; the `book` will come
                    continue
                book.set_level(ch.side, ch.price, ch.size)
                book.stale = False
                book.bump(ev.timestamp_ms)
                ours = (book.best_bid, book.best_ask)
                venue = (ch.best_bid or None, ch.best_ask if ch.best_ask not in (None, 0, 10_000) else None)
                if ours != venue:
                    res.disagreements.append(Disagreement(ch.asset_id, book.position, venue, ours, book.crossed))
                if ch.asset_id not in res.changed:
                    res.changed.append(ch.asset_id)
            for u in ev.unparsable:
                self._invalidate(u, res)
        elif isinstance(ev, TickSizeChange):
            book = self._get(ev.asset_id, res)
            if book is not None and book.tick_size != ev.new_tick_size:
                book.tick_size = ev.new_tick_size
                book.bump(ev.timestamp_ms)
                res.changed.append(ev.asset_id)
        elif isinstance(ev, OtherEvent) and not ev.known:
            res.error = f"unknown event type {ev.event_type}"
        return res
