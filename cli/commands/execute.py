"""`arb execute [--paper | --live]`: the exactly-once executor."""

from __future__ import annotations

import argparse

from cli.common import CommandError, add_kafka_args, kafka_settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("execute", help="consume signals and place IOC/FAK orders exactly once",
                       description="Consumes `signals` in the executor consumer group; per partition, fences previous owners "
                                   "(transactional id {prefix}executor-{p}), recovers unfinished signals by looking orders up at the "
                                   "venues (never re-sending), then executes signals: INTENT committed before every send, results + "
                                   "outcome + offset committed together. Orders go to a real venue (any host that is not a simulator: "
                                   "local, or in ARB_SIMULATOR_HOSTS) only with --live or ARB_LIVE=1; check first with `arb preflight`. "
                                   "Settings: `arb config` (ARB_EXEC_*, ARB_KALSHI_*, ARB_POLY_*).")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--paper", action="store_true", help="paper trading: records go to the paper-prefixed topics")
    mode.add_argument("--live", action="store_true", help="allow orders to real venues (also ARB_LIVE=1); without it they are refused (exit 2)")
    add_kafka_args(p)
    p.set_defaults(handler=run)


def live_refusal(live: bool) -> str | None:
    """Why the configured venue endpoints may not get orders (one line), or None. Paper mode never asks."""
    from core.config import load
    from executor.live_guard import refusal, trading_endpoints
    from executor.settings import ExecutorSettings
    from venues.kalshi.settings import KalshiSettings
    from venues.polymarket.settings import PolymarketSettings

    settings = load(ExecutorSettings)
    endpoints = trading_endpoints(load(KalshiSettings), load(PolymarketSettings))
    return refusal(endpoints, live=live or settings.live, simulator_hosts=settings.simulator_hosts)


def run(args: argparse.Namespace) -> int:
    import asyncio

    from core.config import load
    from core.logs import setup_logging
    from core.settings import RuntimeSettings
    from executor.run import build, run_forever
    from executor.settings import ExecutorSettings

    if not args.paper and (why := live_refusal(args.live)) is not None:
        raise CommandError(why, code=2)  # before any client exists: nothing is sent, not even credentials
    rt = load(RuntimeSettings)
    setup_logging(rt.log_format, rt.log_level)
    from core import metrics

    metrics.serve(rt.metrics_port, "execute")
    kafka, settings = kafka_settings(args), load(ExecutorSettings)
    service, closers = build(kafka, settings, paper=args.paper)
    from executor.admission import attach

    attach(service, closers, kafka, settings, paper=args.paper)  # hard limits, and in live mode the balances (issue 26)
    from core.heap import freeze_startup_objects

    freeze_startup_objects()
    asyncio.run(run_forever(service, closers))
    return 0
