"""Two processor workers in one group split the partitions; one is SIGKILLed mid-stream; the other takes
over its partitions, recovers the table from the changelog, and every expected signal still appears
(duplicates only with the same signal_id). Issue 11 acceptance; also the processor half of scaling."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from core import codec
from core.kafka import make_admin, make_producer
from core.settings import KafkaSettings
from core.topics import topic_name
from processors.detector import detect_all
from processors.settings import DetectorSettings
from schemas.records import MarketPairing, Tick, from_dict
from tests.conftest import REPO
from tests.factories import pairing, tick
from tests.kafka_helpers import read_records

pytestmark = pytest.mark.integration
APP = "proc-takeover"


def worker(s: KafkaSettings, tmp: Path, name: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "ARB_BOOTSTRAP": s.bootstrap, "ARB_TOPIC_PREFIX": s.topic_prefix, "ARB_PROCESSOR_ID": APP,
           "ARB_FAUST_DATADIR": str(tmp / name), "ARB_SESSION_TIMEOUT_MS": "6000", "ARB_FAUST_REQUEST_TIMEOUT_S": "20",
           "ARB_FAUST_COMMIT_INTERVAL_S": "0.5"}
    # stderr to a file (kept in pytest's basetemp): a pipe nobody reads would block the worker once full
    return subprocess.Popen([sys.executable, "-m", "cli", "process"], cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=(tmp / f"{name}.log").open("ab"),
                            start_new_session=True)


@pytest.mark.timeout(240)
def test_survivor_takes_over_and_recovers_the_table(topics: KafkaSettings, tmp_path: Path) -> None:
    p = pairing()
    games = [f"nfl-202611{d:02d}-buf-kc" for d in range(1, 13)]
    prod = make_producer(topics)
    for g in games:
        prod.produce(topic_name("markets", topics), key=g, value=codec.encode("MarketPairing", {**p, "game_id": g}))
    first: list[dict[str, Any]] = [tick("K-BUF", asks=[(4500, 1000)], game_id=g, ts=1_795_000_000_000_000 + i) for i, g in enumerate(games)]
    second: list[dict[str, Any]] = [tick("K-KC", asks=[(5000, 1000)], game_id=g, ts=1_795_000_000_000_500 + i) for i, g in enumerate(games)]
    expected = {s.signal_id for s in detect_all([from_dict(Tick, t) for t in first + second],
                                                {g: from_dict(MarketPairing, {**p, "game_id": g}) for g in games}, DetectorSettings())}
    assert len(expected) == len(games)  # every game needs both halves: the second half alone says nothing

    a, b = worker(topics, tmp_path, "a"), worker(topics, tmp_path, "b")
    try:
        for t in first:
            prod.produce(topic_name("ticks", topics), key=t["game_id"], value=codec.encode("Tick", t))
        assert prod.flush(10) == 0
        # Both workers folded the first half into the table: its changelog holds one entry per game.
        changelog = f"{topics.topic_prefix}{APP}-games-changelog"
        admin = make_admin(topics)
        deadline = time.monotonic() + 120
        def changelog_ready() -> bool:
            md = admin.list_topics(timeout=5).topics.get(changelog)
            return md is not None and md.error is None and len(md.partitions) == topics.partitions

        while not changelog_ready() and time.monotonic() < deadline:
            time.sleep(0.2)  # the workers declare the changelog (all its partitions) when they start
        read_records(topics, changelog, len(games), timeout=120)
        os.killpg(a.pid, signal.SIGKILL)
        a.wait()
        for t in second:
            prod.produce(topic_name("ticks", topics), key=t["game_id"], value=codec.encode("Tick", t))
        assert prod.flush(10) == 0
        msgs = read_records(topics, topic_name("signals", topics), len(games), timeout=150)
    finally:
        for proc in (a, b):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
    got = [codec.decode(m.value(), "Signal")["signal_id"] for m in msgs]
    assert set(got) == expected
