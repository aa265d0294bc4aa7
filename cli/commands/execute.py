"""`arb execute [--paper | --live]`: the exactly-once executor."""

from __future__ import annotations

import argparse
import logging
from typing import Any

from cli.common import add_kafka_args, kafka_settings
from core.errors import CommandError

log = logging.getLogger("executor")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("execute", help="consume signals and place IOC/FAK orders exactly once",
                       description="Consumes `signals` in the executor consumer group; per partition, fences previous owners "
                                   "(transactional id {prefix}executor-{p}), recovers unfinished signals by looking orders up at the "
                                   "venues (never re-sending), then executes signals: INTENT committed before every send, results + "
                                   "outcome + offset committed together. Orders go to a real venue (any host that is not a simulator: "
                                   "local, or in ARB_SIMULATOR_HOSTS) only with --live or ARB_LIVE=1; check first with `arb preflight`. "
                                   "At start it logs one banner line: "
                                   "LIVE or PAPER, the venues it can trade and the limits in force. "
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


def banner(*, paper: bool, kafka: Any, settings: Any, detector: Any, targets: list[Any]) -> str:
    """The start-up line: what this executor trades and within which limits, in dollars and contracts. `targets`:
    executor.live_guard.classify of each venue endpoint that has credentials (ignored in paper mode)."""
    from cli.commands.preflight import usd
    from core.units import PRICE_DP, SIZE_DP, format_fixed

    def contracts(v: int) -> str:
        return format_fixed(v, SIZE_DP, min_dp=0)

    def price(v: int) -> str:
        return format_fixed(v, PRICE_DP, min_dp=2)

    venues = ("KALSHI", "POLYMARKET")
    if paper:
        mode = "PAPER"
        where = "KALSHI and POLYMARKET modelled from the latest ticks, no venue contacted"
        records = f"records to {kafka.paper_prefix}{kafka.topic_prefix}{{orders,outcomes,fills}}"
    else:
        mode = "LIVE" if any(not t.simulator for t in targets) else "LIVE (simulators only)"
        have = {t.endpoint.venue for t in targets}
        where = ", ".join([f"{t.endpoint.venue} at {t.host} ({t.name})" for t in targets]
                          + [f"{v}: no credentials, its signals rejected" for v in venues if v not in have])
        records = f"records to {kafka.topic_prefix}{{orders,outcomes,fills}}"
    limits = (f"exposure at most {usd(settings.max_total_exposure)} in all and {usd(settings.max_game_exposure)} per game; "
              f"daily loss limit {usd(settings.daily_loss_limit)} ({settings.day_timezone}); "
              f"at most {contracts(settings.max_contracts_per_order)} contracts per order and "
              f"{contracts(settings.max_contracts_per_signal)} per signal; {settings.max_orders_per_s} orders/s; "
              f"min edge {usd(detector.min_edge_money)} per signal and ${price(detector.min_edge_per_contract)} per contract "
              f"(+${price(detector.delayed_extra_edge)} with a delayed Polymarket book); legs {settings.leg_mode}")
    return (f"executor starting: {mode}: {where}; signals from {kafka.topic_prefix}signals "
            f"(group {kafka.paper_prefix if paper else ''}{kafka.topic_prefix}executor), {records}; limits: {limits}")


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
    from executor.live_guard import classify, trading_endpoints
    from processors.settings import DetectorSettings
    from venues.kalshi.settings import KalshiSettings
    from venues.polymarket.settings import PolymarketSettings

    # Once build() has accepted every setting (a bad key is one line, exit 2, without a banner), before the first signal.
    targets = [classify(e, settings.simulator_hosts) for e in trading_endpoints(load(KalshiSettings), load(PolymarketSettings))]
    log.info(banner(paper=args.paper, kafka=kafka, settings=settings, detector=load(DetectorSettings), targets=targets))
    from core.heap import freeze_startup_objects

    freeze_startup_objects()
    asyncio.run(run_forever(service, closers))
    return 0
