"""Batches of the ticks that are already there: no timer.

Faust's `take_events(max, within)` polls: it waits up to `within` for the buffer to fill, so every tick
waits for that timer (and an idle worker wakes every `within`). We cut a batch as soon as the stream's
queue is empty instead: a lone tick is processed at once, a burst in batches of up to `max_`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any


async def available_batches(stream: Any, max_: int) -> AsyncIterator[list[Any]]:
    """Yield lists of events from `stream`: cut at `max_` events or when nothing more is queued.

    As with `take_events`, an event is acked only after the caller has processed its batch (asked for
    the next one): Faust's bookkeeping of what was committed, which the delivery guard reads, must not
    run ahead of what was processed (acking on read lost signals around worker restarts)."""
    queue = stream.channel.queue
    acks_were = stream.enable_acks
    stream.enable_acks = False
    batch: list[Any] = []
    try:
        async for event in stream.events():
            batch.append(event)
            if len(batch) >= max_ or queue.empty():
                yield batch
                for done in batch:
                    await stream.ack(done)
                batch = []
    finally:
        stream.enable_acks = acks_were
