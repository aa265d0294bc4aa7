"""`arb bench process`: one processor worker (`arb process`, a child process) on a local Apache Kafka
(localkafka/broker.py) or an external Kafka with --bootstrap (localkafka/run.py).

Latency: pairs of ticks (both books of a game change, so each pair yields a signal) at a steady rate;
the hop is tick produced -> signal detected (the Signal's detected_ts - event_ts, same host clock),
over >= 1,000 ticks, after --warmup seconds of the same (a JVM broker and a worker just started measured
tails of tens of ms that a warmed pair does not have). Throughput: bursts of ticks, encoded beforehand and produced as fast as librdkafka
goes; a burst's rate is its size over the time from its first record produced to the detection (the
Signal's detected_ts) of its last marker (one marker pair per partition, as partitions are consumed independently). Nearly every pair of a
burst is a new opportunity (about one signal per two ticks): close to the worst case; `--opportunity-every K`
makes only every K-th pair of a game a new one. Median of the bursts.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.args import add_external_bootstrap_arg
from core.settings import KafkaSettings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("process", help="processor worker: tick -> signal hop latency and sustained ticks/s",
                       description="Runs one `arb process` worker against a local Apache Kafka (or --bootstrap) and measures the tick -> signal hop "
                                   "(p50/p99 over >= 1,000 ticks) and the ticks/s it sustains on a burst.")
    p.add_argument("--ticks", type=int, default=2000, help="ticks in the latency phase (default 2000)")
    p.add_argument("--rate", type=float, default=500.0, help="latency phase ticks/s (default 500)")
    p.add_argument("--warmup", type=float, default=10.0,
                   help="seconds of ticks at --rate, not measured, before the latency phase (default 10): a broker and a worker "
                        "just started are still compiling and loading their code, which measured as a steady-state tail")
    p.add_argument("--burst", type=int, default=20000, help="ticks in the throughput burst (default 20000)")
    p.add_argument("--bursts", type=int, default=3, help="throughput bursts; the median is reported (default 3)")
    p.add_argument("--games", type=int, default=50, help="games (default 50)")
    p.add_argument("--opportunity-every", type=int, default=1, metavar="K",
                   help="in the bursts, a game's books make a new opportunity on every K-th of its tick pairs; the others repeat the "
                        "last one, which the detector evaluates and does not signal again (default 1: about one signal per two "
                        "ticks, the worst case; real books signal far less often)")
    add_external_bootstrap_arg(p)
    p.add_argument("--json", action="store_true", help="print one JSON line")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from localkafka.run import run_kafka

    with run_kafka(args.bootstrap, "benchp.", "bench process") as kafka:
        return _run(args, kafka)


def _run(args: argparse.Namespace, kafka: KafkaSettings) -> int:
    from confluent_kafka import OFFSET_END, TopicPartition

    from bench._stats import summary
    from bench.worker_rig import one_per_partition, seed_games, start_worker, stop_workers
    from bench.worker_rig import tick as _tick
    from core import codec
    from core.kafka import make_consumer, make_producer
    from core.topics import topic_name
    from core.units import now_us

    workdir = Path(tempfile.mkdtemp(prefix="arb-bench-process-"))
    worker: subprocess.Popen[bytes] | None = None
    ok = False  # the worker's log is kept when the run fails
    try:
        games = list(seed_games(kafka, args.games))
        prod = make_producer(kafka, **{"queue.buffering.max.messages": 1_000_000})
        worker = start_worker(kafka, workdir / "faust", workdir / "process.log", {"ARB_BOOK_REUSE_MS": "0"})
        # Off the hot path: every number below comes from timestamps inside the Signals, not from when this
        # reader sees them, and a 2 ms fetch loop here would take broker CPU from the worker under test.
        cons = make_consumer(kafka, None, wait="cold")
        stopic = topic_name("signals", kafka)
        cons.assign([TopicPartition(stopic, p, OFFSET_END) for p in range(kafka.partitions)])
        ttopic = topic_name("ticks", kafka)
        seq = 0

        def pair(g: str, n: int) -> None:
            nonlocal seq
            seq += 1
            size = 100 * (1 + (n // len(games)) % 50)  # a game's size changes on each of its pairs: a new opportunity, a new signal
            for c, ask in (("a", 4400), ("b", 5000)):
                prod.produce(ttopic, key=g, value=codec.encode("Tick", _tick(g, c, seq, ask, size)))

        def drain(timeout: float, keys: set[bytes] | None = None) -> list[dict[str, Any]]:
            out = []
            for m in cons.consume(1000, timeout):
                if m.error() is None and m.value() and (keys is None or m.key() in keys):
                    out.append(codec.decode(m.value() or b"", "Signal"))
            return out

        # warm-up: until the worker answers
        deadline = time.monotonic() + 120
        got: list[dict[str, Any]] = []
        n = 0
        while not got and time.monotonic() < deadline:
            pair(games[0], n)
            n += 1
            prod.flush(5)
            got = drain(1.0)
        if not got:
            raise SystemExit("bench process: the worker produced no signal within 120 s (see " + str(workdir / "process.log") + ")")
        drain(2.0)
        interval = 2 / args.rate

        def steady(pairs: int) -> list[float]:
            """Tick pairs at --rate; the hop of each signal that comes back (ms)."""
            nonlocal n
            lat: list[float] = []
            t0 = time.monotonic()
            for i in range(pairs):
                while time.monotonic() < t0 + i * interval:
                    for s in drain(0.0):
                        lat.append((s["detected_ts"] - s["event_ts"]) / 1000)
                    time.sleep(0.0005)
                pair(games[i % len(games)], n + i)
                prod.poll(0)
            n += pairs
            prod.flush(10)
            end = time.monotonic() + 10
            while len(lat) < pairs and time.monotonic() < end:
                lat += [(s["detected_ts"] - s["event_ts"]) / 1000 for s in drain(0.2)]
            return lat

        if args.warmup > 0:
            print(f"bench process: worker up; warming up for {args.warmup:.0f} s", file=sys.stderr, flush=True)
            steady(int(args.warmup * args.rate / 2))
            drain(0.5)  # a late signal of the warm-up is not measured
        print("bench process: measuring latency", file=sys.stderr, flush=True)
        lat = steady(args.ticks // 2)
        # A burst ends with one marker pair in every partition that holds a game (partitions are
        # consumed independently, so one marker could be seen before other partitions are done); the
        # burst is processed when the signal of every marker is out.
        markers = one_per_partition(games, kafka.partitions)
        fillers = [g for g in games if g not in markers] or games

        def burst(base: int, marker_size: int) -> tuple[list[tuple[str, bytes]], set[str]]:
            # Encoded up front: producing is then a few µs a record and this process hardly competes
            # with the worker for the two cores while it drains.
            nonlocal seq
            records: list[tuple[str, bytes]] = []
            for i in range(args.burst // 2 - len(markers)):
                g = fillers[i % len(fillers)]
                seq += 1
                size = 100 * (1 + ((base + i) // len(fillers) // max(1, args.opportunity_every)) % 50)
                for c, ask in (("a", 4400), ("b", 5000)):
                    records.append((g, codec.encode("Tick", _tick(g, c, seq, ask, size))))
            marker_ids = set()
            for g in markers:
                seq += 1
                for c, ask in (("a", 4400), ("b", 5000)):
                    t = _tick(g, c, seq, ask, marker_size)
                    marker_ids.add(t["tick_id"])
                    records.append((g, codec.encode("Tick", t)))
            return records, marker_ids

        def run_burst(records: list[tuple[str, bytes]], marker_ids: set[str]) -> float | None:
            t_start = now_us()
            done_at = t_start
            for i, (g, v) in enumerate(records):
                prod.produce(ttopic, key=g, value=v)
                if i % 1000 == 0:
                    prod.poll(0)
            prod.flush(30)
            pending = set(markers)
            keys = {g.encode() for g in markers}  # decode only the markers' games' signals
            end = time.monotonic() + 300
            while pending and time.monotonic() < end:
                for s in drain(0.05, keys):
                    if marker_ids.intersection(s["input_tick_ids"]) and s["game_id"] in pending:
                        pending.discard(s["game_id"])
                        done_at = max(done_at, s["detected_ts"])  # the worker's clock: this host's
            return round(len(records) / ((done_at - t_start) / 1e6), 1) if not pending else None

        print("bench process: measuring throughput", file=sys.stderr, flush=True)
        runs = [run_burst(*burst(10_000 + k * args.burst, 100 * (55 + k))) for k in range(args.bursts)]
        measured = sorted(r for r in runs if r is not None)
        out = {"tick_to_signal": summary(lat), "warmup_s": args.warmup, "throughput_ticks_per_s": measured[len(measured) // 2] if len(measured) == len(runs) else None,
               "throughput_runs": runs, "burst": args.burst, "games": args.games, "opportunity_every": args.opportunity_every}
        print(json.dumps(out) if args.json else json.dumps(out, indent=2))
        ok = True
        return 0
    finally:
        stop_workers(worker)
        if ok:
            shutil.rmtree(workdir, ignore_errors=True)
