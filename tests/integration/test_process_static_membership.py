"""ARB_FAUST_INSTANCE_ID (Kafka static membership): a processor worker SIGKILLed and restarted with the same id is
ready again before its dead predecessor's session (here 30 s) times out; with dynamic membership the group waits
the whole session timeout first. The processor-kill recovery goal (≤ 2 s) depends on it."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from bench.worker_rig import start_worker, stop_workers
from core.settings import KafkaSettings

pytestmark = pytest.mark.integration

SESSION_S = 30


def _ready_count(log: Path) -> int:
    return log.read_text(errors="replace").count("worker ready") if log.exists() else 0


def _wait_ready(log: Path, n: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if _ready_count(log) >= n:
            return True
        time.sleep(0.1)
    return False


def test_a_restarted_worker_with_the_same_instance_id_is_ready_before_the_session_times_out(topics: KafkaSettings, tmp_path: Path) -> None:
    log = tmp_path / "process.log"
    env = {"ARB_SESSION_TIMEOUT_MS": str(SESSION_S * 1000), "ARB_FAUST_REQUEST_TIMEOUT_S": str(SESSION_S + 10),
           "ARB_FAUST_INSTANCE_ID": "proc-{hostname}"}
    worker = start_worker(topics, tmp_path / "faust", log, env, loglevel="info")
    try:
        assert _wait_ready(log, 1, 60), log.read_text()[-3000:]
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
        worker = start_worker(topics, tmp_path / "faust", log, env, loglevel="info")
        assert _wait_ready(log, 2, SESSION_S / 2), "not ready within half the session timeout: " + log.read_text()[-2000:]
    finally:
        stop_workers(worker)
