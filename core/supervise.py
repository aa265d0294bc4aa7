"""Supervision of a role's long-lived asyncio tasks: none of them ends unnoticed.

A long-lived task (a feed's read loop, the tick writer) is meant to run until the role stops. If one
ends before that (an exception, or returning, or a cancellation nobody asked for), the role is no longer
doing its job while its process, sockets and metrics can look healthy. `Supervisor` logs such an end with
its traceback, counts it (`arb_task_deaths_total{task}`), and makes `wait()` raise TaskDied, so the role
shuts down and its process exits non-zero (the container's restart policy, systemd or an operator starts
it again, from a clean state).

Restarting the task in place was the other choice, not taken: the task's state (half-applied books, a
batch taken from the hand-off) is unknown after an unexpected end; the same input usually kills it again,
and a task restarting in a loop inside a process that looks healthy is exactly the silent failure this
module exists to prevent. A dead process is visible (exit code, restart count) and starts clean.

Short-lived fire-and-forget tasks get `log_failure` as a done-callback: their exceptions are logged and
counted instead of vanishing as "Task exception was never retrieved".
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from core import metrics
from core.errors import ArbError

log = logging.getLogger(__name__)


class RoleFailed(ArbError, RuntimeError):
    """A role stopped because one of its parts failed (a supervised task, an executor partition worker): the
    command exits 1 with one line; the failure itself was logged with its traceback."""


class TaskDied(RoleFailed):
    """A supervised task ended while the role was running; the role must stop (exit non-zero)."""

    def __init__(self, name: str, error: BaseException | None) -> None:
        how = "returned" if error is None else f"failed: {type(error).__name__}: {error}"
        super().__init__(f"task {name} ended unexpectedly ({how})")
        self.task_name = name
        self.error = error


def _ending(task: asyncio.Task[Any]) -> BaseException | None:
    if task.cancelled():
        return asyncio.CancelledError("cancelled")
    return task.exception()


def log_failure(task: asyncio.Task[Any]) -> None:
    """Done-callback for short-lived tasks: log and count an exception instead of losing it."""
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        metrics.TASK_FAILURES.labels(task.get_name()).inc()
        log.error("task %s failed: %s: %s", task.get_name(), type(exc).__name__, exc, exc_info=exc)


def spawn(coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
    """A short-lived fire-and-forget task whose failure is logged and counted (see log_failure)."""
    task = asyncio.create_task(coro, name=name)
    task.add_done_callback(log_failure)
    return task


class Supervisor:
    """Starts long-lived tasks and watches them. Use from one event loop:

        sup = Supervisor(stop_event)
        sup.start(feed.run(), "feed-KALSHI")
        try:
            await sup.wait()    # returns when stop_event is set; raises TaskDied when a task ends first
        finally:
            await sup.close()   # cancels the rest

    Once `stop` is set (or close() called) tasks are expected to end: an ending is no longer a death (an
    exception is still logged).
    """

    def __init__(self, stop: asyncio.Event | None = None) -> None:
        self.tasks: dict[str, asyncio.Task[Any]] = {}
        self.died: TaskDied | None = None
        self.stop = stop if stop is not None else asyncio.Event()
        self._closing = False
        self._failed = asyncio.Event()

    def start(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        if name in self.tasks:
            coro.close()
            raise ValueError(f"a task named {name} is already supervised")
        task = asyncio.create_task(coro, name=name)
        self.tasks[name] = task
        task.add_done_callback(self._on_done)
        return task

    def _on_done(self, task: asyncio.Task[Any]) -> None:
        name = task.get_name()
        error = _ending(task)
        if self._closing or self.stop.is_set():
            if error is not None and not isinstance(error, asyncio.CancelledError):
                log.error("task %s failed while stopping: %s: %s", name, type(error).__name__, error, exc_info=error)
            return
        metrics.TASK_DEATHS.labels(name).inc()
        if error is None:
            log.critical("task %s returned while the role was running; stopping the role", name)
        else:
            log.critical("task %s ended unexpectedly (%s: %s); stopping the role", name, type(error).__name__, error, exc_info=error)
        if self.died is None:
            self.died = TaskDied(name, error)
        self._failed.set()

    async def wait(self) -> None:
        """Until `stop` is set (normal end) or a task ends first (TaskDied)."""
        if self.died is None:
            stopping = asyncio.ensure_future(self.stop.wait())
            failing = asyncio.ensure_future(self._failed.wait())
            try:
                await asyncio.wait({stopping, failing}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                stopping.cancel()
                failing.cancel()
        if self.died is not None:
            raise self.died

    async def close(self) -> None:
        """Cancel every task still running and wait for them; endings from now on are expected."""
        self._closing = True
        for task in self.tasks.values():
            task.cancel()
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)
