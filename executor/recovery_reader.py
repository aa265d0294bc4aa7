"""Read partition p of `orders` and `outcomes` to the end, for recovery after an assignment.

"The end": every topic's partition reported EOF. The consumer is read_committed, so its EOF comes at the
last stable offset: committed records are all read, aborted ones are skipped, and records of a
transaction still open stay unread. Nobody else writes partition p (we just fenced its previous owner:
init_transactions aborted whatever it left open), so nothing new arrives during the read. The hot-path
fetch wait is used because EOF is only known once a fetch at the end comes back empty, after one wait.
"""

from __future__ import annotations

import time
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, KafkaError, TopicPartition

from core import codec
from core.kafka import make_consumer
from core.settings import KafkaSettings


def read_partition(settings: KafkaSettings, topics: list[str], partition: int, *,
                   timeout_s: float = 30.0) -> tuple[list[tuple[str, dict[str, Any]]], int]:
    """Every decodable record of `partition` of each topic, as (type name, record); plus a count of
    undecodable ones (reported by the caller, never fatal)."""
    consumer = make_consumer(settings, None, **{"enable.partition.eof": True})
    out: list[tuple[str, dict[str, Any]]] = []
    bad = 0
    try:
        consumer.assign([TopicPartition(t, partition, OFFSET_BEGINNING) for t in topics])
        at_end: set[str] = set()  # topics whose fetch reached the end since their last record
        deadline = time.monotonic() + timeout_s
        while len(at_end) < len(set(topics)):
            if time.monotonic() >= deadline:
                raise TimeoutError(f"recovery read of partition {partition} did not finish in {timeout_s} s")
            msg = consumer.poll(0.1)
            if msg is None:
                continue
            topic = msg.topic() or ""
            err = msg.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    at_end.add(topic)
                continue
            at_end.discard(topic)
            value = msg.value()
            if value is None:
                continue
            try:
                out.append(codec.decode_with_type(value))
            except codec.DecodeError:
                bad += 1
    finally:
        consumer.close()
    return out, bad
