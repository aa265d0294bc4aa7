"""Ticks in -> signals out through a real Faust worker (`arb process`) on Kafka.
Reprocessing the same ticks (another worker group, from the beginning) yields the same signal_ids and
deadlines as the first run and as the offline detector."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from core import codec
from core.kafka import make_producer
from core.settings import KafkaSettings
from core.topics import topic_name
from processors.detector import detect_all
from processors.settings import DetectorSettings
from schemas.records import MarketPairing, Tick, from_dict
from tests.factories import pairing, tick
from tests.kafka_helpers import read_records

pytestmark = pytest.mark.integration


def worker(s: KafkaSettings, tmp: Path, app_id: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "ARB_BOOTSTRAP": s.bootstrap, "ARB_TOPIC_PREFIX": s.topic_prefix, "ARB_PROCESSOR_ID": app_id,
           "ARB_FAUST_DATADIR": str(tmp / app_id), "ARB_SESSION_TIMEOUT_MS": "6000", "ARB_FAUST_REQUEST_TIMEOUT_S": "20"}
    # stderr to a file: a pipe nobody reads would block the worker once full
    return subprocess.Popen([sys.executable, "-m", "cli", "process"], env=env, stdout=subprocess.DEVNULL, stderr=(tmp / f"{app_id}.log").open("ab"))


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def test_ticks_to_signals_deterministic(topics: KafkaSettings, tmp_path: Path) -> None:
    p = pairing()
    games = [f"nfl-2026112{i}-buf-kc" for i in range(3)]
    prod = make_producer(topics)
    ticks: list[dict[str, Any]] = []
    for n, g in enumerate(games):
        pg = {**p, "game_id": g}
        prod.produce(topic_name("markets", topics), key=g, value=codec.encode("MarketPairing", pg))
        ts = 1_795_000_000_000_000 + n * 10_000
        ticks += [tick("K-BUF", asks=[(4500, 1000)], game_id=g, ts=ts), tick("K-KC", asks=[(5000 + 100 * n, 1000)], game_id=g, ts=ts + 1000)]
    # more depth on both books (each updated since the first signal): a new signal
    ticks.append(tick("K-BUF", asks=[(4500, 2000)], game_id=games[0], ts=1_795_000_000_100_000, seq=8))
    ticks.append(tick("K-KC", asks=[(5000, 2000)], game_id=games[0], ts=1_795_000_000_100_500, seq=9))
    assert prod.flush(10) == 0
    for t in ticks:
        prod.produce(topic_name("ticks", topics), key=t["game_id"], value=codec.encode("Tick", t))
    prod.produce(topic_name("ticks", topics), key=games[0], value=b"\xc3\x01 not avro")  # must be dead-lettered, not fatal
    assert prod.flush(10) == 0
    expected = detect_all([from_dict(Tick, t) for t in ticks], {g: from_dict(MarketPairing, {**p, "game_id": g}) for g in games}, DetectorSettings())
    assert len(expected) >= 2  # game 0 twice (more depth later); game 2 is below the fee line

    first = worker(topics, tmp_path, "proc-a")
    try:
        msgs = read_records(topics, topic_name("signals", topics), len(expected), timeout=90)
    finally:
        stop(first)
    got = {codec.decode(m.value(), "Signal")["signal_id"]: codec.decode(m.value(), "Signal") for m in msgs}
    assert {s.signal_id: s.deadline_ts for s in expected} == {k: v["deadline_ts"] for k, v in got.items()}
    for m in msgs:  # keyed by game, in the game's partition
        assert m.key().decode() == codec.decode(m.value(), "Signal")["game_id"]
    dlq = read_records(topics, topic_name("dlq", topics), 1, timeout=30)
    assert codec.decode(dlq[0].value(), "DeadLetter")["value"] == b"\xc3\x01 not avro"

    # a second group reprocesses the same ticks from the beginning: same ids, same deadlines
    second = worker(topics, tmp_path, "proc-b")
    try:
        msgs2 = read_records(topics, topic_name("signals", topics), 2 * len(expected), timeout=90)
    finally:
        stop(second)
    ids2 = [codec.decode(m.value(), "Signal")["signal_id"] for m in msgs2]
    assert sorted(ids2) == sorted(list(got) * 2)
