"""`arb tail` prints good records and names a corrupt one by partition and offset."""

import json
import subprocess
import sys

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
