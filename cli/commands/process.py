"""`arb process`: the Faust worker (same as `faust -A processors.app worker`)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("process", help="run a processor worker (Faust): ticks -> signals",
                       description="Runs one Faust worker of the processor group. Start more (anywhere) to split the `ticks` "
                                   "partitions; a worker that dies has its partitions and table state taken over by the others. "
                                   "Equivalent: `faust -A processors.app worker`. Settings: ARB_FAUST_*, ARB_MIN_EDGE_*, ARB_SIGNAL_TTL_MS, ...")
    p.add_argument("--bootstrap", help="Kafka bootstrap servers (default: $ARB_BOOTSTRAP)")
    p.add_argument("--prefix", help="topic prefix (default: $ARB_TOPIC_PREFIX)")
    p.add_argument("--loglevel", default="warning", choices=("debug", "info", "warning", "error"), help="Faust log level")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import os

    # The app reads its settings at import (so `faust -A processors.app` works the same way).
    if args.bootstrap:
        os.environ["ARB_BOOTSTRAP"] = args.bootstrap
    if args.prefix:
        os.environ["ARB_TOPIC_PREFIX"] = args.prefix
    from core import metrics
    from core.config import load
    from core.settings import RuntimeSettings
    from processors.app import app
    from processors.quiet_worker import QuietWorker

    metrics.serve(load(RuntimeSettings).metrics_port, "process")
    from core.heap import freeze_startup_objects

    freeze_startup_objects()
    QuietWorker(app, loglevel=args.loglevel, quiet=True).execute_from_commandline()
    return 0
