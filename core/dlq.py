"""Dead letters: a record a consumer cannot process goes to `dlq` with its original bytes, so it can be
re-driven after an upgrade; the consumer carries on."""

from __future__ import annotations

import logging
from typing import Any

from core import codec, metrics
from core.settings import KafkaSettings
from core.topics import topic_name
from core.units import now_us

log = logging.getLogger(__name__)


def decode_key(key: bytes | None) -> str:
    """A record key as text. DecodeError "missing_key" / "bad_key" (not UTF-8): dead-letter the record."""
    if key is None:
        raise codec.DecodeError("missing_key", "the record has no key")
    try:
        return bytes(key).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise codec.DecodeError("bad_key", f"the key is not UTF-8 ({exc.reason} at byte {exc.start})") from None


def dead_letter(source_topic: str, partition: int, offset: int, key: bytes | None, value: bytes | None,
                error: Exception, component: str) -> dict[str, Any]:
    kind = error.kind if isinstance(error, codec.DecodeError) else type(error).__name__
    return {"source_topic": source_topic, "partition": partition, "offset": offset, "key": key, "value": value,
            "error_kind": kind, "error": str(error)[:2000], "component": component, "ts": now_us()}


def send_dead_letter(producer: Any, settings: KafkaSettings, record: dict[str, Any]) -> None:
    """Produce a DeadLetter (confluent Producer). Logged with its coordinates, never with its bytes."""
    log.warning("dead-lettered record: %s", record["error"], extra={"topic": record["source_topic"],
                "partition": record["partition"], "offset": record["offset"]})
    producer.produce(topic_name("dlq", settings), key=record["source_topic"], value=codec.encode("DeadLetter", record))


class DeadLetterSink:
    """Dead letters of a reader thread (the state readers): a producer made on first use, and failures to send
    logged rather than raised, so that a broken dead-letter path never stops the reader."""

    def __init__(self, settings: KafkaSettings, component: str, producer: Any = None) -> None:
        self.settings = settings
        self.component = component
        self._producer = producer
        self.sent = 0

    def send(self, msg: Any, error: Exception) -> None:
        """Dead-letter a confluent-kafka message that could not be processed."""
        metrics.DEAD_LETTERS.labels(self.component).inc()
        try:
            record = dead_letter(msg.topic() or "", msg.partition() or 0, msg.offset() or 0, msg.key(), msg.value(), error,
                                 self.component)
            if self._producer is None:
                from core.kafka import make_producer

                self._producer = make_producer(self.settings)
            send_dead_letter(self._producer, self.settings, record)
            self._producer.poll(0)
            self.sent += 1
        except Exception:
            log.exception("%s: could not dead-letter a record (%s)", self.component, error)

    def flush(self, timeout_s: float = 5.0) -> None:
        if self._producer is not None:
            try:
                self._producer.flush(timeout_s)
            except Exception:
                log.exception("%s: dead letters not flushed", self.component)
