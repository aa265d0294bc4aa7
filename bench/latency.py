"""`arb bench latency`: end-to-end tick -> order latency of the whole pipeline against the simulators.

Runs the demo's process layout headless (a local Apache Kafka from localkafka/broker.py or --bootstrap; simulators, discover, produce all, process,
execute) at a background book-update rate over N games with arbitrage windows injected, then measures,
for every window the executor acted on, the time from the simulator opening the window (the moment it
publishes the book change that creates it) to the simulator receiving the first order for it: both
ends on the simulator's clock. Each hop comes from record timestamps (same host clock).

The in-process baseline (bench/latency_baseline.py) runs by default after the pipeline's interval, alone:
the pipeline's roles are stopped and the baseline measures the simulator's next windows (same scenario
and rate). `--baseline alongside` runs it during the pipeline's interval on the very same frames; the two
then compete for the two cores: the pipeline's p99 measured 81–135 ms (median 92, six runs) alongside, 48–72 ms
(median 65, five runs) with the baseline after it, the same day.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from bench.args import add_external_bootstrap_arg


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("latency", help="simulator -> feeds -> Kafka -> processor -> Kafka -> executor -> simulator latency",
                       description="Window-open -> first-order-received latency through the whole pipeline (separate processes, "
                                   "a local Apache Kafka or --bootstrap), plus per-hop latencies from record timestamps.")
    p.add_argument("--rate", type=float, default=1000.0, help="target background ticks/s over all books (default 1000)")
    p.add_argument("--games", type=int, default=50, help="games (default 50)")
    p.add_argument("--duration", type=float, default=60.0, help="measured seconds (default 60)")
    p.add_argument("--warmup", type=float, default=10.0,
                   help="seconds after the first outcome before measuring, so start-up backlog is not measured (default 10)")
    p.add_argument("--windows-per-min", type=float, default=120.0,
                   help="arbitrage windows injected per minute (default 120: a 60 s run measures about 115 windows)")
    p.add_argument("--seed", type=int, default=11, help="scenario seed (default 11)")
    p.add_argument("--dump", metavar="FILE", help="also write the measured windows, the simulator's order log, the signals and "
                                                   "our order events to FILE (JSON), to find out which windows were slow and where")
    p.add_argument("--baseline", choices=("after", "alongside"), default="after",
                   help="after (default): the in-process baseline runs alone once the pipeline's interval is over and its roles are "
                        "stopped, on the simulator's next frames, for --warmup + --duration s; alongside: at the same time as the "
                        "pipeline, on the same frames (the two then share the cores: slower numbers for both)")
    p.add_argument("--repeat", type=int, default=1, metavar="N",
                   help="N runs, each with a fresh pipeline; prints {\"median\": the median over the runs of each percentile, "
                        "\"runs\": [each run's result]} (default 1: one run's result as it is); with --dump, FILE.1 ... FILE.N")
    add_external_bootstrap_arg(p)
    p.add_argument("--json", action="store_true", help="print one JSON line")
    p.set_defaults(handler=run)


GRACE_US = 2_000_000  # a window opened this close to the end may not have its order in the log yet: not counted


def measured_windows(windows: list[dict[str, Any]], start_us: int, end_us: int) -> list[dict[str, Any]]:
    """The windows opened inside the measured interval (not during start-up, not in its last GRACE_US)."""
    return [w for w in windows if start_us <= int(w["opened_us"]) <= end_us - GRACE_US]


def window_latencies(windows: list[dict[str, Any]], order_log: list[dict[str, Any]], our_accounts: set[str]) -> list[int]:
    """Per window: first order of ours touching one of its books, received after it opened (microseconds)."""
    by_book: dict[str, list[int]] = {}
    for r in order_log:
        if r.get("kind") == "create" and r.get("account", "").lower() in our_accounts:
            by_book.setdefault(r["book_id"], []).append(int(r["received_us"]))
    out = []
    for w in windows:
        times = [t for b in (w["kalshi_ticker"], w["poly_condition_id"]) for t in by_book.get(b, []) if w["opened_us"] <= t <= w["expires_us"]]
        if times:
            out.append(min(times) - int(w["opened_us"]))
    return sorted(out)


def median_of_runs(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per distribution (pipeline, baseline, each hop): the median over the runs of each run's p50, p90, p99
    and max (not a percentile of the pooled samples: a run's tail is its own), n summed; plus the median rate."""

    def med(dists: list[dict[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k in ("p50_ms", "p90_ms", "p99_ms", "max_ms"):
            vals = [d[k] for d in dists if d.get(k) is not None]
            out[k] = round(statistics.median(vals), 3) if vals else None
        out["n"] = sum(int(d.get("n") or 0) for d in dists)
        return out

    hops = sorted({h for r in runs for h in r["hops"]})
    return {"pipeline": med([r["pipeline"] for r in runs]), "baseline": med([r["baseline"] for r in runs]),
            "hops": {h: med([r["hops"][h] for r in runs if h in r["hops"]]) for h in hops},
            "rate": round(statistics.median(r["rate"] for r in runs), 1)}


def run(args: argparse.Namespace) -> int:
    from core.errors import CommandError

    if args.repeat < 1:
        raise CommandError("--repeat must be >= 1", 2)
    runs = []
    for i in range(args.repeat):
        if args.repeat > 1:
            print(f"bench latency: run {i + 1} of {args.repeat}", file=sys.stderr, flush=True)
        dump = f"{args.dump}.{i + 1}" if args.dump and args.repeat > 1 else args.dump
        out = _measure_once(args, dump)
        if out is None:
            return 1
        runs.append(out)
    result = runs[0] if args.repeat == 1 else {"median": median_of_runs(runs), "runs": runs, "games": args.games}
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))
    return 0


def _measure_once(args: argparse.Namespace, dump: str | None) -> dict[str, Any] | None:
    """One run: a fresh pipeline, warm-up, the measured interval; None (reported on stderr) if a child failed."""
    import httpx

    from core.config import load
    from core.settings import KafkaSettings
    from demo.run import Demo, DemoOptions
    from demo.stats import distribution_ms
    from demo.supervisor import ChildFailed

    # Measured: each simulator event moves several levels and both venues tick on it: about 10 ticks per event.
    opts = DemoOptions(duration_s=args.duration, json_out=True, games=args.games, seed=args.seed, arb_rate_per_min=args.windows_per_min,
                       updates_per_s=args.rate / 10, positions=False,
                       live_ticks=False, bootstrap=args.bootstrap)  # ticks are read after the run: decoding them live took CPU from the pipeline
    demo = Demo(opts, load(KafkaSettings, overrides={"topic_prefix": "bench."}))
    try:
        demo.start()
        from bench.latency_baseline import Baseline
        from bench.latency_baseline import window_latencies as baseline_latencies
        from core.markets_cache import MarketsCache

        markets = MarketsCache(demo.kafka).start(wait_s=30)
        deadline = time.monotonic() + 60
        # Every game's pairing, not the first one read: a baseline started with a few games sees few windows.
        while len(markets.pairings) < args.games and time.monotonic() < deadline:
            time.sleep(0.2)
        if len(markets.pairings) < args.games:
            print(f"bench latency: only {len(markets.pairings)} of {args.games} games paired; the baseline covers those",
                  file=sys.stderr, flush=True)
        pem, pairings = (demo.workdir / "kalshi.pem").read_bytes(), dict(markets.pairings)
        markets.stop()
        baseline = Baseline(demo.urls, demo.kalshi_account, pem, pairings).start() if args.baseline == "alongside" else None
        collector = demo.collector
        assert collector is not None  # noqa: S101 - set by demo.start()
        # Start-up (group joins, the processor draining ticks written before it joined) is not what the
        # benchmark is about: wait for the first outcome, then let the pipeline settle.
        print("bench latency: pipeline up; waiting for the first outcome", file=sys.stderr, flush=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            demo.sup.check()
            with collector.lock:
                if collector.stats.outcomes:
                    break
            time.sleep(0.2)
        else:
            raise ChildFailed("no signal reached an outcome within 120 s")
        time.sleep(args.warmup)
        with collector.lock:
            collector.stats.reset_hops()
        start_us = time.time_ns() // 1000  # the simulator stamps windows with this host clock
        print(f"bench latency: measuring {args.duration:.0f} s", file=sys.stderr, flush=True)
        demo.loop()
        end_us = time.time_ns() // 1000
        if baseline is not None:
            baseline.stop()
            base_start_us, base_end_us = start_us, end_us
        else:
            # The baseline alone on the machine, on the simulator's next frames (same scenario and rate): the
            # pipeline's roles stop first. Run alongside, its ~0.2 core raised the pipeline's p99 (median of runs
            # ~65 -> ~92 ms on two cores, 2026-12-06), and the pipeline's load raised the baseline's.
            demo.sup.stop({"discover", "produce", "process", "execute"})
            print(f"bench latency: pipeline stopped; the baseline alone: {args.warmup:.0f} s warm-up, {args.duration:.0f} s measured",
                  file=sys.stderr, flush=True)
            baseline = Baseline(demo.urls, demo.kalshi_account, pem, pairings).start()
            time.sleep(args.warmup)
            base_start_us = time.time_ns() // 1000
            time.sleep(args.duration)
            base_end_us = time.time_ns() // 1000
            baseline.stop()
        print("bench latency: reading the measured interval's ticks", file=sys.stderr, flush=True)
        ticks, complete = collector.fold_ticks_between(start_us, end_us)
        if not complete:
            print("bench latency: reading the ticks timed out: the tick hops and the rate cover part of them", file=sys.stderr, flush=True)
        demo.refresh_order_log()
        all_windows = httpx.get(demo.urls["admin_url"] + "/arb", timeout=10).json()["windows"]
        windows = measured_windows(all_windows, start_us, end_us)
        with collector.lock:
            st = collector.stats
            hops = {h: distribution_ms(list(v)) for h, v in st.hops.items()}
            hops["tick_received_to_order_sent"] = distribution_ms(st.latencies_us(since_us=start_us))
            signals, order_events = (list(st.signals.values()), list(st.order_results.values())) if dump else ([], [])
        if dump:
            Path(dump).write_text(json.dumps({"start_us": start_us, "end_us": end_us, "windows": windows, "orders": demo.order_log,
                                                   "signals": signals, "order_events": order_events}))
        pipeline = distribution_ms(window_latencies(windows, demo.order_log, {demo.kalshi_account.lower(), demo.poly_account.lower()}))
        out = {"pipeline": pipeline, "baseline": distribution_ms(baseline_latencies(measured_windows(all_windows, base_start_us, base_end_us), baseline.ready)),
               "baseline_mode": args.baseline, "hops": hops,
               "rate": round(ticks / ((end_us - start_us) / 1e6), 1), "games": args.games, "windows": len(windows), "duplicates": demo.duplicates}
    except ChildFailed as exc:
        print(f"bench latency: {exc}", file=sys.stderr)
        return None
    finally:
        demo.shutdown()
    return out
