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

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, KafkaError, TopicPartition

from core.kafka import make_consumer
from core.settings import KafkaSettings

QUIET_S = 0.3
log = logging.getLogger(__name__)


def follow(settings: KafkaSettings, topic: str, on_record: Callable[[Any], None], caught_up: threading.Event,
           stop: threading.Event, on_error: Callable[[Any, Exception], None] | None = None) -> None:
    """Call on_record(message) for every record of partition 0 of `topic` until `stop`; set `caught_up` once
    the records that existed at the start are read (and always on the way out, so nobody waits forever).

    No record stops the reader: an exception from on_record goes to on_error(message, exception) (the readers
    dead-letter the record), or is logged; then the next record is read. Only the consumer's own failures end
    follow() (they propagate: the caller records the reader as dead)."""
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
            try:
                on_record(msg)
            except Exception as exc:
                _report(topic, msg, exc, on_error)
    finally:
        caught_up.set()
        consumer.close()


def _report(topic: str, msg: Any, exc: Exception, on_error: Callable[[Any, Exception], None] | None) -> None:
    if on_error is not None:
        try:
            on_error(msg, exc)
            return
        except Exception:
            log.exception("%s reader: the error handler failed", topic)
    log.error("%s reader: record at offset %s not applied: %s: %s", topic, msg.offset(), type(exc).__name__, exc, exc_info=exc)
