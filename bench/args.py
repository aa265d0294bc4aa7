"""Command-line flags the benchmarks and `arb demo` share."""

from __future__ import annotations

import argparse


def add_external_bootstrap_arg(p: argparse.ArgumentParser) -> None:
    """`--bootstrap` of the benchmarks and the demo, which otherwise start a local Kafka (localkafka/run.py)."""
    p.add_argument("--bootstrap", metavar="HOST:PORT",
                   help="run on this Kafka instead of a local one started for the run: the run's topics get a random prefix and are deleted at "
                        "the end; client security from the ARB_KAFKA_* settings (default: a local Apache Kafka; ARB_BOOTSTRAP is not read)")
