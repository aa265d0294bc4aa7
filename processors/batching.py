"""Batches of the ticks that are already there: no timer.

Faust's `take_events(max, within)` polls: it waits up to `within` for the buffer to fill, so every tick
waits for that timer (and an idle worker wakes every `within`). We cut a batch when the stream's queue
stays empty for a few event-loop steps instead: a lone tick is processed at once, a burst in batches of
up to `max_`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Protocol, TypeVar

# Faust hands the records of one fetch to the stream one at a time, a loop step or more apart (each goes
# through the consumer's `wait_first`: processors/low_latency.py). Cutting a batch the moment the queue is empty would make
# every batch one tick long in a burst, and the signals of one-tick batches leave in more, smaller
# produce requests, each with a fixed cost in the producer and the broker (measured before the move to
# Kafka, the worst-case burst rate fell ~20%; to be measured again on Kafka).
# Waiting a few loop steps (microseconds) lets the rest of the fetch arrive first.
EMPTY_STEPS = 4

E = TypeVar("E")


class StreamQueue(Protocol):
    """What this module and the worker read of a Faust stream's queue."""

    def empty(self) -> bool: ...

    def qsize(self) -> int: ...


class _Channel(Protocol):
    @property
    def queue(self) -> StreamQueue: ...


class EventStream(Protocol[E]):
    """What this module uses of a Faust stream whose events are E."""

    enable_acks: bool

    @property
    def channel(self) -> _Channel: ...

    def events(self) -> AsyncIterator[E]: ...

    async def ack(self, event: E) -> bool: ...


async def available_batches(stream: EventStream[E], max_: int, empty_steps: int = EMPTY_STEPS) -> AsyncIterator[list[E]]:
    """Yield lists of events from `stream`: cut at `max_` events or when nothing more is queued for
    `empty_steps` loop steps.

    As with `take_events`, an event is acked only after the caller has processed its batch (asked for
    the next one): Faust's bookkeeping of what was committed, which the delivery guard reads, must not
    run ahead of what was processed (acking on read lost signals around worker restarts)."""
    queue = stream.channel.queue
    acks_were = stream.enable_acks
    stream.enable_acks = False
    batch: list[E] = []
    try:
        async for event in stream.events():
            batch.append(event)
            if len(batch) < max_:
                for _ in range(empty_steps):
                    if not queue.empty():
                        break
                    await asyncio.sleep(0)
                if not queue.empty():
                    continue
            yield batch
            for done in batch:
                await stream.ack(done)
            batch = []
    finally:
        stream.enable_acks = acks_were
