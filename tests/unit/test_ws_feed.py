"""The feeds' shared part (producers/ws_feed.py): the reconnect loop and a connection's keep-alive accounting.

The Kalshi and Polymarket feeds run against the simulators in tests/integration/test_feeds_ws.py; here the loop
itself runs with scripted connections, so each property is pinned without a socket.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

import pytest
from websockets.exceptions import ConnectionClosedError
from websockets.frames import Close, CloseCode

from producers.handoff import Handoff
from producers.tick import Venue
from producers.ws_feed import WsFeed
from venues.book import Book, BookSet


class NoJitter(random.Random):
    """Every backoff delay is 0: the loop's waits cost nothing, its attempts are still counted."""

    def uniform(self, a: float, b: float) -> float:
        return 0.0


class RecordingHandoff(Handoff[dict[str, Any]]):
    """Remembers the status of every Tick put, in order (the hand-off itself keeps only the latest of a market)."""

    def __init__(self) -> None:
        super().__init__()
        self.statuses: list[str] = []

    def put(self, key: str, item: dict[str, Any]) -> bool:
        self.statuses.append(item["status"])
        return super().put(key, item)


Step = Callable[["ScriptedFeed"], Awaitable[None]]


class ScriptedFeed(WsFeed[Book]):
    """Each connection syncs the book of market "m" and then does the next step of the script."""

    venue: ClassVar[Venue] = "KALSHI"
    log = logging.getLogger(__name__)

    def __init__(self, script: list[Step]) -> None:
        self.ticks = RecordingHandoff()
        super().__init__(books=BookSet(lambda key: Book()), markets={"m": "game"}, handoff=self.ticks, settings=None, metrics=None,
                         rng=NoJitter())
        self.script = script
        self.synced_at_start: list[bool] = []  # was the book still synced when the next connection began?

    async def _session(self) -> None:
        book = self.books.books["m"]
        self.synced_at_start.append(book.synced)
        book.synced = True
        self._emit(["m"], self.clock())
        await self.script.pop(0)(self)

    def _position(self, book: Book) -> str:
        return "1:1"

    async def _on_stale(self, key: str) -> None:
        raise AssertionError("no book check runs here")


async def _refused(feed: ScriptedFeed) -> None:
    raise ConnectionRefusedError("refused")


async def _given_up(feed: ScriptedFeed) -> None:
    return None  # e.g. no PONG in time: the session gives the connection up


async def _stop(feed: ScriptedFeed) -> None:
    feed.stop()


async def test_every_ended_connection_is_retried_after_a_backoff_and_its_books_are_resyncing() -> None:
    """A book is never carried over from a connection that ended: it is RESYNCING (and a Tick says so) before the
    next connection starts, whether the connection failed or was given up; each retry waits for a backoff delay."""
    feed = ScriptedFeed([_refused, _given_up, _stop])
    await asyncio.wait_for(feed.run(), timeout=5)
    assert feed.synced_at_start == [False, False, False]
    assert feed.ticks.statuses == ["OK", "RESYNCING"] * 3
    assert feed.metrics.reconnects == 2 and feed.backoff.attempt == 2
    assert feed._ws is None and not feed.connected.is_set()


async def test_a_cancelled_feed_stops_and_leaves_no_book_synced() -> None:
    never = asyncio.Event()

    async def _wait(feed: ScriptedFeed) -> None:
        await never.wait()

    feed = ScriptedFeed([_wait])
    task = asyncio.create_task(feed.run())
    while not feed.synced_at_start:
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, timeout=5)
    assert not feed.books.books["m"].synced and feed.metrics.reconnects == 0


def _closed(*, pong_missing: bool) -> ConnectionClosedError:
    if pong_missing:  # how `websockets` ends a connection whose Ping got no Pong: 1011 sent, nothing received
        return ConnectionClosedError(None, Close(CloseCode.INTERNAL_ERROR, "keepalive ping timeout"))
    return ConnectionClosedError(Close(CloseCode.GOING_AWAY, "bye"), Close(CloseCode.GOING_AWAY, "bye"), rcvd_then_sent=True)


@pytest.mark.parametrize("pong_missing", [True, False])
async def test_a_connection_found_dead_by_its_keepalive_counts_as_a_silence(pong_missing: bool) -> None:
    feed = ScriptedFeed([])

    class WS:
        async def close(self) -> None:
            pass

    with pytest.raises(ConnectionClosedError):
        async with feed._watched(WS()):  # type: ignore[arg-type]
            raise _closed(pong_missing=pong_missing)
    assert feed.metrics.silences == (1 if pong_missing else 0)


def test_markets_followed_and_dropped_keep_their_books_in_step() -> None:
    feed = ScriptedFeed([])
    assert feed._track({"m": "game2", "n": "game"}) == ["n"]
    assert feed.markets == {"m": "game2", "n": "game"} and set(feed.books.books) == {"m", "n"}
    assert feed._untrack(["n", "n", "x"]) == ["n"]
    assert feed.markets == {"m": "game2"} and set(feed.books.books) == {"m"}
