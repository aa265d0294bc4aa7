"""What the feed integration tests share: waiting for a condition, a Kafka-writer stand-in that collects every
Tick, and a feed running as a task for the length of a test."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from producers.handoff import Handoff
from producers.ws_feed import WsFeed

TIMEOUT = 5.0


async def wait_for(cond: Callable[[], bool], what: str = "condition", timeout: float = TIMEOUT) -> None:
    """Until `cond()` holds; AssertionError naming `what` after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not cond():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


class Collector:
    """A Kafka-writer stand-in: takes every tick out of the hand-off as it comes, in order."""

    def __init__(self, h: Handoff[dict[str, Any]]) -> None:
        self.h = h
        self.ticks: list[dict[str, Any]] = []
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            self.ticks.append((await self.h.get())[1])

    def take(self) -> list[dict[str, Any]]:
        """The ticks collected since the last take()."""
        out, self.ticks = self.ticks, []
        return out

    def of(self, market: str, since: int = 0) -> list[dict[str, Any]]:
        """The ticks of one market, from the since-th tick of all on."""
        return [t for t in self.ticks[since:] if t["market"] == market]

    async def close(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


@contextlib.asynccontextmanager
async def started(feed: WsFeed[Any]) -> AsyncIterator[None]:
    """`feed.run()` as a task for the length of the body; then the feed is stopped, its task cancelled and awaited."""
    task = asyncio.create_task(feed.run())
    try:
        yield
    finally:
        feed.stop()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, TIMEOUT)


@contextlib.asynccontextmanager
async def collected(feed: WsFeed[Any]) -> AsyncIterator[Collector]:
    """started(feed), every tick taken out of its hand-off by a Collector."""
    async with started(feed):
        collector = Collector(feed.handoff)
        try:
            yield collector
        finally:
            await collector.close()
