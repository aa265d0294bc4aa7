"""An exact time window of a topic. Each partition is read from the first record at or after the
window's start (offsets-for-times: every earlier record has an earlier timestamp) to the partition's end
(its EOF: for this read_committed consumer, the last stable offset), and records are filtered on their
own timestamps: several producers write a partition, each stamping records with its own clock, so
timestamps are not monotonic within it and a record inside the window can follow records after it."""

from __future__ import annotations

import datetime as dt
import sys
import time
from collections.abc import Iterator
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, KafkaError, KafkaException, TopicPartition

from core.kafka import make_consumer, offsets_for_times
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
                timeout_s: float = 600.0, progress: bool = False) -> Iterator[dict[str, Any]]:
    c = make_consumer(kafka, None, wait="short", **{"enable.partition.eof": True})
    try:
        md = c.list_topics(topic, timeout=10).topics.get(topic)
        if md is None or md.error is not None or not md.partitions:
            raise ValueError(f"topic {topic} does not exist")
        parts = sorted(md.partitions)
        if from_ms is None:
            starts = [TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts]
        else:
            try:
                # asked again while a partition has no leader yet (a topic created a moment ago)
                starts = offsets_for_times(c, [TopicPartition(topic, p, from_ms) for p in parts], timeout_s=10)
            except KafkaException as exc:  # still no answer after that: the command says it in one line
                raise ValueError(f"cannot find the offsets of time {from_ms} in {topic}: {exc.args[0] if exc.args else exc}") from None
            failed = [tp for tp in starts if tp.error is not None]
            if failed:
                raise ValueError(f"cannot find the offsets of time {from_ms} in {topic}: {failed[0].error}")
            starts = [tp for tp in starts if tp.offset >= 0]  # -1: no record at or after from_ms in that partition
        if not starts:
            return
        c.assign(starts)
        todo = {tp.partition for tp in starts}
        deadline = time.monotonic() + timeout_s
        seen = 0
        while todo and time.monotonic() < deadline:
            msg = c.poll(0.1)
            if msg is None:
                continue
            p = msg.partition() or 0
            err = msg.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    todo.discard(p)
                continue
            if p not in todo:
                continue  # written after the read reached this partition's end
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
