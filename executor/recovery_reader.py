"""Read partition p of `orders` and `outcomes` to the end, for recovery after an assignment.

Reading starts where the caller says (executor/checkpoint.py: the oldest record that can still matter),
or at the beginning. There is no fixed time limit: a read that keeps receiving records goes on (a
long history is slow, never fatal); one that receives nothing for `stall_s` before reaching the end
raises TimeoutError.

"The end": every partition reported EOF, the position reached the high watermark read before the first
fetch, and no record came for a short quiet spell. The watermark is what makes it exact: nobody else
writes partition p (we just fenced its previous owner), so nothing is written past it during the read. A
reader that stopped at the first EOF without it (core/state_reader.py, tried 2026-12-06) missed whole
topics in 2 of 5 benchmark runs, and a recovery that misses an intent would send its legs again. The quiet
spell is only a margin now (50 ms; it was 300 ms, a sixth of the executor's restart time).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from confluent_kafka import Consumer, KafkaError, TopicPartition

from core import codec
from core.kafka import make_consumer, offsets_for_times, watermarks
from core.settings import KafkaSettings
from schemas.records import TopLevel

StartFn = Callable[[Consumer], "dict[str, int] | None"]


def read_partition(settings: KafkaSettings, topics: list[str], partition: int, *, quiet_s: float = 0.05,
                   stall_s: float = 30.0, start: dict[str, int] | StartFn | None = None, group_id: str | None = None,
                   highs_out: dict[str, int] | None = None) -> tuple[list[TopLevel], int]:
    """Every decodable record of `partition` of each topic from `start[topic]` (default: the beginning), as
    the typed record of whichever type wrote it; plus a count of undecodable ones (reported by the caller, never fatal). `start` may be
    a function of the reading consumer (configured with `group_id`, never subscribed: it can read the group's
    committed offsets), so finding where to start costs no second client. The high watermarks found go into
    `highs_out` when given."""
    consumer = make_consumer(settings, group_id, wait="short", **{"enable.partition.eof": True})
    out: list[TopLevel] = []
    bad = 0
    try:
        first = start(consumer) if callable(start) else start
        highs, tps = {}, []
        for t in topics:
            # Explicit start offsets (never OFFSET_BEGINNING: core.kafka.watermarks says why); the end is
            # read after the previous owner was fenced, so nothing is written past it while we read.
            lo, highs[t] = watermarks(consumer, t, partition)
            tps.append(TopicPartition(t, partition, max(lo, (first or {}).get(t, lo))))
        consumer.assign(tps)
        if highs_out is not None:
            highs_out.update(highs)
        eof: set[str] = set()  # topics whose fetch reached the end since their last record
        last = time.monotonic()
        while time.monotonic() - last < stall_s:
            msg = consumer.poll(0.02)
            now = time.monotonic()
            if msg is None:
                if len(eof) == len(topics) and now - last >= quiet_s and _reached(consumer, topics, partition, highs):
                    break
                continue
            err = msg.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF and msg.topic():
                    eof.add(msg.topic() or "")
                    last = now
                continue
            eof.discard(msg.topic() or "")
            last = now
            value = msg.value()
            if value is None:
                continue
            try:
                out.append(codec.decode_any_record(value))
            except codec.DecodeError:
                bad += 1
        else:
            raise TimeoutError(f"recovery read of partition {partition} received nothing for {stall_s} s before its end")
    finally:
        consumer.close()
    return out, bad


def offsets_since(consumer: Consumer, topics: list[str], partition: int, since_ms: int) -> dict[str, int]:
    """Per topic, the first offset of partition `partition` whose timestamp is >= since_ms (the partition's
    end when none is), from the broker's time index."""
    found = offsets_for_times(consumer, [TopicPartition(t, partition, since_ms) for t in topics], timeout_s=10)
    out = {}
    for tp in found:
        if tp.offset < 0:  # no record that new: everything is older
            out[tp.topic] = watermarks(consumer, tp.topic, partition, timeout_s=5)[1]
        else:
            out[tp.topic] = tp.offset
    return out


def _reached(consumer: Consumer, topics: list[str], partition: int, highs: dict[str, int]) -> bool:
    # position() counts transaction control markers too, unlike the offsets of the records we saw.
    positions = consumer.position([TopicPartition(t, partition) for t in topics])
    return all(tp.offset >= highs[tp.topic] or (tp.offset < 0 and highs[tp.topic] == 0) for tp in positions)
