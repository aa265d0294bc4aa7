"""ARB_EXEC_INSTANCE_ID (Kafka static membership): an executor SIGKILLed and restarted with the same id gets its
partitions back at once; with dynamic membership the group waits for the dead member's session to time out (here
30 s) first. The executor-kill recovery goal (≤ 2 s) depends on it."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from bench import chaos_rig as cr
from core.settings import KafkaSettings
from executor.run import build
from executor.service import WorkerFailed
from executor.settings import ExecutorSettings
from tests.kafka_helpers import eventually

pytestmark = pytest.mark.integration

SESSION_TIMEOUT_MS = 30_000


def test_a_restarted_executor_with_the_same_instance_id_is_assigned_before_the_session_times_out(tmp_path: Path) -> None:
    rig = cr.Rig(tmp_path, session_timeout_ms=SESSION_TIMEOUT_MS, executor_env={"ARB_EXEC_INSTANCE_ID": "exec-{hostname}"})
    try:
        rig.start_executor()
        assert rig.wait_assigned(60), (tmp_path / "execute.log").read_text()[-3000:]
        rig.kill_executor()
        t0 = time.monotonic()
        rig.start_executor()
        assert rig.wait_assigned(SESSION_TIMEOUT_MS / 1000 / 3), "not assigned within a third of the session timeout"
        assert time.monotonic() - t0 < SESSION_TIMEOUT_MS / 1000 / 3
    finally:
        rig.close()


async def test_a_second_executor_with_the_same_instance_id_stops_the_first(topics: KafkaSettings) -> None:
    """Two live executors configured with one ARB_EXEC_INSTANCE_ID: the newer takes the partitions and the older stops
    on the broker's fatal FENCED_INSTANCE_ID (visibly: run() raises), never keeps consuming beside it."""

    settings = ExecutorSettings(recovery_window_ms=500, lookup_grace_ms=500, instance_id="twin")
    first, first_closers = build(topics, settings)
    first_run = asyncio.create_task(first.run())
    second, second_closers = build(topics, settings)
    second_run: asyncio.Task[None] | None = None
    try:
        await eventually(first.ready, 60)
        second_run = asyncio.create_task(second.run())
        await eventually(second.ready, 60)
        with pytest.raises(WorkerFailed):
            await asyncio.wait_for(first_run, 30)
        assert "FENCED_INSTANCE_ID" in str(first.failure) or "fenced" in str(first.failure).lower(), first.failure
        assert not second_run.done()
    finally:
        for service, task in ((first, first_run), (second, second_run)):
            service.stop()
            if task is not None:
                await asyncio.gather(task, return_exceptions=True)
        for c in [*first_closers, *second_closers]:
            await c.aclose() if hasattr(c, "aclose") else c.stop()
