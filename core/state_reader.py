"""Follow a one-partition state topic (`markets`, `control`) from its beginning, in a thread.

Loading is fast, following is cheap: the existing records are read with the hot-path fetch wait until
the reader has caught up, then the consumer is replaced by one with `ARB_COLD_FETCH_WAIT_MS` at the
same position (these topics change rarely; the long wait keeps an idle reader from fetching every few
ms and adds no latency, since a waiting fetch returns as soon as a record arrives).
"Caught up" = a fetch reached the end of the partition (EOF event) AND no record arrived for QUIET_S
after it. On Kafka EOF alone should do, but switching at the first EOF (tried 2026-12-06) made the
benchmarks' markets readers miss every pairing in 2 of 5 runs, cause not yet found; the quiet spell
costs 0.3 s at start-up and has never missed one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, KafkaError, TopicPartition

from core.kafka import make_consumer
from core.settings import KafkaSettings

QUIET_S = 0.3


def follow(settings: KafkaSettings, topic: str, on_record: Callable[[Any], None], caught_up: threading.Event,
           stop: threading.Event) -> None:
    """Call on_record(message) for every record of partition 0 of `topic` until `stop`; set `caught_up` once
    the records that existed at the start are read (and always on the way out, so nobody waits forever)."""
    consumer = make_consumer(settings, None, **{"enable.partition.eof": True})
    try:
        consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        eof_at: float | None = None
        while not stop.is_set():
            msg = consumer.poll(0.05)
            now = time.monotonic()
            if msg is None:
                if eof_at is not None and not caught_up.is_set() and now - eof_at > QUIET_S:
                    caught_up.set()
                    follower = make_consumer(settings, None, cold=True)  # made first: `finally` always has one open consumer
                    follower.assign(consumer.position([TopicPartition(topic, 0)]))
                    consumer.close()
                    consumer = follower
                continue
            err = msg.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    eof_at = eof_at or now
                continue
            eof_at = None
            on_record(msg)
    finally:
        caught_up.set()
        consumer.close()
