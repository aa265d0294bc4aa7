"""`arb record` / `arb replay` on a local Apache Kafka: a recorded window replayed with --detect --diff
matches the recorded signals; a higher minimum edge makes signals vanish; --into a fresh prefix plus a
second processor there yields the same signal_ids."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from core import codec
from core.kafka import make_admin, make_producer
from core.settings import KafkaSettings
from core.topic_admin import ensure_topics
from core.topics import topic_name
from processors.detector import detect_all
from processors.settings import DetectorSettings
from recording import container
from recording.window import read_window
from schemas.records import MarketPairing, Tick, from_dict
from tests.conftest import REPO
from tests.factories import pairing, tick
from tests.kafka_helpers import read_records

pytestmark = pytest.mark.integration


def arb(kafka: KafkaSettings, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cli", *args, "--bootstrap", kafka.bootstrap, "--prefix", kafka.topic_prefix], cwd=REPO,
                          capture_output=True, text=True, timeout=120, env={**os.environ, **(env or {})})


def worker(kafka: KafkaSettings, prefix: str, tmp: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "ARB_BOOTSTRAP": kafka.bootstrap, "ARB_TOPIC_PREFIX": prefix, "ARB_FAUST_DATADIR": str(tmp / prefix),
           "ARB_SESSION_TIMEOUT_MS": "6000", "ARB_FAUST_REQUEST_TIMEOUT_S": "20"}
    return subprocess.Popen([sys.executable, "-m", "cli", "process"], cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)


def stop(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


@pytest.mark.timeout(300)
def test_record_detect_diff_and_into(topics: KafkaSettings, tmp_path: Path) -> None:
    p = pairing()
    games = [f"nfl-202611{d:02d}-buf-kc" for d in range(1, 7)]
    prod = make_producer(topics)
    ticks: list[dict[str, Any]] = []
    for n, g in enumerate(games):
        prod.produce(topic_name("markets", topics), key=g, value=codec.encode("MarketPairing", {**p, "game_id": g}))
        ts = 1_795_000_000_000_000 + n * 10_000
        ticks += [tick("K-BUF", asks=[(3800, 1000)], game_id=g, ts=ts), tick("K-KC", asks=[(5000 + 20 * n, 1000)], game_id=g, ts=ts + 1000)]
    for t in ticks:
        prod.produce(topic_name("ticks", topics), key=t["game_id"], value=codec.encode("Tick", t))
    assert prod.flush(10) == 0
    expected = detect_all([from_dict(Tick, t) for t in ticks], {g: from_dict(MarketPairing, {**p, "game_id": g}) for g in games}, DetectorSettings())
    assert len(expected) >= 4
    w = worker(topics, topics.topic_prefix, tmp_path)
    try:
        live = read_records(topics, topic_name("signals", topics), len(expected), timeout=120)
    finally:
        stop(w)
    live_ids = {codec.decode(m.value(), "Signal")["signal_id"] for m in live}

    files = {}
    for t in ("ticks", "signals", "markets"):
        files[t] = tmp_path / f"{t}.avro"
        r = arb(topics, "record", "--topic", t, "-o", str(files[t]))
        assert r.returncode == 0, r.stderr
    rows = list(container.read(files["ticks"]))
    assert len(rows) == len(ticks) and {r["type"] for r in rows} == {"Tick"} and all(r["timestamp_ms"] > 0 for r in rows)

    same = arb(topics, "replay", "--file", str(files["ticks"]), "--detect", "--diff", "--markets", str(files["markets"]), "--signals", str(files["signals"]))
    assert same.returncode == 0, same.stdout + same.stderr
    d = json.loads(same.stdout)
    assert d["appear"] == [] and d["vanish"] == [] and d["same"] == len(live_ids) >= 4

    stricter = arb(topics, "replay", "--file", str(files["ticks"]), "--detect", "--diff", "--markets", str(files["markets"]),
                   "--signals", str(files["signals"]), env={"ARB_MIN_EDGE_MONEY": "800000"})
    assert stricter.returncode == 1
    d2 = json.loads(stricter.stdout)
    assert d2["vanish"] and {v["signal_id"] for v in d2["vanish"]} < live_ids and d2["appear"] == [] and d2["same"] >= 1

    fresh = topics.topic_prefix + "replay."
    # replay creates no topic (only `arb topics create` does): the second pipeline's prefix is made first
    assert all(r.ok for r in ensure_topics(make_admin(topics), replace(topics, topic_prefix=fresh)))
    for t in ("markets", "ticks"):
        r = arb(topics, "replay", "--file", str(files[t]), "--into", fresh)
        assert r.returncode == 0, r.stderr
    w2 = worker(topics, fresh, tmp_path)
    try:
        again = read_records(topics, fresh + "signals", len(live_ids), timeout=120)
    finally:
        stop(w2)
    assert {codec.decode(m.value(), "Signal")["signal_id"] for m in again} == live_ids


def test_a_time_window_is_exact_when_timestamps_are_out_of_order(topics: KafkaSettings) -> None:
    """Each partition from its first record at or after the start (offsets-for-times) to its end: a record
    inside the window that follows one after it is still read, one before the start is not."""
    topic = topic_name("ticks", topics)
    base = int(time.time() * 1000) - 60_000
    layout = {0: [0, 10, 30, 20, 50, 25, 60], 1: [0, 5], 2: [40]}  # ms after base, in log order
    prod = make_producer(topics)
    for p, deltas in layout.items():
        for d in deltas:
            prod.produce(topic, partition=p, key=f"g{p}", value=str(d).encode(), timestamp=base + d)
    assert prod.flush(10) == 0

    started = time.monotonic()
    window = [(r["partition"], r["timestamp_ms"] - base) for r in read_window(topics, topic, base + 10, base + 30, timeout_s=60)]
    assert sorted(window) == [(0, 10), (0, 20), (0, 25), (0, 30)]
    head = [(r["partition"], r["timestamp_ms"] - base) for r in read_window(topics, topic, None, base + 5, timeout_s=60)]
    assert sorted(head) == [(0, 0), (1, 0), (1, 5)]
    assert time.monotonic() - started < 30  # both reads ended at the partitions' ends, not at the timeout
