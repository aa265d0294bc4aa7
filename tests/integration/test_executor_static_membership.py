"""ARB_EXEC_INSTANCE_ID (Kafka static membership): an executor SIGKILLed and restarted with the same id gets its
partitions back at once; with dynamic membership the group waits for the dead member's session to time out (here
30 s) first. The executor-kill recovery goal (≤ 2 s) depends on it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bench import chaos_rig as cr

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
