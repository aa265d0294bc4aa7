"""Small helpers for integration tests: read a topic until N records or a deadline."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Message, TopicPartition

from core.kafka import make_consumer
from core.settings import KafkaSettings


def read_records(s: KafkaSettings, topic: str, n: int, timeout: float = 20.0, **overrides: Any) -> list[Message]:
    """Every record of `topic` from the beginning, stopping once `n` are read (or failing at the deadline)."""
    c = make_consumer(s, None, **overrides)
    try:
        md = c.list_topics(topic, timeout=10).topics[topic]
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in md.partitions])
        out: list[Message] = []
        deadline = time.monotonic() + timeout
        while len(out) < n:
            if time.monotonic() > deadline:
                raise AssertionError(f"read {len(out)} of {n} records from {topic} within {timeout} s")
            m = c.poll(0.1)
            if m is not None and not m.error():
                out.append(m)
        return out
    finally:
        c.close()


async def eventually(predicate: Callable[[], bool], timeout_s: float = 10.0, interval_s: float = 0.02) -> None:
    """Wait until `predicate()` holds, failing the test after `timeout_s` (bounded, never sleep-and-hope)."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s} s")
        await asyncio.sleep(interval_s)
