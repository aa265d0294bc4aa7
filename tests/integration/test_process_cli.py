"""`arb process` fails fast like every other command (issue 28): a broker that is down is one line and exit 1, a prefix
without the pipeline's topics one line and exit 2, within seconds and without Faust's traceback."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.kafka import make_admin
from core.settings import KafkaSettings
from localkafka.broker import free_port
from tests.conftest import REPO

pytestmark = pytest.mark.integration


def process(tmp: Path, *argv: str) -> tuple[subprocess.CompletedProcess[str], float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARB_")}
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "cli", "process", *argv], cwd=REPO, capture_output=True, text=True, timeout=60,
                          env={**env, "ARB_METRICS_PORT": "0", "ARB_FAUST_DATADIR": str(tmp)})
    return proc, time.monotonic() - t0


def one_line(proc: subprocess.CompletedProcess[str], code: int) -> str:
    assert proc.returncode == code, (proc.returncode, proc.stderr[-3000:])
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("arb process: "), proc.stderr[-3000:]
    return lines[0]


def test_process_with_kafka_down(tmp_path: Path) -> None:
    dead = f"127.0.0.1:{free_port()}"
    proc, took = process(tmp_path, "-b", dead)
    assert one_line(proc, 1).startswith(f"arb process: cannot reach Kafka at {dead}")
    assert took < 15, took


def test_process_on_a_prefix_without_topics(kafka: KafkaSettings, tmp_path: Path) -> None:
    proc, took = process(tmp_path, "-b", kafka.bootstrap, "--prefix", kafka.topic_prefix, "-l", "info")
    line = one_line(proc, 2)
    assert f"{kafka.topic_prefix}ticks" in line and f"`arb topics create --prefix {kafka.topic_prefix}`" in line, line
    assert not [t for t in make_admin(kafka).list_topics(timeout=10).topics if t.startswith(kafka.topic_prefix)]  # Faust's neither
    assert took < 20, took
