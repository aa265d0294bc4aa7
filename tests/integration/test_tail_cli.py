"""`arb tail` prints good records and names a corrupt one by partition and offset."""

import datetime as dt
import json
import subprocess
import sys
import time

import pytest

from core import codec
from core.kafka import make_producer
from core.settings import KafkaSettings
from core.topics import topic_name

pytestmark = pytest.mark.integration


def test_tail_skips_and_names_corrupt_record(topics: KafkaSettings) -> None:
    topic = topic_name("control", topics)  # one partition: offsets are predictable
    p = make_producer(topics)
    rec = {"name": "kill_switch", "kind": "KILL_SWITCH", "active": True, "reason": "test", "value": None, "source": "test", "ts": 1}
    p.produce(topic, key="kill_switch", value=codec.encode("Control", rec))
    p.produce(topic, key="bad", value=b"\xc3\x01garbage!!")
    p.produce(topic, key="kill_switch", value=codec.encode("Control", {**rec, "active": False}))
    assert p.flush(10) == 0
    proc = subprocess.run(
        [sys.executable, "-m", "cli", "tail", "control", "--from-beginning", "--json", "--limit", "2",
         "--idle-timeout", "20", "--bootstrap", topics.bootstrap, "--prefix", topics.topic_prefix],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(ln) for ln in proc.stdout.splitlines()]
    assert [ln["value"]["active"] for ln in lines] == [True, False]
    assert [ln["offset"] for ln in lines] == [0, 2]
    assert f"undecodable record {topic}[0]@1" in proc.stderr


def test_tail_unknown_topic_is_one_line_error(kafka: KafkaSettings) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "cli", "tail", "ticks", "--idle-timeout", "1", "--bootstrap", kafka.bootstrap, "--prefix", "nope-"],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [f"arb tail: topic nope-ticks does not exist on {kafka.bootstrap}"]
    _ = codec


def _tail(s: KafkaSettings, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cli", "tail", *argv, "-b", s.bootstrap, "--prefix", s.topic_prefix],
                          capture_output=True, text=True, timeout=60)


def test_tail_prints_json_lines_in_dollars_and_contracts_and_exits_at_the_end(topics: KafkaSettings) -> None:
    """Issue 28: `11:313 KEY {"price":4600}` was neither JSON lines nor readable. Now one JSON object a line, prices
    and money in dollars and sizes in contracts (decimal strings), integers with --raw; -p, -o, --from and -e."""
    from tests.factories import tick

    topic = topic_name("ticks", topics)
    p = make_producer(topics)
    t0 = (int(time.time()) - 3600) * 1000  # the past: a broker refuses timestamps too far ahead (topic config message.timestamp.after.max.ms)
    errors: list[object] = []
    for i, price in enumerate((4600, 4700, 4800)):
        rec = tick("K-BUF", bids=[(price, 1250)], asks=[(price + 100, 100)])
        p.produce(topic, partition=3, key=rec["game_id"], value=codec.encode("Tick", {**rec, "tick_id": f"t{i}"}), timestamp=t0 + i * 1000,
                  on_delivery=lambda err, _m: errors.append(err) if err else None)
    p.produce(topic, partition=5, key="other", value=codec.encode("Tick", tick("K-KC")), timestamp=t0)
    assert p.flush(10) == 0 and not errors, errors

    plain = subprocess.run([sys.executable, "-m", "cli", "tail", "ticks", "--from-beginning", "--limit", "4", "--idle-timeout", "10",
                            "--bootstrap", topics.bootstrap, "--prefix", topics.topic_prefix], capture_output=True, text=True, timeout=60)
    assert plain.returncode == 0, plain.stderr
    values = [json.loads(ln)["value"] for ln in plain.stdout.splitlines()]  # JSON lines, not `3:0 KEY {...}`
    assert sorted(v["bids"][0]["price"] for v in values if v["bids"]) == ["0.46", "0.47", "0.48"], values

    proc = _tail(topics, "-t", "ticks", "-p", "3", "-o", "beginning", "-e")
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(ln) for ln in proc.stdout.splitlines()]
    assert [ln["offset"] for ln in lines] == [0, 1, 2] and {ln["partition"] for ln in lines} == {3}
    assert lines[0]["value"]["bids"] == [{"price": "0.46", "size": "12.5"}] and lines[0]["value"]["asks"][0]["price"] == "0.47"
    when = dt.datetime.fromtimestamp(t0 / 1000, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert lines[0]["time"] == when and lines[0]["type"] == "Tick" and lines[0]["key"] == "nfl-20261129-buf-kc"

    raw = [json.loads(ln) for ln in _tail(topics, "ticks", "-p", "3", "-o", "-1", "-e", "--raw").stdout.splitlines()]
    assert [r["value"]["bids"] for r in raw] == [[{"price": 4800, "size": 1250}]]

    since = [json.loads(ln) for ln in _tail(topics, "ticks", "--from", str(t0 + 1000), "-e").stdout.splitlines()]
    assert [(r["partition"], r["offset"]) for r in since] == [(3, 1), (3, 2)]

    counted = _tail(topics, "ticks", "-o", "beginning", "-c", "2")
    assert counted.returncode == 0 and len(counted.stdout.splitlines()) == 2
