"""`arb status` against a local Apache Kafka, and against a dead one."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from confluent_kafka import TopicPartition

from core.control import control_record, publish
from core.kafka import make_consumer, make_producer
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


def test_status_lag_is_exact(topics: KafkaSettings) -> None:
    topic = topic_name("signals", topics)
    producer = make_producer(topics, **{"linger.ms": 100})
    for i in range(5):
        producer.produce(topic, partition=0, key=f"k{i}", value=b"v")
    assert producer.flush(10) == 0  # one batch of five
    group = f"{topics.topic_prefix}lag-probe"
    consumer = make_consumer(topics, group)
    try:
        consumer.commit(offsets=[TopicPartition(topic, 0, 2)], asynchronous=False)
    finally:
        consumer.close()
    proc = subprocess.run([sys.executable, "-m", "cli", "status", "--json", "--bootstrap", topics.bootstrap, "--prefix", topics.topic_prefix],
                          cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    entry = next(g for g in json.loads(proc.stdout)["groups"] if g.get("group") == group)
    assert entry["lag"] == [{"topic": topic, "partition": 0, "committed": 2, "end": 5, "lag": 3}]


def test_status_exits_1_when_the_broker_is_unreachable() -> None:
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "cli", "status", "--bootstrap", "127.0.0.1:1"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "unreachable" in proc.stderr and time.monotonic() - t0 < 30


def test_status_lists_only_the_groups_of_its_prefix(topics: KafkaSettings) -> None:
    """Issue 28: status listed every prefix's groups (a stale group of another prefix looked like this one's)."""
    topic = topic_name("signals", topics)
    producer = make_producer(topics)
    producer.produce(topic, partition=0, key="k", value=b"v")
    assert producer.flush(10) == 0
    ours, longer, foreign = f"{topics.topic_prefix}probe", f"{topics.topic_prefix}x.probe", f"other{topics.topic_prefix}probe"
    for group, committed_topic in ((ours, topic), (longer, f"{topics.topic_prefix}x.signals"), (foreign, topic)):
        consumer = make_consumer(topics, group)
        try:
            consumer.commit(offsets=[TopicPartition(committed_topic, 0, 1)], asynchronous=False)
        except Exception:  # noqa: S110 - a topic that does not exist still leaves the group's offsets
            pass
        finally:
            consumer.close()
    proc = subprocess.run([sys.executable, "-m", "cli", "status", "--json", "--bootstrap", topics.bootstrap, "--prefix", topics.topic_prefix],
                          cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    groups = {g.get("group") for g in json.loads(proc.stdout)["groups"]}
    assert ours in groups and foreign not in groups and longer not in groups, groups
