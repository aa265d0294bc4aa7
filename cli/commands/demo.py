"""`arb demo`: the whole pipeline against the local simulators, one command."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.args import add_external_bootstrap_arg
from core.errors import CommandError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the whole pipeline against the simulators with a live view",
                       description="Starts, as separate processes: a local Apache Kafka (`arb broker`), the Kalshi and Polymarket simulators with "
                                   "a seeded scenario (arbitrage windows injected), `arb discover`, `arb produce all`, `arb process`, "
                                   "`arb execute` (live against the simulators) and `arb positions serve`; then shows a live view "
                                   "(games and best prices, recent signals and outcomes, orders, fills, P&L, one-sided count, latency). "
                                   "Ctrl-C stops everything within a few seconds. Child logs go to the working directory. Throwaway "
                                   "credentials are generated for every run and passed to children through mode-0600 files. The games "
                                   "have a life: each trades until 6 min after its start, resolves 20 s later, settles and is replaced "
                                   "by a new game (override with ARB_SIM_GAME_DURATION_S, ARB_SIM_FIRST_GAME_AFTER_S, "
                                   "ARB_SIM_GAME_SPACING_S, ARB_SIM_RESOLVE_DELAY_S, ARB_SIM_KALSHI_SETTLEMENT_TIMER_S; "
                                   "ARB_SIM_GAME_DURATION_S=0: games never end).")
    p.add_argument("--duration", type=float, default=0.0, metavar="S", help="stop after S seconds (default: run until Ctrl-C)")
    p.add_argument("--json", action="store_true", help="headless: no live view; print one JSON summary line at the end "
                                                       '{"ticks","signals","orders","fills","one_sided","unwinds","pnl","duplicates","latency_ms":{"p50","p99"},'
                                                       '"buckets","games","realized_pnl","acceptance",...}')
    p.add_argument("--games", type=int, default=6, help="synthetic games (default 6)")
    p.add_argument("--seed", type=int, default=7, help="scenario seed (default 7)")
    p.add_argument("--arb-rate-per-min", type=float, default=30.0, help="arbitrage windows injected per minute (default 30)")
    p.add_argument("--updates-per-s", type=float, default=10.0,
                   help="background book events per second, about 10 ticks each (default 10)")
    p.add_argument("--bucket-s", type=float, default=300.0, metavar="S",
                   help="the summary counts signals, orders, fills, expired, rejected and settled games per bucket of S seconds (default 300)")
    p.add_argument("--workdir", type=Path, help="directory for child logs and throwaway keys (default: a new temporary directory)")
    add_external_bootstrap_arg(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from core.config import load
    from core.settings import KafkaSettings
    from demo.run import DemoOptions, run_demo

    if args.duration < 0 or args.games < 1 or args.bucket_s <= 0:
        raise CommandError("--duration must be >= 0, --games >= 1 and --bucket-s > 0", code=2)
    opts = DemoOptions(duration_s=args.duration, json_out=args.json, games=args.games, seed=args.seed,
                       arb_rate_per_min=args.arb_rate_per_min, updates_per_s=args.updates_per_s, workdir=args.workdir,
                       bootstrap=args.bootstrap, game_life=True, bucket_s=args.bucket_s)
    kafka = load(KafkaSettings, overrides={"topic_prefix": "demo."})
    return run_demo(opts, kafka)
