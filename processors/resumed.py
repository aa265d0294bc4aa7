"""An awaitable that goes on with a coroutine someone began to run by hand.

Running a coroutine (or an async generator's `__anext__()`) by hand up to its first suspension tells the caller
whether it finished at once, without a task; when it did not, `Resumed` lets it be awaited from where it stopped.
processors/low_latency.py uses it for Faust's record hand-over, processors/batching.py for the stream's next event.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Protocol, cast


class Step(Protocol):
    """A coroutine, or the awaitable an async generator's `__anext__()` returns: driven with send/throw/close."""

    def send(self, value: object, /) -> object: ...

    def throw(self, exc: BaseException, /) -> object: ...

    def close(self) -> None: ...


class Resumed:
    """The rest of a coroutine that was run by hand up to its first suspension (it yielded `pending`), as an
    awaitable: awaiting it goes on exactly where the coroutine stopped (what `yield from` does with a fresh one)."""

    __slots__ = ("coro", "pending")

    def __init__(self, coro: Step, pending: object) -> None:
        self.coro = coro
        self.pending = pending

    def __await__(self) -> Generator[object, object, object]:
        coro, pending = self.coro, self.pending
        while True:
            try:
                sent = yield pending
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # thrown in (a cancellation): passed on to the coroutine
                try:
                    pending = coro.throw(exc)
                except StopIteration as stop:
                    return cast(object, stop.value)
            else:
                try:
                    pending = coro.send(sent)
                except StopIteration as stop:
                    return cast(object, stop.value)
