"""Follow a one-partition state topic (`markets`, `control`) from its beginning, in a thread; and the thread
itself, one implementation for every reader of state: BackgroundReader (start, stop, load, failure; also the
executor's group risk) and TopicReader (one topic through `follow`, dead letters; `control` and `markets`).

Loading is fast, following is cheap: the existing records are read with the short fetch wait (`ARB_FETCH_WAIT_MS`) until
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
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Self

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

from core.dlq import DeadLetterSink
from core.kafka import make_consumer, watermarks
from core.settings import KafkaSettings

QUIET_S = 0.3
log = logging.getLogger(__name__)


def follow(settings: KafkaSettings, topic: str, on_record: Callable[[Message], None], caught_up: threading.Event,
           stop: threading.Event, on_error: Callable[[Message, Exception], None] | None = None) -> None:
    """Call on_record(message) for every record of partition 0 of `topic` until `stop`; set `caught_up` once
    the records that existed at the start are read (and always on the way out, so nobody waits forever).

    No record stops the reader: an exception from on_record goes to on_error(message, exception) (the readers
    dead-letter the record), or is logged; then the next record is read. Only the consumer's own failures end
    follow() (they propagate: the caller records the reader as dead)."""
    consumer = make_consumer(settings, None, wait="short", **{"enable.partition.eof": True})
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
                    follower = make_consumer(settings, None, wait="cold")  # made first: `finally` always has one open consumer
                    follower.assign([TopicPartition(topic, 0, resume_offset(consumer.position([TopicPartition(topic, 0)])[0].offset, low))])
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


def _caught_up(consumer: Consumer, topic: str, low: int, high: int | None, quiet_s: float) -> bool:
    if high is None:
        return quiet_s > QUIET_S
    # position() counts transaction markers too (a record's offset + 1 would stop short of a final marker)
    position = consumer.position([TopicPartition(topic, 0)])[0].offset
    return position >= high or (position < 0 and high == low)  # nothing to read: no position yet


def resume_offset(position: int, start: int) -> int:
    """Where the follower goes on: the loader's position, or where the loader began when it has none (an empty
    partition: nothing read). Never the logical OFFSET_INVALID such a position is: assigned that, librdkafka asks
    the group coordinator for the (shared, unused) group's committed offset first, and when that OffsetFetch
    gets a request-level NOT_COORDINATOR (a fresh broker still loading __consumer_offsets) it never asks again
    nor starts fetching: the reader saw no record for the rest of its life (librdkafka 2.16,
    confluentinc/librdkafka#5586; seen in `arb bench latency` and the demo test on a fresh broker, ~1 start in
    8 under load: the produce role then subscribed no market)."""
    return position if position >= 0 else start


def _report(topic: str, msg: Message, exc: Exception, on_error: Callable[[Message, Exception], None] | None) -> None:
    if on_error is not None:
        try:
            on_error(msg, exc)
            return
        except Exception:
            log.exception("%s reader: the error handler failed", topic)
    log.error("%s reader: record at offset %s not applied: %s: %s", topic, msg.offset(), type(exc).__name__, exc, exc_info=exc)


class BackgroundReader(ABC):
    """The life of a reader thread: `start()` runs `_read()` in a daemon thread and waits (bounded) for the records
    that existed at start-up; `_read()` sets `_loaded` once it has read them and returns when `_stop` is set.
    `failure` is why the thread stopped, if it did; `_loaded` is then set too, so nobody waits for a load that will
    not come (`loaded` stays False). A subclass names itself (`reader`: the thread is `{reader}-reader`), says
    what a dead reader means (`consequence`, logged) and what `error` says before the load (`not_loaded`)."""

    reader = "state"

    def __init__(self) -> None:
        self.failure: BaseException | None = None  # why the reader thread stopped, if it did
        self._stop = threading.Event()
        self._loaded = threading.Event()
        self._thread: threading.Thread | None = None

    @abstractmethod
    def _read(self) -> None:
        """Read until `_stop`, setting `_loaded` once the start-up records are read."""

    @property
    def consequence(self) -> str:
        """What no longer happens once the reader is dead (the end of its critical log line)."""
        return f"{self.reader} changes are no longer seen"

    @property
    def not_loaded(self) -> str:
        """What `error` says before the start-up records are read."""
        return f"{self.reader} state not loaded yet"

    def start(self, wait_s: float = 10.0) -> Self:
        self._thread = threading.Thread(target=self._run, name=f"{self.reader}-reader", daemon=True)
        self._thread.start()
        self._loaded.wait(wait_s)
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def loaded(self) -> bool:
        """The records that existed at start-up have been read."""
        return self._loaded.is_set() and self.failure is None

    def wait_loaded(self, timeout_s: float | None = None) -> bool:
        """Block until the start-up records are read or the reader failed (a thread, never an event loop)."""
        return self._loaded.wait(timeout_s) and self.failure is None

    @property
    def dead(self) -> bool:
        """The thread failed, or ended without being asked to (never started: not dead)."""
        if self.failure is not None:
            return True
        return self._thread is not None and not self._thread.is_alive() and not self._stop.is_set()

    @property
    def error(self) -> str | None:
        """Why the state cannot be trusted now, or None: not started, not loaded yet, or the reader stopped."""
        if self.failure is not None:
            return f"{self.reader} reader stopped: {type(self.failure).__name__}: {self.failure}"
        if self._thread is None:
            return f"{self.reader} reader not started"
        if self.dead:
            return f"{self.reader} reader stopped"
        if not self._loaded.is_set():
            return self.not_loaded
        return None

    def _run(self) -> None:
        try:
            self._read()
        except BaseException as exc:
            self.failure = exc
            self._loaded.set()  # nobody waits for a load that will not come (`loaded` stays False)
            # logged as the subclass's module, where it always was
            logging.getLogger(type(self).__module__).critical("%s reader stopped: %s: %s; %s", self.reader, type(exc).__name__, exc,
                                                              self.consequence, exc_info=exc)


class TopicReader(BackgroundReader):
    """A BackgroundReader that follows one single-partition state topic (`follow`): `_on_record(message)` folds a
    record, `_on_error(message, exception)` is told of one it could not fold and dead-letters it (`_dlq`)."""

    def __init__(self, settings: KafkaSettings, topic: str, *, dlq_producer: Producer | None = None) -> None:
        """`dlq_producer`: where dead letters go (default: a producer made on the first one)."""
        super().__init__()
        self.settings = settings
        self.topic = topic
        self._dlq = DeadLetterSink(settings, f"{self.reader}-reader", dlq_producer)

    @property
    def not_loaded(self) -> str:
        return f"{self.reader} topic not loaded yet"

    @abstractmethod
    def _on_record(self, msg: Message) -> None:
        """Apply one record of the topic."""

    @abstractmethod
    def _on_error(self, msg: Message, exc: Exception) -> None:
        """A record `_on_record` could not apply (the readers dead-letter it)."""

    def stop(self) -> None:
        super().stop()
        self._dlq.flush()

    def _read(self) -> None:
        follow(self.settings, self.topic, self._on_record, self._loaded, self._stop, on_error=self._on_error)
