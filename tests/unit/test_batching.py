"""processors.batching.available_batches: cut at max_ or when nothing more is queued for a few loop
steps, never on a timer; events acked only after their batch was processed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import SimpleNamespace

from processors.batching import available_batches


class QueueStream:
    """What available_batches uses of a Faust stream: `channel.queue`, `events()`, `enable_acks`, `ack()`."""

    def __init__(self) -> None:
        self.channel = SimpleNamespace(queue=asyncio.Queue())
        self.enable_acks = True
        self.acked: list[int] = []
        self.processed: list[int] = []

    async def events(self) -> AsyncIterator[int]:
        while True:
            item = await self.channel.queue.get()
            if item is None:
                return
            yield item

    async def ack(self, event: int) -> bool:
        assert event in self.processed, "acked before it was processed"
        self.acked.append(event)
        return True


async def _steps(n: int) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


async def _run(stream: QueueStream, max_: int, empty_steps: int, feed: list[list[int]], gap_steps: int) -> list[list[int]]:
    """Put each group of `feed` into the queue at once, then let `gap_steps` loop steps pass; then end
    the stream (an unfinished batch at the end is not yielded: it was never processed, so never acked
    or committed, and is read again)."""
    out: list[list[int]] = []

    async def consume() -> None:
        async for batch in available_batches(stream, max_, empty_steps):
            assert not stream.enable_acks  # the stream must not ack on read
            out.append(batch)
            stream.processed.extend(batch)

    task = asyncio.create_task(consume())
    for group in feed:
        for item in group:
            stream.channel.queue.put_nowait(item)
        await _steps(gap_steps)
    await _steps(20)
    stream.channel.queue.put_nowait(None)
    await asyncio.wait_for(task, 5)
    return out


def test_a_lone_event_is_a_batch_within_a_few_loop_steps() -> None:
    async def main() -> None:
        stream = QueueStream()
        got: list[list[int]] = []

        async def consume() -> None:
            async for batch in available_batches(stream, 500, empty_steps=4):
                got.append(batch)

        task = asyncio.create_task(consume())
        stream.channel.queue.put_nowait(1)
        # No timer: the batch is there after a few loop steps, long before any millisecond timeout.
        await _steps(10)
        assert got == [[1]]
        task.cancel()

    asyncio.run(main())


def test_batches_cut_at_max_and_at_a_pause_and_acked_after_processing() -> None:
    stream = QueueStream()
    out = asyncio.run(_run(stream, 3, 4, [[1, 2, 3, 4, 5], [6], [7, 8]], gap_steps=20))
    assert out == [[1, 2, 3], [4, 5], [6], [7, 8]]
    assert stream.acked == [1, 2, 3, 4, 5, 6, 7, 8]
    assert stream.enable_acks  # restored


def test_an_event_arriving_within_the_empty_steps_joins_the_batch() -> None:
    # Faust delivers the records of one fetch a couple of loop steps apart: they belong together.
    together = asyncio.run(_run(QueueStream(), 500, 4, [[1], [2], [3]], gap_steps=1))
    assert together == [[1, 2, 3]]
    apart = asyncio.run(_run(QueueStream(), 500, 0, [[1], [2], [3]], gap_steps=2))
    assert apart == [[1], [2], [3]]


class FaustLikeStream(QueueStream):
    """Steps like Faust's `Stream._py_aiter`: a bare loop step before each event, then the queue. `revoke_after=n`:
    in the loop step after the n-th event was handed out, a revocation clears the queue (`flow_control.clear()`)."""

    def __init__(self, revoke_after: int) -> None:
        super().__init__()
        self.handed: list[int] = []
        self.revoke_after: int | None = revoke_after

    async def events(self) -> AsyncIterator[int]:
        while True:
            await asyncio.sleep(0)
            if self.revoke_after is not None and len(self.handed) == self.revoke_after:
                while not self.channel.queue.empty():
                    self.channel.queue.get_nowait()
                self.revoke_after = None
            item = await self.channel.queue.get()
            if item is None:
                return
            self.handed.append(item)
            yield item


def test_a_batch_is_not_held_while_the_stream_waits_so_a_revocation_can_finish() -> None:
    # Faust's revocation clears the queue and then waits until every event handed out is acked (wait_empty).
    # The batcher saw event 2 queued and asked for it; the queue was cleared in between: the batch of event 1
    # must still be processed and acked, or the rebalance (and the worker's shutdown) waits for good.
    async def main() -> None:
        stream = FaustLikeStream(revoke_after=1)
        got: list[list[int]] = []

        async def consume() -> None:
            async for batch in available_batches(stream, 500, empty_steps=4):
                got.append(batch)
                stream.processed.extend(batch)

        task = asyncio.create_task(consume())
        stream.channel.queue.put_nowait(1)
        stream.channel.queue.put_nowait(2)
        await _steps(20)
        assert stream.handed == [1]  # event 2 was cleared before it was handed out
        assert got == [[1]] and stream.acked == [1]  # nothing handed out is left unacked
        stream.channel.queue.put_nowait(3)  # after the rebalance, the stream goes on
        await _steps(20)
        assert got == [[1], [3]] and stream.acked == [1, 3]
        task.cancel()

    asyncio.run(main())


def test_a_cancellation_in_the_streams_loop_step_reaches_the_stream() -> None:
    # The stream's bare loop step is taken by the batcher; a cancellation there must end the stream as it would
    # have if the stream's own task had been cancelled at that point (its `finally` runs: Faust stops the channel).
    async def main() -> None:
        ended: list[str] = []

        class Stream(QueueStream):
            async def events(self) -> AsyncIterator[int]:
                try:
                    while True:
                        await asyncio.sleep(0)
                        yield await self.channel.queue.get()
                finally:
                    ended.append("stream finalized")

        stream = Stream()
        task = asyncio.create_task(_consume_forever(stream))
        await asyncio.sleep(0)  # the batcher is now in the stream's first loop step
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        assert ended == ["stream finalized"]

    asyncio.run(main())


async def _consume_forever(stream: QueueStream) -> None:
    async for _ in available_batches(stream, 500, empty_steps=4):
        pass
