"""`arb bench broker`: what the embedded broker charges per batch, and how a partition's delivery latency
grows with the batches it holds.

Tansu 0.6's memory engine stores every produced batch as one object and, on every fetch that finds
data past the consumer's offset, lists all the batch objects of that partition (tansu-storage
`dynostore.rs`, `fetch`). So its costs go with batches, not records: a steady stream of one-record
batches (any producer below ~1 record per partition per linger) makes every fetch of that partition
slower, and past a few thousand batches a fetch with a small `fetch.wait.max.ms` delivers nothing at
all. Nothing is ever deleted (no retention, no DeleteRecords), so this bounds how long the embedded
broker serves a steady stream. Real Kafka indexes offsets and is not measured here.

Produce: broker CPU per record (from /proc) for one-record requests and for requests of 12 batches of
10. Tail: partition 0 is filled to N one-record batches; then, 20 times, one record is produced and the
time until a consumer at the end (fetch wait `--fetch-wait-ms`) has it is measured; `delivered` counts
those that arrived within 2 s.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("broker", help="embedded broker: CPU per batch written, delivery latency vs batches in a partition",
                       description="Measures the embedded broker (Tansu): broker CPU per record by batch size, and the latency of a "
                                   "consumer at the end of a partition as the partition fills with one-record batches.")
    p.add_argument("--max-batches", type=int, default=8000, help="fill partition 0 up to this many one-record batches (default 8000)")
    p.add_argument("--step", type=int, default=1000, help="measure the tail latency every this many batches (default 1000)")
    p.add_argument("--fetch-wait-ms", type=int, default=2, help="fetch.wait.max.ms of the tail consumer (default 2, the hot-path default)")
    p.add_argument("--json", action="store_true", help="print one JSON line")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from confluent_kafka import Consumer, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic

    from bench._proc import cpu_seconds
    from bench._stats import summary
    from core.broker import EmbeddedBroker, free_port

    broker = EmbeddedBroker(port=free_port())
    broker.start()
    pid = broker.proc.pid if broker.proc is not None else 0
    base: dict[str, str | int | float | bool] = {"bootstrap.servers": broker.bootstrap, "socket.nagle.disable": True}
    try:
        admin = AdminClient(base)
        for f in admin.create_topics([NewTopic("bench-broker-produce", 12, 1), NewTopic("bench-broker-tail", 1, 1)]).values():
            f.result(10)
        produce: dict[str, float | None] = {}
        for label, cfg, n in (("one_record_batches", {"linger.ms": 0, "batch.num.messages": 1, "max.in.flight": 1}, 3000),
                              ("batches_of_10", {"linger.ms": 20, "batch.num.messages": 10}, 6000)):
            prod = Producer({**base, **cfg})
            before = cpu_seconds(pid)
            for i in range(n):
                prod.produce("bench-broker-produce", value=b"x" * 200, partition=i % 12)
                prod.poll(0)
            prod.flush(60)
            after = cpu_seconds(pid)
            produce[label] = round((after - before) / n * 1e6, 1) if before is not None and after is not None else None
        print(f"bench broker: broker CPU per record {produce} µs; filling a partition", file=sys.stderr, flush=True)

        single = Producer({**base, "linger.ms": 0, "batch.num.messages": 1})
        consumer = Consumer({**base, "group.id": "bench-broker", "enable.auto.commit": False, "fetch.wait.max.ms": args.fetch_wait_ms})
        tail: list[dict[str, Any]] = []
        held = 0
        target = 0
        while target <= args.max_batches:
            while held < target:
                single.produce("bench-broker-tail", value=b"x" * 200, partition=0)
                single.poll(0)
                held += 1
            single.flush(60)
            consumer.assign([TopicPartition("bench-broker-tail", 0, held)])
            consumer.consume(10, 0.3)  # the consumer has its position before the first probe
            lat: list[float] = []
            for _ in range(20):
                t0 = time.perf_counter()
                single.produce("bench-broker-tail", value=b"y", partition=0)
                single.flush(5)
                held += 1
                got = False
                while not got and time.perf_counter() - t0 < 2.0:
                    got = any(m.error() is None for m in consumer.consume(10, 0.0005))
                if got:
                    lat.append((time.perf_counter() - t0) * 1000)
            row: dict[str, Any] = {"batches": held, "delivered": len(lat), **(summary(lat) if lat else {})}
            tail.append(row)
            print(f"bench broker: {row}", file=sys.stderr, flush=True)
            if not lat:
                break  # stalled: more batches only make it worse
            target = held - held % args.step + args.step
        consumer.close()
        out = {"broker_cpu_us_per_record": produce, "tail": tail, "fetch_wait_ms": args.fetch_wait_ms}
        print(json.dumps(out) if args.json else json.dumps(out, indent=2))
        return 0
    finally:
        broker.stop()
