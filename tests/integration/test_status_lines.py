"""Long-running roles show they work without Prometheus (issue 28): with ARB_STATUS_INTERVAL_S=1 each logs a JSON INFO
`status: ROLE ...` line within a bounded time, reading its real counters; `arb process` (with -l/-b) logs `worker ready`
once its partitions are assigned; `arb execute` logs its start-up banner. Each role runs as `arb` in a subprocess on the
test broker, on 127.0.0.1."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from core import codec
from core.kafka import make_producer
from core.settings import KafkaSettings
from core.topics import topic_name
from localkafka.broker import free_port
from tests.conftest import REPO
from tests.factories import tick

pytestmark = pytest.mark.integration


class Role:
    """An `arb` subprocess whose stderr (JSON log lines) is collected by a thread."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.lines: list[dict[str, Any]] = []
        self.raw: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.raw.append(line)
            try:
                self.lines.append(json.loads(line))
            except ValueError:
                pass

    def wait_for(self, pred: Callable[[dict[str, Any]], bool], what: str, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = next((rec for rec in list(self.lines) if pred(rec)), None)
            if found is not None:
                return found
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"no {what} within {timeout} s (exit {self.proc.poll()}); stderr tail:\n{''.join(self.raw[-30:])}")


@contextmanager
def role(*argv: str, env: dict[str, str]) -> Iterator[Role]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("ARB_")}
    proc = subprocess.Popen([sys.executable, "-m", "cli", *argv], cwd=REPO, text=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**base, "ARB_METRICS_PORT": "0", "ARB_LOG_FORMAT": "json", "ARB_STATUS_INTERVAL_S": "1", **env},
                            start_new_session=True)
    try:
        yield Role(proc)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def status_of(role_name: str, **fields: str) -> Callable[[dict[str, Any]], bool]:
    """A JSON INFO line `status: ROLE ... k=v ...` with these fields."""
    def pred(rec: dict[str, Any]) -> bool:
        msg = rec.get("msg", "")
        return rec.get("level") == "INFO" and msg.startswith(f"status: {role_name} ") and all(f" {k}={v}" in msg for k, v in fields.items())
    return pred


@pytest.mark.timeout(180)
def test_process_says_worker_ready_and_counts_ticks(topics: KafkaSettings, tmp_path: Path) -> None:
    with role("process", "-l", "info", "-b", topics.bootstrap, "--prefix", topics.topic_prefix,
              env={"ARB_FAUST_DATADIR": str(tmp_path / "faust")}) as proc:
        ready = proc.wait_for(lambda r: r.get("level") == "INFO" and "worker ready" in r.get("msg", ""), "worker ready line", 60)
        assert "ticks partitions 0-11" in ready["msg"], ready
        proc.wait_for(status_of("process", state="processing", partitions="0-11"), "status line", 10)
        prod = make_producer(topics)
        for seq in range(3):
            t = tick("K-BUF", asks=[(3800 + seq, 1000)], seq=seq)
            prod.produce(topic_name("ticks", topics), key=t["game_id"], value=codec.encode("Tick", t))
        assert prod.flush(10) == 0
        proc.wait_for(status_of("process", ticks_in="3"), "status line with the 3 ticks read", 30)


@pytest.mark.timeout(180)
def test_execute_logs_its_banner_and_a_status_line(topics: KafkaSettings) -> None:
    with role("execute", "--paper", "-b", topics.bootstrap, "--prefix", topics.topic_prefix, env={}) as proc:
        banner = proc.wait_for(lambda r: r.get("msg", "").startswith("executor starting: "), "banner", 60)
        assert banner["level"] == "INFO" and banner["msg"].startswith("executor starting: PAPER: "), banner
        assert "limits: exposure at most $10,000.00 in all and $1,000.00 per game" in banner["msg"], banner
        proc.wait_for(status_of("execute", state="trading", mode="paper", partitions="0-11", signals_in="0", kill_switch="off"),
                      "status line", 90)


@pytest.mark.timeout(120)
def test_produce_shows_a_feed_that_cannot_connect(topics: KafkaSettings) -> None:
    dead = free_port()
    with role("produce", "polymarket", "-b", topics.bootstrap, "--prefix", topics.topic_prefix,
              env={"ARB_POLY_WS_URL": f"ws://127.0.0.1:{dead}/ws", "ARB_POLY_CLOB_URL": f"http://127.0.0.1:{dead}"}) as proc:
        first = proc.wait_for(status_of("produce", polymarket="disconnected", ticks_out="0"), "status line", 30)
        reconnects = int(first["msg"].split("polymarket_reconnects=")[1].split()[0])
        proc.wait_for(lambda r: status_of("produce", polymarket="disconnected")(r)
                      and int(r["msg"].split("polymarket_reconnects=")[1].split()[0]) > reconnects, "reconnects counted", 30)


@pytest.mark.timeout(60)
def test_notify_counts_alerts_received_and_refused() -> None:
    port = free_port()
    with role("notify", "--host", "127.0.0.1", "--port", str(port), env={}) as proc:
        proc.wait_for(lambda r: "webhook receiver on" in r.get("msg", ""), "receiver start", 20)
        alert = {"receiver": "arb-notify", "status": "firing", "version": "4", "groupKey": "{}", "groupLabels": {"alertname": "ArbX"},
                 "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://alertmanager:9093", "truncatedAlerts": 0,
                 "alerts": [{"status": "firing", "labels": {"alertname": "ArbX", "severity": "critical"}, "annotations": {"summary": "x"},
                             "startsAt": "2026-12-06T16:00:00Z", "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "", "fingerprint": "f"}]}
        for body, code in ((json.dumps(alert).encode(), 200), (b"not json", 400)):
            answer = httpx.post(f"http://127.0.0.1:{port}/alerts", content=body, headers={"Content-Type": "application/json"}, timeout=5)
            assert answer.status_code == code, answer.text
        # No webhook URL: the alert is only logged, so it counts as failed, not posted.
        proc.wait_for(status_of("notify", received="1", posted="0", failed="1", refused="1"), "status line with the counts", 10)


@pytest.mark.timeout(120)
def test_discover_counts_its_rounds(topics: KafkaSettings) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    with role("discover", "--every", "0.5", "-b", topics.bootstrap, "--prefix", topics.topic_prefix,
              env={"ARB_KALSHI_REST_URL": dead, "ARB_GAMMA_URL": dead, "ARB_POLY_CLOB_URL": dead}) as proc:
        # Venues that cannot be read: rounds go on, each reported failed, nothing published.
        proc.wait_for(lambda r: status_of("discover", published="0", games_on_markets="0")(r)
                      and " rounds=0 " not in r["msg"] and " failed_rounds=0 " not in r["msg"], "status line counting failed rounds", 60)
