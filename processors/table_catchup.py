"""Reads the games table's changelog partitions to their real end (blocking; run in a thread).

Faust recovers a table by reading its changelog up to the high watermark. The embedded broker reports
that watermark as the base offset of the last batch + 1 (broker.md), and the processor writes each
commit's states in one batch, so recovery there stopped short and a restarted worker began from game
states older than those it had written (`arb bench chaos --scenario processor-kill` lost signals and
signalled books that never coexisted). After each assignment the worker reads its partitions again to
the end found by fetching, not by the watermark, and keeps whichever state is newer (by the offset of
the last tick folded into it). On real Kafka the watermark is right and this finds nothing newer.
"""

from __future__ import annotations

import json
import time
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, KafkaError, TopicPartition

from core.kafka import make_consumer
from core.settings import KafkaSettings

QUIET_S = 0.3  # after every partition reported its end: no record for this long = the real end


def read_latest(kafka: KafkaSettings, topic: str, partitions: list[int], timeout_s: float = 30.0) -> dict[str, dict[str, Any]]:
    """The last value of every key in these partitions of `topic` (keys and values JSON, as Faust writes
    them; a tombstone removes the key)."""
    if not partitions:
        return {}
    consumer = make_consumer(kafka, None, **{"enable.partition.eof": True})
    latest: dict[str, dict[str, Any]] = {}
    try:
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        at_end: set[int] = set()
        quiet_since = time.monotonic()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            msg = consumer.poll(0.05)
            now = time.monotonic()
            if msg is None:
                if len(at_end) == len(partitions) and now - quiet_since > QUIET_S:
                    break
                continue
            err = msg.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    at_end.add(msg.partition() or 0)
                elif err.code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
                    at_end.update(partitions)  # no changelog yet: nothing to catch up on
                else:
                    raise RuntimeError(f"reading {topic}: {err}")
                continue
            quiet_since = now
            key = json.loads(msg.key() or b"null")
            value = msg.value()
            if not isinstance(key, str):
                continue
            if value is None:
                latest.pop(key, None)
            else:
                state = json.loads(value)
                if isinstance(state, dict):
                    latest[key] = state
        return latest
    finally:
        consumer.close()


def newer(candidate: dict[str, Any] | None, current: dict[str, Any] | None) -> bool:
    """Whether `candidate` holds later ticks than `current` (states carry the offset of their last tick)."""
    return candidate is not None and int(candidate.get("offset", -1)) > int((current or {}).get("offset", -1))
