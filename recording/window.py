"""An exact time window of a topic, even where offsets-for-times is unreliable (the embedded broker):
every partition is read from its beginning and records are filtered on their own timestamps; a
partition is done at its end (EOF and a quiet spell, see core/markets_cache.py)."""

from __future__ import annotations

import datetime as dt
import sys
import time
from collections.abc import Iterator
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, KafkaError, TopicPartition

from core.kafka import make_consumer
from core.settings import KafkaSettings


def parse_time(text: str | None) -> int | None:
    """ISO-8601 (naive = UTC) or epoch milliseconds -> epoch ms."""
    if text is None or text == "":
        return None
    if text.isdigit():
        return int(text)
    try:
        t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"not a time: {text!r} (use ISO-8601 or epoch milliseconds)") from None
    return int((t if t.tzinfo else t.replace(tzinfo=dt.UTC)).timestamp() * 1000)


def read_window(kafka: KafkaSettings, topic: str, from_ms: int | None, to_ms: int | None, *, game: str | None = None,
                quiet_s: float = 0.5, timeout_s: float = 600.0, progress: bool = False) -> Iterator[dict[str, Any]]:
    c = make_consumer(kafka, None, **{"enable.partition.eof": True})
    try:
        md = c.list_topics(topic, timeout=10).topics.get(topic)
        if md is None or md.error is not None or not md.partitions:
            raise ValueError(f"topic {topic} does not exist")
        parts = sorted(md.partitions)
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
        done: set[int] = set()
        eof: set[int] = set()
        last = time.monotonic()
        deadline = last + timeout_s
        seen = 0
        while len(done) < len(parts) and time.monotonic() < deadline:
            msg = c.poll(0.05)
            now = time.monotonic()
            if msg is None:
                if eof and now - last > quiet_s:
                    done |= eof
                continue
            err = msg.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    eof.add(msg.partition() or 0)
                    last = now
                continue
            p = msg.partition() or 0
            eof.discard(p)
            last = now
            ts = msg.timestamp()[1]
            seen += 1
            if progress and seen % 10_000 == 0:
                print(f"record: {seen} records scanned", file=sys.stderr, flush=True)
            # Every record is checked: timestamps need not be monotonic within a partition (several producers).
            if (to_ms is not None and ts > to_ms) or (from_ms is not None and ts < from_ms):
                continue
            key = msg.key()
            if game is not None and (key or b"").decode(errors="replace") != game:
                continue
            yield {"topic": topic, "partition": p, "offset": msg.offset() or 0, "timestamp_ms": ts, "key": key, "value": msg.value()}
    finally:
        c.close()
