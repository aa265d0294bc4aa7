"""`arb status` against the embedded broker, and against a dead one."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from core.control import control_record, publish
from core.settings import KafkaSettings
from core.topics import topic_name
from tests.conftest import REPO

pytestmark = pytest.mark.integration


def test_status_reports_topics_breakers_and_kill_switch(topics: KafkaSettings) -> None:
    publish(topics, control_record("kill_switch", "KILL_SWITCH", True, reason="test stop", source="test"))
    publish(topics, control_record("breaker:KALSHI", "BREAKER", True, reason="breaker open", source="test", value={"state": "open"}))
    proc = subprocess.run([sys.executable, "-m", "cli", "status", "--json", "--bootstrap", topics.bootstrap, "--prefix", topics.topic_prefix],
                          cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["broker"]["reachable"]
    by_name = {t["topic"]: t for t in doc["topics"]}
    assert by_name[topic_name("signals", topics)]["present"] and by_name[topic_name("signals", topics)]["partitions"] == topics.partitions
    assert doc["kill_switch"]["reason"] == "test stop" and "breaker:KALSHI" in doc["breakers"]


def test_status_exits_1_when_the_broker_is_unreachable() -> None:
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "cli", "status", "--bootstrap", "127.0.0.1:1"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "unreachable" in proc.stderr and time.monotonic() - t0 < 30
