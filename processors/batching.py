"""Batches of the ticks that are already there: no timer.

Faust's `take_events(max, within)` polls: it waits up to `within` for the buffer to fill, so every tick
waits for that timer (and an idle worker wakes every `within`). We cut a batch when the stream's queue
stays empty for a few event-loop steps instead: a lone tick is processed at once, a burst in batches of
up to `max_`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Protocol, TypeVar, cast

from processors.resumed import Resumed, Step

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
    """Yield lists of events from `stream`: cut at `max_` events, when nothing more is queued for
    `empty_steps` loop steps, or when the stream has to wait for its next event.

    As with `take_events`, an event is acked only after the caller has processed its batch (asked for
    the next one): Faust's bookkeeping of what was committed, which the delivery guard reads, must not
    run ahead of what was processed (acking on read lost signals around worker restarts).

    A batch is never held while the stream waits. A revocation suspends Faust's flow and clears the stream's
    queue, then waits until every event handed out is acked (`Consumer.wait_empty`): a batch held across that
    wait (its events seen queued, the queue cleared in the loop step the stream then yields) hung the
    rebalance, and the worker's shutdown, for good. So the stream's next event is asked for by hand
    (`__anext__` run up to its first suspension, as processors/low_latency.py does with Faust's hand-over):
    when the stream suspends on anything but a bare loop step, the batch in hand is yielded first."""
    queue = stream.channel.queue
    acks_were = stream.enable_acks
    stream.enable_acks = False
    events = aiter(stream.events())
    batch: list[E] = []

    async def ack(done: list[E]) -> None:
        for event in done:
            await stream.ack(event)

    try:
        while True:
            step = cast(Step, events.__anext__())
            try:
                pending = step.send(None)
                while pending is None:  # a bare loop step (Faust's `sleep(0)` before each event): take it, go on
                    try:
                        await asyncio.sleep(0)
                    except BaseException as exc:  # cancelled in that step: into the stream, where its task would have
                        step.throw(exc)
                        raise
                    pending = step.send(None)
            except StopIteration as got:
                event = cast(E, got.value)
            except StopAsyncIteration:
                return  # an unfinished batch is not yielded: never processed, never acked, read again
            else:
                if batch:
                    done, batch = batch, []
                    yield done
                    await ack(done)
                try:
                    event = cast(E, await Resumed(step, pending))
                except StopAsyncIteration:
                    return
            batch.append(event)
            if len(batch) < max_:
                for _ in range(empty_steps):
                    if not queue.empty():
                        break
                    await asyncio.sleep(0)
                if not queue.empty():
                    continue
            done, batch = batch, []
            yield done
            await ack(done)
    finally:
        stream.enable_acks = acks_were
