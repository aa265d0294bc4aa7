"""Which Kafka one run of a benchmark or the demo uses: by default a local Apache Kafka (localkafka/broker.py)
started for the run and gone with it; with `--bootstrap HOST:PORT` an external cluster (real Kafka), where the run creates
topics of its own under a random prefix (run_prefix) and deletes them at the end (delete_run_topics), so it neither reads
nor leaves anything another pipeline or run uses. ARB_BOOTSTRAP is deliberately not read for this: a
benchmark must not land on the cluster a live pipeline uses unless asked to."""

from __future__ import annotations

import secrets
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING

from core.settings import KafkaSettings
from localkafka.broker import BrokerError, LocalKafka, free_port

if TYPE_CHECKING:
    from confluent_kafka.admin import AdminClient


def run_prefix(base: str) -> str:
    """A topic prefix of one run's own on a shared broker: base + 6 random hex digits + '.'. Consumer groups
    and transactional ids derive from the prefix, so the run shares no record, offset or fencing with
    another pipeline or another run."""
    return f"{base}{secrets.token_hex(3)}."


def delete_run_topics(admin: AdminClient, s: KafkaSettings, *, timeout: float = 15.0) -> list[str]:
    """Delete every topic of the run whose prefix s.topic_prefix is (Faust's changelogs and the paper
    variants included); returns the names deleted. Only for prefixes from run_prefix: no other
    pipeline's topics start with one."""
    prefix = s.topic_prefix
    if not (len(prefix) >= 8 and prefix.endswith(".") and all(c in "0123456789abcdef" for c in prefix[-7:-1])):
        raise ValueError(f"refusing to delete by the prefix {prefix!r}: not one of run_prefix's")
    starts = (prefix, s.paper_prefix + prefix)
    names = sorted(t for t in admin.list_topics(timeout=timeout).topics if t.startswith(starts))
    if not names:
        return []
    failed = []
    for name, fut in admin.delete_topics(names, request_timeout=timeout).items():
        try:
            fut.result()
        except Exception as exc:  # report all of them, not the first
            failed.append(f"{name}: {exc}")
    if failed:
        raise RuntimeError("could not delete " + "; ".join(failed))
    return names


def external_settings(base: KafkaSettings, bootstrap: str, label: str) -> KafkaSettings:
    """base on the cluster at bootstrap with a run prefix of its own (base's prefix + a random id); raises
    BrokerError with one clear line when nothing answers there."""
    from core.kafka import make_admin

    kafka = replace(base, bootstrap=bootstrap, topic_prefix=run_prefix(base.topic_prefix))
    try:
        make_admin(kafka).list_topics(timeout=10)
    except Exception as exc:
        raise BrokerError(f"no Kafka answers at {bootstrap}: {exc}") from None
    print(f"{label}: on {bootstrap}; this run's topics are prefixed {kafka.topic_prefix!r} and deleted at the end", file=sys.stderr, flush=True)
    return kafka


def require_session_timeout(kafka: KafkaSettings, session_timeout_ms: int, label: str) -> None:
    """BrokerError (one line) when the cluster refuses consumer groups with this session timeout: its
    group.min.session.timeout.ms (6 s by default) is larger. The chaos scenarios kill group members and use short
    session timeouts so that the group notices in seconds; `arb broker` allows them (localkafka/broker.py)."""
    from confluent_kafka.admin import ConfigResource

    from core.kafka import make_admin

    admin = make_admin(kafka)
    try:
        broker = next(iter(admin.list_topics(timeout=10).brokers))
        res = ConfigResource(ConfigResource.Type.BROKER, str(broker))
        least = int(admin.describe_configs([res], request_timeout=10)[res].result()["group.min.session.timeout.ms"].value)
    except Exception as exc:  # e.g. not allowed to read the broker's settings: a group that cannot form then says so itself
        print(f"{label}: could not read the cluster's group.min.session.timeout.ms ({exc}); this run needs it at most "
              f"{session_timeout_ms} ms", file=sys.stderr, flush=True)
        return
    if least > session_timeout_ms:
        raise BrokerError(f"the Kafka at {kafka.bootstrap} refuses session timeouts below {least} ms (group.min.session.timeout.ms); "
                          f"this run's group members use {session_timeout_ms} ms: lower that broker setting, or run on a local Kafka "
                          "(no --bootstrap)")


def drop_run_topics(kafka: KafkaSettings, label: str) -> None:
    """Delete an external run's topics; a failure is reported, not raised (the run's results still count)."""
    from core.kafka import make_admin

    try:
        names = delete_run_topics(make_admin(kafka), kafka)
        print(f"{label}: deleted the run's {len(names)} topics ({kafka.topic_prefix!r})", file=sys.stderr, flush=True)
    except Exception as exc:
        print(f"{label}: could not delete the topics prefixed {kafka.topic_prefix!r}: {exc}", file=sys.stderr, flush=True)


@contextmanager
def run_kafka(bootstrap: str | None, prefix: str, label: str, session_timeout_ms: int | None = None) -> Iterator[KafkaSettings]:
    """Kafka settings for one run (see the module docstring); cleans up on exit. `session_timeout_ms`: the run's group
    members use this (an external cluster must allow it: require_session_timeout)."""
    from core.config import load

    base = replace(load(KafkaSettings), topic_prefix=prefix)
    if session_timeout_ms is not None:
        base = replace(base, session_timeout_ms=session_timeout_ms)
    if bootstrap:
        kafka = external_settings(base, bootstrap, label)
        if session_timeout_ms is not None:
            require_session_timeout(kafka, session_timeout_ms, label)
        try:
            yield kafka
        finally:
            drop_run_topics(kafka, label)
        return
    broker = LocalKafka(port=free_port())
    broker.start()
    try:
        yield replace(base, bootstrap=broker.bootstrap)
    finally:
        broker.stop()
