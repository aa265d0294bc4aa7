"""Helpers shared by `arb` subcommands: the common Kafka flags and checks (the one-line error is core/errors.py)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from core.errors import CommandError


def add_kafka_args(p: argparse.ArgumentParser) -> None:
    """Flags every Kafka-using command shares; they override ARB_BOOTSTRAP / ARB_TOPIC_PREFIX."""
    p.add_argument("-b", "--bootstrap", help="Kafka bootstrap servers (default: $ARB_BOOTSTRAP or 127.0.0.1:9092)")
    p.add_argument("--prefix", help="topic name prefix (default: $ARB_TOPIC_PREFIX or 'arb.')")


def kafka_settings(args: argparse.Namespace) -> Any:
    from core.config import load
    from core.settings import KafkaSettings

    settings = load(KafkaSettings, overrides={"bootstrap": getattr(args, "bootstrap", None), "topic_prefix": getattr(args, "prefix", None)})
    from core import codec

    codec.configure(settings.schema_registry_url, settings.schema_registry_user_info())  # every command that talks to Kafka passes here
    return settings


# How long a command waits for the broker before it says it cannot reach it.
BROKER_TIMEOUT_S = 5.0


def require_broker(kafka: Any, timeout_s: float = BROKER_TIMEOUT_S) -> Any:
    """The cluster's metadata (confluent_kafka ClusterMetadata), or CommandError (exit 1) within ~timeout_s:
    `cannot reach Kafka at HOST:PORT`. Every command that talks to Kafka calls this first, so a broker that
    is down costs a user seconds and one line, not a client's retries and its traceback."""
    from confluent_kafka import KafkaError, KafkaException

    from core.kafka import make_admin

    # The command reports the failure itself: no client warning besides it.
    admin = make_admin(kafka, error_cb=lambda _err: None)
    try:
        return admin.list_topics(timeout=timeout_s)
    except KafkaException as exc:
        err = exc.args[0] if exc.args and isinstance(exc.args[0], KafkaError) else None
        if err is None or err.code() in (KafkaError._TRANSPORT, KafkaError._TIMED_OUT, KafkaError._ALL_BROKERS_DOWN, KafkaError._RESOLVE):
            raise CommandError(f"cannot reach Kafka at {kafka.bootstrap} (unreachable for {timeout_s:.0f} s; `arb broker` runs one "
                               "locally, --bootstrap or ARB_BOOTSTRAP name another)") from None
        raise CommandError(f"cannot reach Kafka at {kafka.bootstrap}: {err.str()}") from None


def require_topics(kafka: Any, logical: list[str], *, paper: bool = False, code: int = 2, timeout_s: float = 10.0) -> None:
    """CommandError (exit `code`) unless each of these topics exists with the registry's partitions and cleanup
    policy (core/topics.py). A command that writes a topic checks it first: nothing but `arb topics create`
    creates one, and a topic of another shape (a typo in --prefix that a broker auto-created, a hand-made
    one) would take records where nobody reads them or keep only some of them."""
    from core.topics import PAPER_TOPICS, topic_name

    _require(kafka, [(topic_name(t, kafka, paper=paper and t in PAPER_TOPICS), t) for t in logical], code, timeout_s)


def require_pipeline_topics(kafka: Any, *, code: int = 2, timeout_s: float = 10.0) -> None:
    """require_topics for every topic of the prefix, the paper-prefixed ones too: what `arb topics create --prefix`
    makes, for a command that hands a whole prefix to a second pipeline (`arb replay --into`)."""
    from core.topic_admin import wanted_topics

    _require(kafka, wanted_topics(kafka), code, timeout_s)


def _require(kafka: Any, wanted: list[tuple[str, str]], code: int, timeout_s: float) -> None:
    from confluent_kafka import KafkaException

    from core.kafka import make_admin
    from core.topic_admin import check_topics

    try:
        reports = check_topics(make_admin(kafka, error_cb=lambda _err: None), kafka, wanted, timeout=timeout_s)
    except KafkaException as exc:
        raise CommandError(f"cannot read the topics of Kafka at {kafka.bootstrap}: {exc}") from None
    missing = [r.name for r in reports if r.status == "missing"]
    what = [f"topic {missing[0]} does not exist on {kafka.bootstrap}" if len(missing) == 1
            else f"topics {', '.join(missing)} do not exist on {kafka.bootstrap}"] if missing else []
    what += [f"topic {r.name} differs from the registry ({r.detail})" for r in reports if not r.ok and r.status != "missing"]
    if what:
        raise CommandError(f"{'; '.join(what)}: `arb topics create --prefix {kafka.topic_prefix}` creates the pipeline's topics and "
                           "reports those that differ", code=code)


def parse_window(from_: str | None, to: str | None) -> tuple[int | None, int | None]:
    """`--from`/`--to` as epoch ms, or CommandError (exit 2): `record` and `replay` read windows the same way."""
    from recording.window import parse_time

    try:
        start, end = parse_time(from_), parse_time(to)
    except ValueError as exc:
        raise CommandError(str(exc), code=2) from None
    if start is not None and end is not None and end < start:
        raise CommandError(f"--to ({to}) is before --from ({from_})", code=2)
    return start, end


def check_output_file(path: Path) -> None:
    """CommandError (exit 2) unless `path` can be created: checked before any work, so a long read of the broker
    does not end in a traceback about the output file."""
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise CommandError(f"{path}: is a directory", code=2)
    if not parent.is_dir():
        raise CommandError(f"{path}: directory {parent} does not exist", code=2)
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise CommandError(f"{path}: not writable", code=2)
