"""ProcessorWorker.ready_topics on Kafka: what the worker waits for before Faust subscribes (a topic the broker answers
for by name, every partition led), so that a group leader never assigns from metadata that lacks the table's changelog
(processors/low_latency.py LowLatencyConsumerThread.subscribe)."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from confluent_kafka.admin import NewTopic

from core.config import load
from core.kafka import make_admin
from core.settings import KafkaSettings
from core.topics import topic_name
from processors.faust_settings import WorkerSettings
from processors.settings import DetectorSettings
from processors.worker import ProcessorWorker

pytestmark = pytest.mark.integration


@pytest.mark.timeout(60)
def test_a_topic_is_ready_once_the_broker_answers_for_it_by_name(topics: KafkaSettings) -> None:
    worker = ProcessorWorker(topics, load(WorkerSettings, env={}), load(DetectorSettings, env={}))
    ticks, new = topic_name("ticks", topics), f"{topics.topic_prefix}ready-{uuid.uuid4().hex[:8]}"
    assert asyncio.run(worker.ready_topics([ticks, new])) == {ticks}  # one that does not exist is not ready
    admin = make_admin(topics)  # referenced while its future runs
    admin.create_topics([NewTopic(new, num_partitions=4, replication_factor=1)])[new].result(10)
    deadline = time.monotonic() + 30
    while (ready := asyncio.run(worker.ready_topics([new]))) != {new} and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ready == {new}
