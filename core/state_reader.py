"""Follow a one-partition state topic (`markets`, `control`) from its beginning, in a thread.

Loading is fast, following is cheap: the existing records are read with the hot-path fetch wait until
the reader has caught up, then the consumer is replaced by one with `ARB_COLD_FETCH_WAIT_MS` at the
same position. "Caught up" = a fetch reached the end of the partition (the EOF event; for this
read_committed consumer the end is the last stable offset). EOF comes only after a fetch at the end
came back empty, i.e. after one full fetch wait: the short wait makes loading end promptly. Following
with the long wait costs no latency (a waiting fetch returns as soon as a record arrives) and keeps an
idle reader from fetching every few ms (these topics change rarely).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, KafkaError, TopicPartition

from core.kafka import make_consumer
from core.settings import KafkaSettings


def follow(settings: KafkaSettings, topic: str, on_record: Callable[[Any], None], caught_up: threading.Event,
           stop: threading.Event) -> None:
    """Call on_record(message) for every record of partition 0 of `topic` until `stop`; set `caught_up` once
    the records that existed at the start are read (and always on the way out, so nobody waits forever)."""
    consumer = make_consumer(settings, None, **{"enable.partition.eof": True})
    try:
        consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        while not stop.is_set():
            msg = consumer.poll(0.05)
            if msg is None:
                continue
            err = msg.error()
            if err is None:
                on_record(msg)
            elif err.code() == KafkaError._PARTITION_EOF and not caught_up.is_set():
                caught_up.set()
                follower = make_consumer(settings, None, cold=True)  # made first: `finally` always has one open consumer
                follower.assign(consumer.position([TopicPartition(topic, 0)]))
                consumer.close()
                consumer = follower
    finally:
        caught_up.set()
        consumer.close()
