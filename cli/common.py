"""Helpers shared by `arb` subcommands: the one-line error type and the common Kafka flags."""

from __future__ import annotations

import argparse
from typing import Any


class CommandError(Exception):
    """A failure to report as one line on stderr with exit code `code` (no traceback)."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def add_kafka_args(p: argparse.ArgumentParser) -> None:
    """Flags every Kafka-using command shares; they override ARB_BOOTSTRAP / ARB_TOPIC_PREFIX."""
    p.add_argument("--bootstrap", help="Kafka bootstrap servers (default: $ARB_BOOTSTRAP or 127.0.0.1:9092)")
    p.add_argument("--prefix", help="topic name prefix (default: $ARB_TOPIC_PREFIX or 'arb.')")


def add_external_bootstrap_arg(p: argparse.ArgumentParser) -> None:
    """`--bootstrap` of the benchmarks and the demo, which otherwise start a local Kafka (core/run_kafka.py)."""
    p.add_argument("--bootstrap", metavar="HOST:PORT",
                   help="run on this Kafka instead of a local one started for the run: the run's topics get a random prefix and are deleted at "
                        "the end; client security from the ARB_KAFKA_* settings (default: a local Apache Kafka; ARB_BOOTSTRAP is not read)")


def kafka_settings(args: argparse.Namespace) -> Any:
    from core.config import load
    from core.settings import KafkaSettings

    settings = load(KafkaSettings, overrides={"bootstrap": getattr(args, "bootstrap", None), "topic_prefix": getattr(args, "prefix", None)})
    from core import codec

    codec.configure(settings.schema_registry_url)  # every command that talks to Kafka passes here
    return settings
