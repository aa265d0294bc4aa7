"""`arb` entry point: discovers subcommands in cli/commands/ and dispatches.

Exit codes: 0 ok, 1 failure at run time, 2 usage or configuration error. `main()` is the one place that
turns an expected failure into one line on stderr (`arb COMMAND: what went wrong`) and its exit code;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from collections.abc import Callable, Sequence

import cli.commands
from cli.common import add_kafka_args, kafka_settings
from core.config import ConfigError
from core.errors import CommandError
from core.supervise import RoleFailed
from localkafka.broker import BrokerError

__all__ = ["CommandError", "add_kafka_args", "build_parser", "kafka_settings", "main", "version"]

Handler = Callable[[argparse.Namespace], int | None]


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("kalshi-polymarket-arb")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="arb", description="Kalshi/Polymarket cross-venue arbitrage on Kafka.",
                                     epilog="Exit codes: 0 ok, 1 failure, 2 usage or configuration error. --json: one JSON document "
                                            "per invocation for reports, JSON lines for streams (each command's help says which).")
    parser.add_argument("--version", action="version", version=f"arb {version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(cli.commands.__path__), key=lambda m: m.name):
        mod = importlib.import_module(f"cli.commands.{info.name}")
        mod.register(sub)
    return parser


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _quiet_stdout() -> None:
    """Point stdout at /dev/null: the reader is gone (`arb config | head`), and the interpreter's final flush must
    not raise BrokenPipeError again (docs.python.org/3/library/signal.html#note-on-sigpipe)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    name = f"arb {args.command}"
    try:
        rc = handler(args)
        sys.stdout.flush()  # a closed pipe shows here, inside the handler below, not at interpreter exit
    except BrokenPipeError:  # the reader stopped reading (`| head`): what it wanted was written
        _quiet_stdout()
        return 0
    except (CommandError, ConfigError) as exc:
        print(f"{name}: {_one_line(str(exc))}", file=sys.stderr)
        return exc.code if isinstance(exc, CommandError) else 2
    except BrokerError as exc:  # the local Kafka (localkafka/broker.py) cannot start, or no Kafka answers at --bootstrap
        print(f"{name}: {_one_line(str(exc))}", file=sys.stderr)
        return 1
    except RoleFailed as exc:  # a role stopped because a part of it died (logged with its traceback above)
        print(f"{name}: stopped: {_one_line(str(exc))}", file=sys.stderr)
        return 1
    except OSError as exc:  # a file or socket the command was pointed at: the OS's reason and the path
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"{name}: {where}{exc.strerror or exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return int(rc or 0)


if __name__ == "__main__":
    sys.exit(main())
