"""What both venue feeds (producers/kalshi_feed.py, producers/polymarket_feed.py) do the same way: the reconnect
loop, the markets they follow, the book check and keep-alive of a connection, and a Tick per book change.

A feed subclass opens one connection in `_session()` and reads it until it fails or is given up; `run()` calls it
again after a jittered backoff (core/backoff.py) that the subclass resets once data flows. When a connection ends,
every book is RESYNCING (one Tick each) until the next connection rebuilds it. No Kafka here: Ticks go to a Handoff.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import Any, ClassVar, Generic, TypeVar

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from core.backoff import Backoff
from core.units import now_us
from producers.book_check import BookCheckSchedule, BookFetcher, Sides, start_book_check
from producers.feed_metrics import FeedMetrics
from producers.handoff import Handoff
from producers.liveness import keepalive_lost
from producers.settings import FeedSettings
from producers.tick import Venue, build_tick
from venues.book import Book, BookSet

B = TypeVar("B", bound=Book)


class WsFeed(ABC, Generic[B]):
    venue: ClassVar[Venue]  # the Tick's venue
    log: ClassVar[logging.Logger]  # the subclass module's logger
    books: BookSet[B]

    def __init__(self, *, books: BookSet[B], markets: Mapping[str, str], handoff: Handoff[dict[str, Any]],
                 settings: FeedSettings | None, metrics: FeedMetrics | None, rng: random.Random | None,
                 clock: Callable[[], int] = now_us, book_fetcher: BookFetcher | None = None) -> None:
        """`markets`: market id -> game_id (the Tick key). `book_fetcher`: the venue's REST books for the book
        check; None: no check."""
        self._label = f"{self.venue.lower()} feed"
        self.settings = settings or FeedSettings()
        self.handoff = handoff
        self.metrics = metrics or FeedMetrics()
        self.clock = clock
        self.backoff = Backoff(self.settings.backoff_base_s, self.settings.backoff_cap_s, rng)
        self.books = books
        self.markets: dict[str, str] = {}
        self.checks = BookCheckSchedule(self.settings.book_check_s, self.settings.book_check_confirm_s)
        self._book_fetcher = book_fetcher
        self._ws: ClientConnection | None = None
        self._stopping = False
        self.connected = asyncio.Event()
        self._track(markets)

    # --- the subclass's part -------------------------------------------------------------------------

    @abstractmethod
    async def _session(self) -> None:
        """One connection, read until it fails or is given up (return)."""

    def _connection_ended(self) -> None:
        """Forget what belonged to the connection that ended (its books are invalidated after this)."""

    @abstractmethod
    def _position(self, book: B) -> str:
        """The book's position in its venue's stream: the Tick's tick_id (producers/tick.py)."""

    @abstractmethod
    async def _on_stale(self, key: str) -> None:
        """The book check found this book wrong."""

    # --- public ------------------------------------------------------------------------------------

    async def run(self) -> None:
        """Connect, subscribe and read until stop(); reconnects on every failure."""
        first = True
        while not self._stopping:
            if not first:
                self.metrics.reconnects += 1
                delay = self.backoff.next_delay()
                self.log.info("%s: reconnecting in %.2fs", self._label, delay)
                await asyncio.sleep(delay)
                if self._stopping:
                    break
            first = False
            try:
                await self._session()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # connection refused, 401, closed socket, …: all mean reconnect
                self.log.warning("%s: connection lost: %s", self._label, exc.__class__.__name__ + (f": {exc}" if str(exc) else ""))
            finally:
                self._ws = None
                self.connected.clear()
                self._connection_ended()
                self._emit(self.books.invalidate_all(), self.clock())

    def stop(self) -> None:
        self._stopping = True
        ws = self._ws
        if ws is not None:
            asyncio.ensure_future(ws.close())

    # --- markets -----------------------------------------------------------------------------------

    def _track(self, markets: Mapping[str, str]) -> list[str]:
        """Follow these markets (a book each); returns those that are new."""
        new = [k for k in markets if k not in self.markets]
        for k, g in markets.items():
            self.markets[k] = g
            self.books.add(k)
        return new

    def _untrack(self, keys: Iterable[str]) -> list[str]:
        """Stop following these markets; returns those that were followed."""
        gone = list(dict.fromkeys(k for k in keys if k in self.markets))
        for k in gone:
            del self.markets[k]
            self.books.remove(k)
            self.checks.forget(k)
        return gone

    # --- connection --------------------------------------------------------------------------------

    @asynccontextmanager
    async def _watched(self, ws: ClientConnection) -> AsyncIterator[None]:
        """The body reads `ws` with the book check running (producers/book_check.py); a connection that ends
        because our Ping got no Pong (producers/liveness.py) is counted as a silence."""
        checker = start_book_check(self.checks, self._book_fetcher, self._checked_book, self._on_stale, self.metrics, self.settings,
                                   venue=self.venue.lower(), close=ws.close, current=lambda: self._ws is ws)
        try:
            yield
        except ConnectionClosed as exc:
            if keepalive_lost(exc):
                self.metrics.silences += 1
                self.log.warning("%s: no Pong for %.1fs: the connection is dead; reconnecting", self._label, self.settings.keepalive_timeout_s)
            raise
        finally:
            if checker is not None:
                checker.cancel()
                await asyncio.gather(checker, return_exceptions=True)

    def _checked_book(self, key: str) -> Sides | None:
        """A book the check may compare: synced and subscribed (a RESYNCING book waits for the venue's full book)."""
        book = self.books.books.get(key)
        return (book.bids, book.asks) if book is not None and book.synced and key in self.markets else None

    # --- ticks -------------------------------------------------------------------------------------

    def _emit(self, keys: Iterable[str], received: int) -> None:
        """A Tick of each of these books into the hand-off (`received`: when the causing frame came, µs)."""
        depth = self.settings.depth
        mono = time.monotonic()
        for k in keys:
            book = self.books.books.get(k)
            game = self.markets.get(k)
            if book is None or game is None:
                continue
            self.checks.changed(k, mono)  # a change on the socket: the book is not quiet (book check)
            tick = build_tick(venue=self.venue, market=k, game_id=game, book=book, depth=depth, position=self._position(book),
                              received_ts=received, produced_ts=self.clock())
            before = self.handoff.stats.coalesced
            accepted = self.handoff.put(f"{self.venue}:{k}", tick)
            self.metrics.ticks += 1
            self.metrics.coalesced += self.handoff.stats.coalesced - before
            if not accepted:
                self.metrics.dropped += 1
