"""Follow a one-partition state topic (`markets`, `control`) from its beginning, in a thread.

Loading is fast, following is cheap: the existing records are read with the hot-path fetch wait until
the reader has caught up, then the consumer is replaced by one with `ARB_COLD_FETCH_WAIT_MS` at the
same position (these topics change rarely; the long wait keeps an idle reader from fetching every few
ms and adds no latency, since a waiting fetch returns as soon as a record arrives).
"Caught up" = a fetch reached the end of the partition (EOF event) AND the position reached the high
watermark read before the first fetch (so the records that existed at the start are all read, whatever
librdkafka reports first). Without a readable watermark (a broker that does not answer in time) the old rule
applies: EOF and no record for QUIET_S after it. Switching at the first EOF alone (tried 2026-12-06) made the
benchmarks' markets readers miss every pairing in 2 of 5 runs; the quiet spell cost 0.3 s per reader at every
start-up (three readers in sequence: a third of the executor's restart time).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, KafkaError, KafkaException, TopicPartition

from core.kafka import make_consumer, watermarks
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
        try:
            low, high = watermarks(consumer, topic, 0, timeout_s=2.0)
        except KafkaException:
            low, high = OFFSET_BEGINNING, None  # unknown end: EOF + quiet spell
        consumer.assign([TopicPartition(topic, 0, low)])
        eof_at: float | None = None
        while not stop.is_set():
            msg = consumer.poll(0.05)
            now = time.monotonic()
            if msg is None:
                if eof_at is not None and not caught_up.is_set() and _caught_up(consumer, topic, low, high, now - eof_at):
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


def _caught_up(consumer: Any, topic: str, low: int, high: int | None, quiet_s: float) -> bool:
    if high is None:
        return quiet_s > QUIET_S
    # position() counts transaction markers too (a record's offset + 1 would stop short of a final marker)
    position = consumer.position([TopicPartition(topic, 0)])[0].offset
    return position >= high or (position < 0 and high == low)  # nothing to read: no position yet


def _report(topic: str, msg: Any, exc: Exception, on_error: Callable[[Any, Exception], None] | None) -> None:
    if on_error is not None:
        try:
            on_error(msg, exc)
            return
        except Exception:
            log.exception("%s reader: the error handler failed", topic)
    log.error("%s reader: record at offset %s not applied: %s: %s", topic, msg.offset(), type(exc).__name__, exc, exc_info=exc)
