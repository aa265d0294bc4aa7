"""Test harness: an Apache Kafka broker for integration tests.

Broker choice: ARB_TEST_BOOTSTRAP (an external cluster) if set; testcontainers' KafkaContainer (the
compose stack's image) when ARB_TEST_BROKER=docker and a Docker engine answers; otherwise a local Apache
Kafka (localkafka/broker.py, the pinned release from Maven Central), started once per session.
Every test gets its own topic prefix, so tests never see each other's records.
"""

from __future__ import annotations

import os
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from core.settings import KafkaSettings

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "resources"


class BrokerHandle:
    def __init__(self, bootstrap: str, kind: str) -> None:
        self.bootstrap = bootstrap
        self.kind = kind  # "external" | "docker" | "local"


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env().ping()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def broker() -> Iterator[BrokerHandle]:
    external = os.environ.get("ARB_TEST_BOOTSTRAP")
    if external:
        yield BrokerHandle(external, "external")
        return
    if os.environ.get("ARB_TEST_BROKER") == "docker" and _docker_answers():
        from testcontainers.community.kafka import KafkaContainer

        from localkafka.dist import read_lock

        with KafkaContainer(image=f"apache/kafka:{read_lock().kafka_version}").with_kraft() as kafka:
            yield BrokerHandle(kafka.get_bootstrap_server(), "docker")
        return
    from localkafka.broker import LocalKafka, free_port

    with LocalKafka(port=free_port()) as local:
        yield BrokerHandle(local.bootstrap, "local")


@pytest.fixture
def kafka(broker: BrokerHandle) -> Iterator[KafkaSettings]:
    """KafkaSettings for one test: the session broker and a unique topic prefix (topics not created). On an
    external broker the test's topics are deleted afterwards: one that serves many runs would otherwise
    collect thousands of topics and run out of file descriptors."""
    settings = replace(KafkaSettings(), bootstrap=broker.bootstrap, topic_prefix=f"t{uuid.uuid4().hex[:10]}.",
                       paper_prefix="paper.", partitions=12, session_timeout_ms=6000)
    yield settings
    if broker.kind == "external":
        _delete_topics(settings)


def _delete_topics(kafka: KafkaSettings) -> None:
    from core.kafka import make_admin

    admin = make_admin(kafka)
    try:
        ours = (kafka.topic_prefix, f"{kafka.paper_prefix}{kafka.topic_prefix}")  # the paper executor's topics too
        names = [t for t in admin.list_topics(timeout=10).topics if t.startswith(ours)]
        for fut in (admin.delete_topics(names, operation_timeout=10).values() if names else ()):
            fut.exception(timeout=15)  # best effort: a topic already gone is fine
    except Exception as exc:  # clean-up of a test broker never fails a test
        warnings.warn(f"could not delete the test topics {kafka.topic_prefix}*: {exc}", stacklevel=1)


@pytest.fixture
def topics(kafka: KafkaSettings) -> KafkaSettings:
    """Like `kafka`, with every topic of the registry created."""
    from core.kafka import make_admin
    from core.topic_admin import ensure_topics

    reports = ensure_topics(make_admin(kafka), kafka)
    assert all(r.ok for r in reports), reports
    return kafka


@pytest.fixture
def fixtures_dir() -> Path:
    if not FIXTURES.is_dir():
        pytest.fail(f"recorded venue payloads not found at {FIXTURES}")
    return FIXTURES



@pytest.fixture(autouse=True)
def _python_recursion_limit() -> Iterator[None]:
    """py_ecc (imported by the official py_clob_client_v2 the signing tests compare against, never by this
    project's code) raises Python's recursion limit to 100,000 at import. With that limit, json's C parser
    overflows the C stack on a deeply nested frame and the interpreter segfaults instead of raising
    RecursionError, which the parsers turn into ParseError: each test runs with the default limit."""
    import sys

    if sys.getrecursionlimit() > 10_000:
        sys.setrecursionlimit(1000)
    yield
