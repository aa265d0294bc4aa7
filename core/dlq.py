"""Dead letters: a record a consumer cannot process goes to `dlq` with its original bytes, so it can be
re-driven after an upgrade; the consumer carries on."""

from __future__ import annotations

import logging
from typing import Any

from core import codec
from core.settings import KafkaSettings
from core.topics import topic_name
from core.units import now_us

log = logging.getLogger(__name__)


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
