"""processors.batching.available_batches: cut at max_ or when nothing more is queued, never on a timer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import SimpleNamespace

from processors.batching import available_batches


class QueueStream:
    """The two things available_batches uses of a Faust stream: `channel.queue` and `events()`."""

    def __init__(self) -> None:
        self.channel = SimpleNamespace(queue=asyncio.Queue())
        self.enable_acks = True
        self.acked: list[int] = []
        self.processed: list[int] = []

    async def ack(self, event: int) -> bool:
        assert event in self.processed, "acked before it was processed"
        self.acked.append(event)
        return True

    async def events(self) -> AsyncIterator[int]:
        while True:
            item = await self.channel.queue.get()
            if item is None:
                return
            yield item


async def _collect(stream: QueueStream, max_: int, feed: list[list[int | None]]) -> list[list[int]]:
    """Put each group of `feed` into the queue at once, wait until it was consumed, then the next."""
    out: list[list[int]] = []

    async def consume() -> None:
        async for batch in available_batches(stream, max_):
            assert not stream.enable_acks  # the stream must not ack on read
            out.append(batch)
            stream.processed.extend(batch)

    task = asyncio.create_task(consume())
    for group in feed:
        for item in group:
            stream.channel.queue.put_nowait(item)
        while not stream.channel.queue.empty():
            await asyncio.sleep(0)
        await asyncio.sleep(0)
    await asyncio.wait_for(task, 5)
    return out


def test_a_lone_event_is_a_batch_at_once() -> None:
    async def main() -> None:
        stream = QueueStream()
        got: list[list[int]] = []

        async def consume() -> None:
            async for batch in available_batches(stream, 500):
                got.append(batch)

        task = asyncio.create_task(consume())
        stream.channel.queue.put_nowait(1)
        # No timer: the batch is there after a few loop steps, long before any millisecond timeout.
        for _ in range(10):
            await asyncio.sleep(0)
        assert got == [[1]]
        task.cancel()

    asyncio.run(main())


def test_queued_events_form_one_batch_cut_at_max_and_are_acked_after_processing() -> None:
    stream = QueueStream()
    out = asyncio.run(_collect(stream, 3, [[1, 2, 3, 4, 5], [6], [7, 8], [None]]))
    assert out == [[1, 2, 3], [4, 5], [6], [7, 8]]
    assert stream.acked == [1, 2, 3, 4, 5, 6, 7, 8]
    assert stream.enable_acks  # restored
