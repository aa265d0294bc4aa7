"""`arb` entry point: discovers subcommands in cli/commands/ and dispatches.

Exit codes: 0 ok, 1 failure at run time, 2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Callable, Sequence
from typing import Any

import cli.commands
from core.config import ConfigError

Handler = Callable[[argparse.Namespace], int | None]


class CommandError(Exception):
    """A failure to report as one line on stderr with exit code `code` (no traceback)."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def add_kafka_args(p: argparse.ArgumentParser) -> None:
    """Flags every Kafka-using command shares; they override ARB_BOOTSTRAP / ARB_TOPIC_PREFIX."""
    p.add_argument("--bootstrap", help="Kafka bootstrap servers (default: $ARB_BOOTSTRAP or 127.0.0.1:9092)")
    p.add_argument("--prefix", help="topic name prefix (default: $ARB_TOPIC_PREFIX or 'arb.')")


def kafka_settings(args: argparse.Namespace) -> Any:
    from core.config import load
    from core.settings import KafkaSettings

    return load(KafkaSettings, overrides={"bootstrap": getattr(args, "bootstrap", None), "topic_prefix": getattr(args, "prefix", None)})


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="arb", description="Kalshi/Polymarket cross-venue arbitrage on Kafka.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(cli.commands.__path__), key=lambda m: m.name):
        mod = importlib.import_module(f"cli.commands.{info.name}")
        mod.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        rc = handler(args)
    except (CommandError, ConfigError) as exc:
        print(f"arb {args.command}: {exc}", file=sys.stderr)
        return exc.code if isinstance(exc, CommandError) else 2
    except KeyboardInterrupt:
        return 130
    return int(rc or 0)


if __name__ == "__main__":
    sys.exit(main())
