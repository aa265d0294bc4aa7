"""`arb bench throughput`: the highest tick rate the processor sustains before its consumer lag grows,
with 1 and with 2 workers (`arb process` children, one consumer group) on a local Apache Kafka
(localkafka/broker.py) or an external Kafka with --bootstrap (localkafka/run.py).

Ticks are written at a fixed rate for a step of S seconds, the rate raised step by step. The feed is
stood in for by this process writing Avro ticks as the feed does (keyed by game, pre-encoded, paced in
10 ms slices): the feed's own costs are `arb bench sim` and the latency bench's. Lag is measured per
tick pair, on one game per partition, as the time from the pair being written to its signal being read
back (every pair is a new opportunity, about one signal per two ticks: close to the worst case). A rate is sustained when, over
the step's last quarter, the median of that lag stays under --max-lag-ms and every signal of the step
arrives within 2 s of its end; a worker that falls behind shows a lag growing for the whole step.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.args import add_external_bootstrap_arg, int_list
from core.settings import KafkaSettings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("throughput", help="highest tick rate the processor sustains without growing lag, 1 and 2 workers",
                       description="Steps the tick rate up until the processor's lag grows, with 1 and with 2 `arb process` workers "
                                   "on a local Apache Kafka (or --bootstrap); prints the highest sustained rate of each.")
    p.add_argument("--rates", default="1000,1500,2000,2500,3000,3500,4000,5000,6000",
                   help="tick rates to try, ascending (default 1000,1500,2000,2500,3000,3500,4000,5000,6000)")
    p.add_argument("--step-s", type=float, default=8.0, help="seconds per rate step (default 8)")
    p.add_argument("--workers", default="1,2", help="worker counts to measure (default 1,2)")
    p.add_argument("--games", type=int, default=50, help="games (default 50)")
    p.add_argument("--max-lag-ms", type=float, default=100.0, help="sustained: median lag over the step's last quarter below this (default 100)")
    add_external_bootstrap_arg(p)
    p.add_argument("--json", action="store_true", help="print one JSON line")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from core.errors import CommandError
    from localkafka.run import run_kafka

    rates, counts = int_list(args.rates, "--rates"), int_list(args.workers, "--workers")
    if min(rates) <= 0 or min(counts) <= 0 or args.step_s <= 0 or args.games < 2:
        raise CommandError("--rates and --workers must be positive, --step-s > 0, --games >= 2", 2)
    workdir = Path(tempfile.mkdtemp(prefix="arb-bench-throughput-"))
    ok = False
    try:
        out: dict[str, Any] = {"rates": rates, "step_s": args.step_s, "games": args.games, "max_lag_ms": args.max_lag_ms}
        with run_kafka(args.bootstrap, "bencht.", "bench throughput") as kafka:
            for n in counts:
                out[f"workers_{n}"] = _measure(args, kafka, workdir, n, rates)
        print(json.dumps(out) if args.json else json.dumps(out, indent=2))
        ok = True
        return 0
    finally:
        if ok:
            shutil.rmtree(workdir, ignore_errors=True)


def _measure(args: argparse.Namespace, run: KafkaSettings, workdir: Path, n_workers: int, rates: list[int]) -> dict[str, Any]:
    from confluent_kafka import OFFSET_END, TopicPartition

    from bench.worker_rig import one_per_partition, seed_games, start_worker, stop_workers
    from bench.worker_rig import tick as _tick
    from core import codec
    from core.kafka import make_consumer, make_producer
    from core.topics import topic_name

    # Fresh topics and group per worker count: no backlog or state carried over.
    kafka = replace(run, topic_prefix=f"{run.topic_prefix}w{n_workers}.")
    games = list(seed_games(kafka, args.games))
    prod = make_producer(kafka, **{"queue.buffering.max.messages": 2_000_000})
    workers = [start_worker(kafka, workdir / f"faust-{n_workers}-{i}", workdir / f"process-{n_workers}-{i}.log", {"ARB_BOOK_REUSE_MS": "0"})
               for i in range(n_workers)]
    cons = make_consumer(kafka, None)
    cons.assign([TopicPartition(topic_name("signals", kafka), p, OFFSET_END) for p in range(kafka.partitions)])
    ttopic = topic_name("ticks", kafka)
    sent_at: dict[int, float] = {}  # pair seq -> when written, for the tracked games
    # Lag is tracked on one game per partition (every partition watched; this process decodes a
    # fraction of the signals and leaves the cores to the workers and the broker).
    tracked = one_per_partition(games, kafka.partitions)
    tracked_keys = {g.encode() for g in tracked}
    seq = 0
    rounds: dict[str, int] = {g: 0 for g in games}

    def records_for(count: int) -> list[tuple[int | None, list[tuple[str, bytes]]]]:
        nonlocal seq
        out: list[tuple[int | None, list[tuple[str, bytes]]]] = []
        for i in range(count):
            g = games[i % len(games)]
            rounds[g] += 1
            seq += 1
            size = 100 * (1 + rounds[g] % 50)  # changes on every pair of the game: a new opportunity
            out.append((seq if g in tracked else None, [(g, codec.encode("Tick", _tick(g, c, seq, ask, size))) for c, ask in (("a", 4400), ("b", 5000))]))
        return out

    def read(timeout: float, lags: list[tuple[float, float]]) -> None:
        for m in cons.consume(2000, timeout):
            if m.error() is None and m.value() and m.key() in tracked_keys:
                now = time.monotonic()
                s = codec.decode(m.value() or b"", "Signal")
                pair_seq = int(s["input_tick_ids"][0].rsplit(":", 1)[1])
                t = sent_at.pop(pair_seq, None)
                if t is not None:
                    lags.append((t, now - t))

    def until_caught_up(timeout: float, lags: list[tuple[float, float]]) -> bool:
        end = time.monotonic() + timeout
        while sent_at and time.monotonic() < end:
            read(0.05, lags)
        return not sent_at

    try:
        # Up when a pair in every partition holding a game has its signal (all workers joined and recovered).
        deadline = time.monotonic() + 180
        warm: list[tuple[float, float]] = []
        while time.monotonic() < deadline:
            sent_at.clear()
            for s, recs in records_for(len(games)):
                if s is not None:
                    sent_at[s] = time.monotonic()
                for g, v in recs:
                    prod.produce(ttopic, key=g, value=v)
            prod.flush(10)
            if until_caught_up(5.0, warm):
                break
        else:
            raise SystemExit(f"bench throughput: {n_workers} worker(s) not processing within 180 s (logs in {workdir})")
        print(f"bench throughput: {n_workers} worker(s) up", file=sys.stderr, flush=True)
        steps = []
        best = 0
        for rate in rates:
            pairs_per_slice = max(1, round(rate / 2 / 100))  # 10 ms slices
            n_slices = int(args.step_s * 100)
            batch = records_for(pairs_per_slice * n_slices)
            lags: list[tuple[float, float]] = []
            t0 = time.monotonic()
            for k in range(n_slices):
                while time.monotonic() < t0 + k * 0.01:
                    read(0.0, lags)
                    time.sleep(0.001)
                now = time.monotonic()
                for s, recs in batch[k * pairs_per_slice:(k + 1) * pairs_per_slice]:
                    if s is not None:
                        sent_at[s] = now
                    for g, v in recs:
                        prod.produce(ttopic, key=g, value=v)
                prod.poll(0)
            prod.flush(30)
            t_end = time.monotonic()
            caught_up = until_caught_up(2.0, lags)
            tail = [lag for t, lag in lags if t >= t0 + 0.75 * (t_end - t0)]
            median_ms = round(1000 * statistics.median(tail), 1) if tail else None
            sustained = caught_up and median_ms is not None and median_ms < args.max_lag_ms
            achieved = round(2 * pairs_per_slice * n_slices / (t_end - t0), 1)
            steps.append({"rate": rate, "achieved_rate": achieved, "last_quarter_median_lag_ms": median_ms, "caught_up_2s": caught_up,
                          "sustained": sustained})
            print(f"bench throughput: {n_workers} worker(s), {rate} ticks/s: lag {median_ms} ms, {'sustained' if sustained else 'falls behind'}",
                  file=sys.stderr, flush=True)
            if not sustained:
                break
            best = rate
            until_caught_up(5.0, lags)
        return {"sustained_ticks_per_s": best, "steps": steps}
    finally:
        cons.close()
        stop_workers(*workers)
