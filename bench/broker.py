"""`arb bench broker`: Kafka's delivery latency (produce -> a consumer at the end of the partition) as
the partition fills, so that "it does not slow down as it fills" is measured, not assumed.

After a warm-up, partition 0 of a fresh topic is filled in large batches to each level (default 1,000 up to 5,000,000
records of 200 bytes); at each level `--probes` single records are produced one at a time (linger 0,
acks=all, as the feeds' tick producer) and the time until a read_committed consumer at the end of the
partition (fetch wait `--fetch-wait-ms`) has each is measured. On the local Kafka by default
(`--bootstrap` for another cluster: the run's topic gets a random prefix and is deleted at the end).
At the end it times `--txns` transactions shaped like the executor's intent commit (begin, one record,
commit), the fixed cost Kafka adds before any order is sent.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from bench.args import add_external_bootstrap_arg, int_list

DEFAULT_LEVELS = "1000,100000,1000000,5000000"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("broker", help="Kafka: delivery latency (produce -> consumer) as a partition fills",
                       description="Fills one partition to each level and measures, at each, the latency from producing a record to a "
                                   "consumer at the end of the partition having it. Prints p50/p90/p99 per level.")
    p.add_argument("--levels", default=DEFAULT_LEVELS, help=f"records in the partition at each measurement, ascending (default {DEFAULT_LEVELS})")
    p.add_argument("--probes", type=int, default=300, help="records timed at each level (default 300)")
    p.add_argument("--warmup", type=int, default=1000, help="records probed and not counted before the first level (default 1000)")
    p.add_argument("--fetch-wait-ms", type=int, default=None, help="fetch.wait.max.ms of the tail consumer (default ARB_FOLLOW_FETCH_WAIT_MS, the wait of the hot-path consumers that follow a topic, as the executor's signals consumer)")
    p.add_argument("--txns", type=int, default=500, help="intent-shaped transactions timed at the end (default 500; 0: none)")
    p.add_argument("--json", action="store_true", help="print one JSON line")
    add_external_bootstrap_arg(p)
    p.set_defaults(handler=run)


def _levels(text: str) -> list[int]:
    from core.errors import CommandError

    levels = int_list(text, "--levels")
    if levels != sorted(levels) or levels[0] < 0:
        raise CommandError("--levels must be ascending non-negative integers", 2)
    return levels


def probe_latency(consumer: Any, probe: Any, topic: str, end: int, n: int) -> list[float]:
    """ms from producing each of n single records to a consumer at the partition's end having it."""
    from confluent_kafka import TopicPartition

    consumer.assign([TopicPartition(topic, 0, end)])
    consumer.consume(10, 0.5)  # the consumer has its position before the first probe
    lat: list[float] = []
    for _ in range(n):
        t0 = time.perf_counter()
        probe.produce(topic, value=b"y", partition=0)
        probe.poll(0)
        got = False
        while not got and time.perf_counter() - t0 < 5.0:
            m = consumer.poll(0.01)  # returns as soon as a record is there
            got = m is not None and m.error() is None
        if got:
            lat.append((time.perf_counter() - t0) * 1000)
    return lat


def txn_latency(kafka: Any, topic: str, n: int) -> list[float]:
    """ms per transaction of the executor's intent shape: begin, one record to one partition, commit."""
    from core.kafka import make_transactional_producer

    producer = make_transactional_producer(kafka, f"{kafka.topic_prefix}bench-broker-txn")
    producer.init_transactions(30)
    lat: list[float] = []
    for _ in range(n):
        t0 = time.perf_counter()
        producer.begin_transaction()
        producer.produce(topic, value=b"intent", partition=0)
        producer.commit_transaction(10)
        lat.append((time.perf_counter() - t0) * 1000)
    return lat


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from confluent_kafka.admin import NewTopic

    from bench._stats import summary
    from core.kafka import make_admin, make_consumer, make_producer
    from localkafka.run import run_kafka

    levels = _levels(args.levels)
    with run_kafka(args.bootstrap, "benchb.", "bench broker") as kafka:
        if args.fetch_wait_ms is not None:
            kafka = replace(kafka, follow_fetch_wait_ms=args.fetch_wait_ms)
        topic = f"{kafka.topic_prefix}broker-tail"
        admin = make_admin(kafka)
        admin.create_topics([NewTopic(topic, 1, kafka.replication)])[topic].result(30)
        filler = make_producer(kafka, **{"linger.ms": 20, "batch.size": 1_000_000, "queue.buffering.max.messages": 1_000_000})
        probe = make_producer(kafka)
        consumer = make_consumer(kafka, None, wait="follow")
        value = b"x" * 200
        held = 0
        rows: list[dict[str, Any]] = []

        try:
            # Warm-up (not counted): a fresh JVM answers the first requests slowly (JIT), which would
            # otherwise show up as the first level being slower than the later ones.
            probe_latency(consumer, probe, topic, 0, args.warmup)
            held += args.warmup
            for level in levels:
                started = time.monotonic()
                while held < level:
                    try:
                        filler.produce(topic, value=value, partition=0)
                    except BufferError:
                        filler.poll(0.05)
                        continue
                    held += 1
                    if held % 500_000 == 0:
                        filler.poll(0)
                        print(f"bench broker: {held:,} records written", file=sys.stderr, flush=True)
                if filler.flush(300) != 0:
                    raise SystemExit("arb bench broker: the filler could not deliver within 300 s")
                fill_s = time.monotonic() - started
                at = held
                lat = probe_latency(consumer, probe, topic, held, args.probes)
                held += args.probes
                probe.flush(10)
                row: dict[str, Any] = {"records": at, "fill_s": round(fill_s, 1), "delivered": len(lat), **(summary(lat) if lat else {})}
                rows.append(row)
                print(f"bench broker: {row}", file=sys.stderr, flush=True)
        finally:
            consumer.close()
            del filler, probe, admin  # before the broker stops, or librdkafka logs the refused reconnects
        txn = summary(txn_latency(kafka, topic, args.txns)[args.txns // 10:]) if args.txns else None  # first tenth: warm-up
        if txn:
            print(f"bench broker: intent-shaped transaction {txn}", file=sys.stderr, flush=True)
        first, last = rows[0], rows[-1]
        ratio = round(last["p50_ms"] / first["p50_ms"], 3) if first.get("p50_ms") and last.get("p50_ms") else None
        out = {"fetch_wait_ms": kafka.follow_fetch_wait_ms, "record_bytes": len(value), "levels": rows, "p50_last_over_first": ratio,
               "intent_transaction": txn}
        print(json.dumps(out) if args.json else json.dumps(out, indent=2))
    return 0
