"""`arb` entry point: discovers subcommands in cli/commands/ and dispatches.

Exit codes: 0 ok, 1 failure at run time, 2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Callable, Sequence

import cli.commands
from cli.common import CommandError, add_kafka_args, kafka_settings
from core.broker import BrokerError
from core.config import ConfigError
from core.supervise import RoleFailed

__all__ = ["CommandError", "add_kafka_args", "build_parser", "kafka_settings", "main"]

Handler = Callable[[argparse.Namespace], int | None]


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
    except BrokerError as exc:  # the local Kafka (core/broker.py) cannot start, or no Kafka answers at --bootstrap
        print(f"arb {args.command}: {exc}", file=sys.stderr)
        return 1
    except RoleFailed as exc:  # a role stopped because a part of it died (logged with its traceback above)
        print(f"arb {args.command}: stopped: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return int(rc or 0)


if __name__ == "__main__":
    sys.exit(main())
