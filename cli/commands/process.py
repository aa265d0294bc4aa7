"""`arb process`: the Faust worker (same as `faust -A processors.app worker`)."""

from __future__ import annotations

import argparse

from cli.common import add_kafka_args, kafka_settings, require_broker, require_topics


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("process", help="run a processor worker (Faust): ticks -> signals",
                       description="Runs one Faust worker of the processor group. Start more (anywhere) to split the `ticks` "
                                   "partitions; a worker that dies has its partitions and table state taken over by the others. "
                                   "Equivalent: `faust -A processors.app worker`. Settings: ARB_FAUST_*, ARB_PROCESSOR_ID, ARB_MIN_EDGE_*, ARB_SIGNAL_TTL_MS, ...")
    p.add_argument("-l", "--loglevel", choices=("debug", "info", "warning", "error"),
                   help="log level (default: $ARB_LOG_LEVEL, INFO); logs go to stderr in the ARB_LOG_FORMAT form (json by default), "
                        "with a `worker ready` line once the partitions are assigned and processing starts, and a `status:` line every "
                        "ARB_STATUS_INTERVAL_S seconds")
    add_kafka_args(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import logging

    from core.config import load
    from core.logs import setup_logging
    from core.settings import RuntimeSettings

    # The project's logging (format, secrets masked) before the settings are loaded (the SASL password).
    rt = load(RuntimeSettings)
    level = args.loglevel.upper() if args.loglevel else rt.log_level
    setup_logging(rt.log_format, level)
    # One line and the README's exit code, not Faust's traceback: a broker that is down (1), the prefix's topics
    # missing or of another shape (2; Faust creates only its own changelog, `arb topics create` the rest).
    from processors.retired_settings import with_retired

    kafka = with_retired(kafka_settings(args))
    require_broker(kafka)
    require_topics(kafka, ["ticks", "signals", "markets", "dlq"])
    from core import metrics
    from processors.app import create_app
    from processors.faust_settings import WorkerSettings
    from processors.quiet_worker import QuietWorker
    from processors.settings import DetectorSettings

    app = create_app(kafka, load(WorkerSettings), load(DetectorSettings))

    class Worker(QuietWorker):
        def on_setup_root_logger(self, logger: logging.Logger, level_no: int) -> None:
            super().on_setup_root_logger(logger, level_no)
            # mode's Worker has just replaced the root handlers with its own (stdout, nothing masked): ours again
            setup_logging(rt.log_format, level)

    metrics.serve(rt.metrics_port, "process")
    from core.heap import freeze_startup_objects

    freeze_startup_objects()
    Worker(app, loglevel=level, quiet=True).execute_from_commandline()
    return 0
