"""Bounded, coalescing hand-off between a socket reader and the Kafka writer.

The reader must never wait on Kafka. `put` never blocks: each market key holds at most one pending
item; a newer state of a market still waiting replaces it in place (counted as coalesced), because a
Tick is a full state and only the latest matters. Memory is bounded by `capacity` distinct keys; a new
key arriving when full is refused, counted and logged (never silent). Single event loop only.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass
class HandoffStats:
    put: int = 0
    coalesced: int = 0
    dropped: int = 0
    taken: int = 0


class Handoff(Generic[T]):
    def __init__(self, capacity: int = 10_000) -> None:
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self.capacity = capacity
        self._pending: OrderedDict[str, T] = OrderedDict()
        self._ready = asyncio.Event()
        self.stats = HandoffStats()

    def __len__(self) -> int:
        return len(self._pending)

    def put(self, key: str, item: T) -> bool:
        """Queue the latest state of `key`; False if it was refused because the hand-off is full."""
        self.stats.put += 1
        if key in self._pending:
            self._pending[key] = item  # keeps its place in line: no market starves behind a busy one
            self.stats.coalesced += 1
        elif len(self._pending) >= self.capacity:
            self.stats.dropped += 1
            if self.stats.dropped == 1 or self.stats.dropped % 1000 == 0:
                log.warning("hand-off full (%d markets waiting): refused an update of %s (%d refused so far)",
                            self.capacity, key, self.stats.dropped)
            return False
        else:
            self._pending[key] = item
        self._ready.set()
        return True

    def get_nowait(self) -> tuple[str, T] | None:
        if not self._pending:
            return None
        self.stats.taken += 1
        item = self._pending.popitem(last=False)
        if not self._pending:
            self._ready.clear()
        return item

    async def get(self) -> tuple[str, T]:
        while True:
            got = self.get_nowait()
            if got is not None:
                return got
            self._ready.clear()
            await self._ready.wait()

    async def get_batch(self, max_items: int) -> list[tuple[str, T]]:
        """Wait for at least one item, then take up to `max_items` without waiting."""
        out = [await self.get()]
        while len(out) < max_items:
            got = self.get_nowait()
            if got is None:
                break
            out.append(got)
        return out
