"""Book check: is a quiet book still the venue's book? (issue 25, defect 7)

Neither venue sends anything while a book does not change, so data silence says nothing about a book;
liveness is the socket's keep-alive (the feeds). What the keep-alive cannot see is a socket that answers
pings but has stopped delivering changes. This module catches that by comparing a book that has been
quiet on the socket for `quiet_s` with the venue's REST book:

- equal: fine, checked again after another `quiet_s` of quiet;
- different, but the book changed on the socket while the request was out: no verdict (the socket is
  delivering; the REST answer raced it);
- different and unchanged since the request was sent: suspect. Socket lag (a change the REST answer
  already shows, still in flight on the socket) looks the same, so the book is fetched again `confirm_s`
  later; still different and still unchanged on the socket since the first request: STALE.

`BookCheckSchedule` and `differs` are pure. `BookChecker` runs them off the socket reader's path: at most
`per_s` requests a second, one at a time, each under a timeout; a failed request is counted and retried
later, never a verdict.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from core.supervise import spawn
from producers.feed_metrics import FeedMetrics
from producers.settings import FeedSettings

log = logging.getLogger(__name__)

Level = tuple[int, int]
Sides = tuple[Mapping[int, int], Mapping[int, int]]  # (bids, asks): price (1e-4 USD) -> size, both books in one unit
BookFetcher = Callable[[str], Awaitable[Sides]]


def top(book: Sides, depth: int) -> tuple[list[Level], list[Level]]:
    """Top `depth` levels a side, best first (what a Tick carries)."""
    bids, asks = book
    return sorted(bids.items(), key=lambda kv: -kv[0])[:depth], sorted(asks.items())[:depth]


def differs(ours: Sides, venue: Sides, depth: int) -> bool:
    """Compare what both sources carry and the Tick publishes: the top `depth` levels of each side."""
    return top(ours, depth) != top(venue, depth)


class Verdict(enum.Enum):
    SAME = "same"  # the REST book equals ours
    CHANGED = "changed"  # the book changed on the socket while the request was out: no verdict
    SUSPECT = "suspect"  # different, unchanged on the socket: fetched again after confirm_s
    STALE = "stale"  # different twice, unchanged on the socket since the first request


@dataclass
class _Entry:
    changed_at: float  # monotonic seconds of the last change on the socket
    version: int = 0  # bumped by every change on the socket
    checked_at: float = -math.inf  # last answered (or failed) check
    urgent: bool = False  # check at the next slot, quiet or not
    suspect_at: float | None = None  # a difference found then, awaiting confirmation
    sent_version: int | None = None  # version when the request in flight was sent


class BookCheckSchedule:
    """Which book to check next, and what an answer means. Keys are the feed's market ids. Pure."""

    def __init__(self, quiet_s: float, confirm_s: float) -> None:
        self.quiet_s = quiet_s
        self.confirm_s = confirm_s
        self._books: dict[str, _Entry] = {}

    def __contains__(self, key: str) -> bool:
        return key in self._books

    def changed(self, key: str, now: float) -> None:
        """The book changed (or was re-snapshotted / invalidated) on the socket; tracks it from now on."""
        e = self._books.get(key)
        if e is None:
            self._books[key] = _Entry(changed_at=now)
            return
        e.version += 1
        e.changed_at = now
        e.suspect_at = None  # the socket is delivering: an earlier difference proves nothing any more

    def urgent(self, key: str) -> None:
        """Check at the next slot (Polymarket: the venue's best bid/ask disagreed with ours)."""
        e = self._books.get(key)
        if e is not None:
            e.urgent = True

    def forget(self, key: str) -> None:
        self._books.pop(key, None)

    def _due_rank(self, e: _Entry, now: float) -> tuple[int, float, float] | None:
        if e.sent_version is not None:
            return None
        if e.urgent:
            return (0, e.checked_at, e.changed_at)
        if e.suspect_at is not None:
            return (1, e.suspect_at, e.changed_at) if now - e.suspect_at >= self.confirm_s else None
        if now - e.changed_at >= self.quiet_s and now - e.checked_at >= self.quiet_s:
            return (2, e.checked_at, e.changed_at)  # the book checked longest ago first
        return None

    def next_due(self, now: float, eligible: Callable[[str], bool]) -> str | None:
        """The book to check now: urgent ones, then confirmations, then quiet books oldest-checked first."""
        best: tuple[tuple[int, float, float], str] | None = None
        for key, e in self._books.items():
            rank = self._due_rank(e, now)
            if rank is not None and (best is None or rank < best[0]) and eligible(key):
                best = (rank, key)
        return None if best is None else best[1]

    def sent(self, key: str) -> int:
        """A request for `key` goes out now; returns the token to hand back to `answered`."""
        e = self._books[key]
        e.urgent = False
        e.sent_version = e.version
        return e.version

    def failed(self, key: str, now: float) -> None:
        """The request failed (timeout, HTTP error, unreadable answer): retried after the usual wait."""
        e = self._books.get(key)
        if e is not None:
            e.sent_version = None
            e.checked_at = now
            if e.suspect_at is not None:
                e.suspect_at = now  # confirm later, from a fresh start

    def answered(self, key: str, token: int, different: bool, now: float) -> Verdict:
        e = self._books.get(key)
        if e is None:
            return Verdict.CHANGED  # forgotten meanwhile (market removed)
        e.sent_version = None
        e.checked_at = now
        if e.version != token:
            e.suspect_at = None
            return Verdict.CHANGED
        if not different:
            e.suspect_at = None
            return Verdict.SAME
        if e.suspect_at is None:
            e.suspect_at = now
            return Verdict.SUSPECT
        e.suspect_at = None
        return Verdict.STALE


class BookChecker:
    """Runs a BookCheckSchedule against the venue's REST books for one feed (one task per session)."""

    def __init__(self, schedule: BookCheckSchedule, fetch: BookFetcher, ours: Callable[[str], Sides | None],
                 on_stale: Callable[[str], Awaitable[None]], metrics: FeedMetrics, *, venue: str, depth: int,
                 per_s: float, timeout_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        """`ours(key)`: the feed's book if it is synced (else None: not checked); `on_stale(key)`: resync it."""
        self.schedule, self.fetch, self.ours, self.on_stale = schedule, fetch, ours, on_stale
        self.metrics, self.venue, self.depth = metrics, venue, depth
        self.interval_s = 1.0 / per_s
        self.timeout_s = timeout_s
        self.clock = clock

    async def run(self) -> None:
        """Until cancelled: one check per slot at most."""
        while True:
            await asyncio.sleep(self.interval_s)
            key = self.schedule.next_due(self.clock(), lambda k: self.ours(k) is not None)
            if key is not None:
                await self.check(key)

    async def check(self, key: str) -> Verdict | None:
        token = self.schedule.sent(key)
        try:
            async with asyncio.timeout(self.timeout_s):
                venue_book = await self.fetch(key)
        except Exception as exc:  # timeout, HTTP error, unreadable answer: no verdict, try again later
            self.metrics.book_check_errors += 1
            self.schedule.failed(key, self.clock())
            log.warning("%s book check of %s failed: %s", self.venue, key, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
            return None
        ours = self.ours(key)
        if ours is None:  # invalidated meanwhile: its coming snapshot decides
            self.schedule.failed(key, self.clock())
            return None
        self.metrics.book_checks += 1
        verdict = self.schedule.answered(key, token, differs(ours, venue_book, self.depth), self.clock())
        if verdict is Verdict.SUSPECT:
            log.info("%s book %s differs from the venue's REST book; checking again", self.venue, key)
        elif verdict is Verdict.STALE:
            self.metrics.stale_books += 1
            log.warning("%s book %s still differs from the venue's REST book and got no change on the socket: stale; "
                        "ours %s, venue %s", self.venue, key, top(ours, 3), top(venue_book, 3))
            await self.on_stale(key)
        return verdict


def start_book_check(schedule: BookCheckSchedule, fetch: BookFetcher | None, ours: Callable[[str], Sides | None],
                     on_stale: Callable[[str], Awaitable[None]], metrics: FeedMetrics, settings: FeedSettings, *, venue: str,
                     close: Callable[[], Awaitable[None]], current: Callable[[], bool]) -> asyncio.Task[None] | None:
    """A feed connection's book check (None without a REST source). If it ends on its own (a bug) it is logged and
    counted (spawn) and, while its connection is still the feed's (`current`), the socket closed (`close`), so
    the next session starts a new one."""
    if fetch is None:
        return None
    checker = BookChecker(schedule, fetch, ours, on_stale, metrics, venue=venue, depth=settings.depth,
                          per_s=settings.book_checks_per_s, timeout_s=settings.book_check_timeout_s)
    task = spawn(checker.run(), f"{venue}-book-check")
    task.add_done_callback(lambda t: None if t.cancelled() or not current() else asyncio.ensure_future(close()))
    return task
