"""Command-line flags the benchmarks and `arb demo` share."""

from __future__ import annotations

import argparse


def add_external_bootstrap_arg(p: argparse.ArgumentParser) -> None:
    """`--bootstrap` of the benchmarks and the demo, which otherwise start a local Kafka (localkafka/run.py)."""
    p.add_argument("--bootstrap", metavar="HOST:PORT",
                   help="run on this Kafka instead of a local one started for the run: the run's topics get a random prefix and are deleted at "
                        "the end; client security from the ARB_KAFKA_* settings (default: a local Apache Kafka; ARB_BOOTSTRAP is not read)")


def int_list(text: str, flag: str) -> list[int]:
    """The comma-separated integers given to `flag`; a one-line error (exit 2) for anything else or for none."""
    from core.errors import CommandError

    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise CommandError(f"{flag} must be comma-separated integers, not {text!r}", 2) from None
    if not values:
        raise CommandError(f"{flag} needs at least one integer", 2)
    return values
