"""`arb broker`: starts, creates topics, stops on SIGTERM; a taken port is a one-line error, exit 2."""

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from localkafka.broker import free_port
from localkafka.dist import read_lock

pytestmark = pytest.mark.integration


def test_taken_port_exits_2() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        proc = subprocess.run([sys.executable, "-m", "cli", "broker", "--port", str(port)], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"arb broker: port {port} on 127.0.0.1 is already in use"


def test_missing_java_exits_2(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = {**os.environ, "JAVA_HOME": str(tmp_path / "no-jdk")}
    proc = subprocess.run([sys.executable, "-m", "cli", "broker", "--port", str(free_port())], capture_output=True, text=True, timeout=30, env=env)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "Kafka needs Java 17 or newer and none was found" in proc.stderr


def test_too_old_java_exits_2(tmp_path) -> None:  # type: ignore[no-untyped-def]
    fake = tmp_path / "jdk8" / "bin" / "java"
    fake.parent.mkdir(parents=True)
    fake.write_text('#!/bin/sh\necho \'openjdk version "1.8.0_392"\' >&2\n')
    fake.chmod(0o755)
    env = {**os.environ, "JAVA_HOME": str(tmp_path / "jdk8")}
    proc = subprocess.run([sys.executable, "-m", "cli", "broker", "--port", str(free_port())], capture_output=True, text=True, timeout=30, env=env)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "Kafka needs Java 17 or newer" in proc.stderr and "is 8" in proc.stderr


def test_runs_creates_topics_keeps_data_and_stops_on_sigterm(tmp_path) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    data = tmp_path / "kafka"
    proc = subprocess.Popen([sys.executable, "-m", "cli", "broker", "--port", str(port), "--prefix", "b.", "--data-dir", str(data)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        lines = []
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not any("b.dlq" in ln for ln in lines):
            lines.append(proc.stdout.readline())
        assert lines[0].startswith(f"broker listening on 127.0.0.1:{port} (Apache Kafka {read_lock().kafka_version}, data in {data})")
        assert any(ln.startswith("topic b.ticks: created") for ln in lines)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=40) == 0
        assert (data / "log" / "meta.properties").is_file()  # formatted storage stays for the next start
        with socket.socket() as s:  # the child broker is gone too
            assert s.connect_ex(("127.0.0.1", port)) != 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_killed_arb_broker_takes_kafka_with_it() -> None:
    # SIGKILL gives `arb broker` no chance to stop its JVM: the parent-death signal must (else a killed
    # test run or benchmark leaves a broker running, holding a core and its port).
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "cli", "broker", "--port", str(port), "--no-topics"], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().startswith(f"broker listening on 127.0.0.1:{port}")
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) != 0:
                    return
            time.sleep(0.2)
        raise AssertionError(f"Kafka still listens on {port} 40 s after its parent was killed")
    finally:
        if proc.poll() is None:
            proc.kill()
