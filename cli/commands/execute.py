"""`arb execute [--paper]`: the exactly-once executor."""

from __future__ import annotations

import argparse

from cli.common import add_kafka_args, kafka_settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("execute", help="consume signals and place IOC/FAK orders exactly once",
                       description="Consumes `signals` in the executor consumer group; per partition, fences previous owners "
                                   "(transactional id {prefix}executor-{p}), recovers unfinished signals by looking orders up at the "
                                   "venues (never re-sending), then executes signals: INTENT committed before every send, results + "
                                   "outcome + offset committed together. Settings: `arb config` (ARB_EXEC_*, ARB_KALSHI_*, ARB_POLY_*).")
    p.add_argument("--paper", action="store_true", help="paper trading: records go to the paper-prefixed topics")
    add_kafka_args(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import asyncio

    from core.config import load
    from core.logs import setup_logging
    from core.settings import RuntimeSettings
    from executor.run import build, run_forever
    from executor.settings import ExecutorSettings

    rt = load(RuntimeSettings)
    setup_logging(rt.log_format, rt.log_level)
    from core import metrics

    metrics.serve(rt.metrics_port, "execute")
    service, closers = build(kafka_settings(args), load(ExecutorSettings), paper=args.paper)
    from core.heap import freeze_startup_objects

    freeze_startup_objects()
    asyncio.run(run_forever(service, closers))
    return 0
