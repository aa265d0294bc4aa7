"""processors/low_latency.py `_wait_first`: Faust's fetcher hands each record to the app's callback raced against its
flow suspension (`wait_first(callback(message), suspend_flow.wait())`); the worker's consumer runs the callback by hand
first, and races only what has to wait. Whatever path it takes, the callback runs exactly as under Faust's own."""

from __future__ import annotations

import asyncio
import warnings
from typing import Any

import pytest
from mode import Service
from mode.utils.locks import Event

from processors.low_latency import LowLatencyConsumer, _wait_first


class Transport:
    def __init__(self, backlogged: bool = False) -> None:
        self.backlogged = lambda: backlogged


class Consumer(Service):
    """A mode Service with what `_wait_first` reads of Faust's consumer: `callback`, `transport`."""

    def __init__(self, callback: Any, backlogged: bool = False) -> None:
        super().__init__()
        self.callback = callback
        self.transport = Transport(backlogged)
        self.suspend_flow = Event()


def test_the_worker_consumer_uses_it() -> None:
    assert LowLatencyConsumer.wait_first is _wait_first


async def test_a_record_delivered_at_once_needs_no_task() -> None:
    seen: list[int] = []

    async def on_message(message: int) -> None:
        seen.append(message)

    c = Consumer(on_message)
    tasks = len(asyncio.all_tasks())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the flow's wait() is closed, never left un-awaited
        result = await _wait_first(c, on_message(1), c.suspend_flow.wait())
    assert seen == [1]
    assert result == ([result.done[0]], [None], False)
    assert len(asyncio.all_tasks()) == tasks


async def test_a_backlogged_stream_gets_a_loop_step_after_each_record() -> None:
    steps: list[str] = []

    async def on_message(message: int) -> None:
        steps.append(f"record {message}")

    async def agent() -> None:
        steps.append("agent")

    c = Consumer(on_message, backlogged=True)
    other = asyncio.ensure_future(agent())
    await _wait_first(c, on_message(1), c.suspend_flow.wait())
    assert steps == ["record 1", "agent"]
    await other


async def test_a_record_that_has_to_wait_goes_on_from_where_it_stopped() -> None:
    gate = asyncio.Event()
    steps: list[str] = []

    async def on_message(message: int) -> None:
        steps.append("before")
        await gate.wait()  # e.g. flow control, a full producer buffer
        await asyncio.sleep(0)
        steps.append("after")

    c = Consumer(on_message)
    waiting = asyncio.ensure_future(_wait_first(c, on_message(1), c.suspend_flow.wait()))
    await asyncio.sleep(0.01)
    assert steps == ["before"] and not waiting.done()
    gate.set()
    result = await waiting
    assert steps == ["before", "after"]
    assert not result.stopped and len(result.done) == 1


async def test_a_suspended_flow_cancels_a_waiting_record_as_faust_does() -> None:
    steps: list[str] = []

    async def on_message(message: int) -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            steps.append("cancelled")
            raise

    c = Consumer(on_message)
    waiting = asyncio.ensure_future(_wait_first(c, on_message(1), c.suspend_flow.wait()))
    await asyncio.sleep(0.01)
    c.suspend_flow.set()
    result = await waiting
    await asyncio.sleep(0)
    assert steps == ["cancelled"]
    assert result.results == [True] and not result.stopped  # the flow's wait won, as with Faust's own


@pytest.mark.parametrize("wait_first", [False, True])
async def test_an_error_of_the_callback_propagates(wait_first: bool) -> None:
    gate = asyncio.Event()

    async def on_message(message: int) -> None:
        if wait_first:
            await gate.wait()
        raise ValueError("bad record")

    c = Consumer(on_message)
    waiting = asyncio.ensure_future(_wait_first(c, on_message(1), c.suspend_flow.wait()))
    await asyncio.sleep(0)
    gate.set()
    with pytest.raises(ValueError, match="bad record"):
        await waiting


async def test_anything_else_is_modes_wait_first() -> None:
    async def on_message(message: int) -> None:
        return None

    async def other() -> str:
        return "x"

    c = Consumer(on_message)
    result = await _wait_first(c, other(), c.suspend_flow.wait())
    assert result.results == ["x"] and not result.stopped
    result = await _wait_first(c, other(), timeout=1.0)
    assert result.results == ["x"]
