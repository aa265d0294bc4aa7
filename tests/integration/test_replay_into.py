"""`arb replay --into PREFIX` creates no topic (issue 28: only `arb topics create` does): a prefix without the
registry's topics, or with one of another shape, is refused with one line naming the command that creates them, exit 2,
before anything is read or written; a prefix made by `arb topics create` gets the records."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import replace

import pytest
from confluent_kafka.admin import NewTopic

from core import codec
from core.kafka import make_admin, make_producer
from core.settings import KafkaSettings
from core.topics import topic_name
from tests.conftest import REPO
from tests.factories import tick
from tests.kafka_helpers import read_records

pytestmark = pytest.mark.integration


def arb(*argv: str) -> tuple[subprocess.CompletedProcess[str], float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARB_")}
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "cli", *argv], cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={**env, "ARB_METRICS_PORT": "0"})
    return proc, time.monotonic() - t0


def under(s: KafkaSettings, prefix: str) -> list[str]:
    return sorted(t for t in make_admin(s).list_topics(timeout=10).topics if t.startswith((prefix, s.paper_prefix + prefix)))


def ticks_window(topics: KafkaSettings, n: int = 3) -> tuple[str, str]:
    """n ticks on the source prefix; the window (epoch ms) that holds them."""
    start = int(time.time() * 1000) - 1000
    prod = make_producer(topics)
    for seq in range(n):
        t = tick("K-BUF", asks=[(3800 + seq, 1000)], seq=seq)
        prod.produce(topic_name("ticks", topics), key=t["game_id"], value=codec.encode("Tick", t))
    assert prod.flush(10) == 0
    return str(start), str(int(time.time() * 1000) + 1000)


def replay_into(topics: KafkaSettings, target: str, window: tuple[str, str]) -> tuple[subprocess.CompletedProcess[str], float]:
    return arb("replay", "-t", "ticks", "--from", window[0], "--to", window[1], "--into", target,
               "-b", topics.bootstrap, "--prefix", topics.topic_prefix)


def refusal(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr[-3000:])
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("arb replay: "), proc.stderr[-3000:]
    return lines[0]


def test_replay_into_a_prefix_without_topics_refuses_and_creates_none(topics: KafkaSettings) -> None:
    target = topics.topic_prefix + "typo."
    proc, took = replay_into(topics, target, ticks_window(topics))
    line = refusal(proc)
    assert f"{target}ticks" in line and "do not exist" in line and f"`arb topics create --prefix {target}`" in line, line
    assert under(topics, target) == []
    assert took < 30, took


def test_replay_into_a_prefix_with_a_mis_shaped_topic_refuses(topics: KafkaSettings) -> None:
    target = topics.topic_prefix + "odd."
    subprocess.run([sys.executable, "-m", "cli", "topics", "create", "-b", topics.bootstrap, "--prefix", target], cwd=REPO, check=True,
                   capture_output=True, timeout=60)
    admin = make_admin(topics)
    odd = topic_name("signals", replace(topics, topic_prefix=target))
    admin.delete_topics([odd], request_timeout=15)[odd].result()
    deadline = time.monotonic() + 20
    while True:  # deletion is asynchronous on the broker: create again once it is gone
        try:
            admin.create_topics([NewTopic(odd, num_partitions=3, replication_factor=1)], request_timeout=15)[odd].result()
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    while len(getattr(admin.list_topics(timeout=10).topics.get(odd), "partitions", {})) != 3:  # until brokers list the new one
        assert time.monotonic() < deadline, f"{odd} not listed with 3 partitions"
        time.sleep(0.1)
    before = under(topics, target)
    line = refusal(replay_into(topics, target, ticks_window(topics))[0])
    assert f"topic {odd} differs from the registry (has 3 partitions, registry says 12" in line, line
    assert f"`arb topics create --prefix {target}`" in line and "does not exist" not in line, line
    assert under(topics, target) == before


def test_replay_into_a_created_prefix_republishes(topics: KafkaSettings) -> None:
    target = topics.topic_prefix + "copy."
    created = subprocess.run([sys.executable, "-m", "cli", "topics", "create", "-b", topics.bootstrap, "--prefix", target], cwd=REPO,
                             capture_output=True, text=True, timeout=60)
    assert created.returncode == 0, created.stderr
    before = under(topics, target)
    proc, _ = replay_into(topics, target, ticks_window(topics))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "3 records re-published" in proc.stderr
    assert len(read_records(topics, f"{target}ticks", 3)) == 3
    assert under(topics, target) == before
