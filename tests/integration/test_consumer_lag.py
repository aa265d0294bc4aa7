"""arb_consumer_lag: a consumer's lag per partition, from the high watermarks of its own fetches."""

import time

import pytest
from confluent_kafka import TopicPartition

from core import metrics
from core.kafka import make_consumer, make_producer
from core.settings import KafkaSettings
from core.topics import topic_name

pytestmark = pytest.mark.integration


def test_lag_is_records_between_the_position_and_the_partition_end(topics: KafkaSettings) -> None:
    topic = topic_name("control", topics)  # one partition
    p = make_producer(topics, **{"linger.ms": 100})
    for i in range(5):
        p.produce(topic, key=f"k{i}", value=b"v")
    assert p.flush(10) == 0  # one batch of five: the high watermark is still the partition's end
    c = make_consumer(topics, None, **{"max.poll.interval.ms": 10000})
    try:
        c.assign([TopicPartition(topic, 0, 0)])
        seen = []
        deadline = time.monotonic() + 30
        while len(seen) < 2 and time.monotonic() < deadline:
            msg = c.poll(0.2)
            if msg is not None and msg.error() is None:
                seen.append(msg.offset())
        metrics.observe_lag(c)  # position: the next offset this consumer hands out (2), whatever it prefetched
        assert seen == [0, 1]
        assert metrics.CONSUMER_LAG.labels(topic, "0")._value.get() == 3
    finally:
        c.close()
