"""`arb broker`: starts, creates topics, stops on SIGTERM; a taken port is a one-line error, exit 2."""

import signal
import socket
import subprocess
import sys
import time

import pytest

from core.broker import free_port

pytestmark = pytest.mark.integration


def test_taken_port_exits_2() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        proc = subprocess.run([sys.executable, "-m", "cli", "broker", "--port", str(port)], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"arb broker: port {port} on 127.0.0.1 is already in use"


def test_missing_binary_exits_2(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import os

    env = {**os.environ, "ARB_TANSU_BIN": str(tmp_path / "nope")}
    proc = subprocess.run([sys.executable, "-m", "cli", "broker", "--port", str(free_port())], capture_output=True, text=True, timeout=30, env=env)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1 and "does not exist" in proc.stderr


def test_runs_creates_topics_and_stops_on_sigterm() -> None:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "cli", "broker", "--port", str(port), "--prefix", "b."],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        lines = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any("b.dlq" in ln for ln in lines):
            lines.append(proc.stdout.readline())
        assert lines[0].strip() == f"broker listening on 127.0.0.1:{port}"
        assert any(ln.startswith("topic b.ticks: created") for ln in lines)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        with socket.socket() as s:  # the child broker is gone too
            assert s.connect_ex(("127.0.0.1", port)) != 0
    finally:
        if proc.poll() is None:
            proc.kill()
