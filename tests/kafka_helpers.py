"""Small helpers for integration tests: read a topic until N records (or a condition) or a deadline."""

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
    out: list[Message] = []
    read_until(s, topic, out.append, lambda: len(out) >= n, timeout, lambda: f"read {len(out)} of {n} records from {topic} within {timeout} s",
               **overrides)
    return out


def read_until(s: KafkaSettings, topic: str, take: Callable[[Message], object], done: Callable[[], bool], timeout: float,
               failure: Callable[[], str], **overrides: Any) -> None:
    """Hand every record of `topic`, from the beginning, to `take` until `done()` (asked before each poll); at the deadline
    fail with `failure()`."""
    c = make_consumer(s, None, **overrides)
    try:
        md = c.list_topics(topic, timeout=10).topics[topic]
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in md.partitions])
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise AssertionError(failure())
            m = c.poll(0.1)
            if m is not None and not m.error():
                take(m)
    finally:
        c.close()


async def eventually(predicate: Callable[[], bool], timeout_s: float = 10.0, interval_s: float = 0.02) -> None:
    """Wait until `predicate()` holds, failing the test after `timeout_s` (bounded, never sleep-and-hope)."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s} s")
        await asyncio.sleep(interval_s)
