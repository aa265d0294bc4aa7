"""Create the registry's topics idempotently, and check existing ones against the registry (check_topics: what
a command that writes a topic checks first, since nothing else creates one)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic, TopicMetadata

from core.settings import KafkaSettings
from core.topics import PAPER_TOPICS, TOPICS, partitions, spec, topic_name


@dataclass(frozen=True)
class TopicReport:
    name: str
    status: str  # created | exists | missing | mismatch
    detail: str

    @property
    def ok(self) -> bool:
        return self.status in ("created", "exists")


def wanted_topics(s: KafkaSettings, *, include_paper: bool = True) -> list[tuple[str, str]]:
    """(full name, logical name) of every topic the pipeline uses."""
    out = [(topic_name(t, s), t) for t in TOPICS]
    if include_paper:
        out += [(topic_name(t, s, paper=True), t) for t in PAPER_TOPICS]
    return out


def ensure_topics(admin: AdminClient, s: KafkaSettings, *, include_paper: bool = True, timeout: float = 15.0) -> list[TopicReport]:
    wanted = wanted_topics(s, include_paper=include_paper)
    existing = admin.list_topics(timeout=timeout).topics
    reports: list[TopicReport] = []
    to_create = [
        NewTopic(name, num_partitions=partitions(logical, s), replication_factor=s.replication, config=spec(logical).config())
        for name, logical in wanted
        if name not in existing
    ]
    if to_create:
        for name, fut in admin.create_topics(to_create, request_timeout=timeout).items():
            try:
                fut.result()
                reports.append(TopicReport(name, "created", ""))
            except Exception as exc:  # TOPIC_ALREADY_EXISTS from a concurrent creator is fine
                if "TOPIC_ALREADY_EXISTS" in str(exc) or "already exists" in str(exc):
                    continue
                raise
    created = {r.name for r in reports}
    meta = _wait_visible(admin, [name for name, _ in wanted], timeout)
    for name, logical in wanted:
        if name in created:
            continue
        reports.append(_check_existing(admin, s, name, logical, meta, timeout))
    order = {name: i for i, (name, _) in enumerate(wanted)}
    return sorted(reports, key=lambda r: order[r.name])


def check_topics(admin: AdminClient, s: KafkaSettings, wanted: list[tuple[str, str]], *, timeout: float = 15.0) -> list[TopicReport]:
    """Each (full name, logical name) of `wanted` against the registry, creating nothing: `exists` (the
    registry's partitions and cleanup policy), `missing`, or `mismatch` (detail says how)."""
    meta = admin.list_topics(timeout=timeout).topics
    return [_check_existing(admin, s, name, logical, meta, timeout) if name in meta else TopicReport(name, "missing", "does not exist")
            for name, logical in wanted]


def led(topic: TopicMetadata | None) -> bool:
    """Whether a topic's metadata shows it usable: known, no error, a leader for each partition."""
    return topic is not None and topic.error is None and bool(topic.partitions) and all(p.leader >= 0 for p in topic.partitions.values())


def led_topics(admin: AdminClient, names: list[str], timeout: float) -> set[str]:
    """Those of the topics the broker answers for by name (a request per topic, as a consumer's own metadata request
    is) with a leader for each partition; one it cannot be asked about now is left out."""
    ready = set()
    for name in names:
        try:
            if led(admin.list_topics(topic=name, timeout=timeout).topics.get(name)):
                ready.add(name)
        except KafkaException:
            continue
    return ready


def _wait_visible(admin: AdminClient, names: list[str], timeout: float) -> dict:
    """Topic metadata once every name is listed with a leader for each partition. Kafka answers
    CreateTopics when the controller has the topic; brokers learn it a moment later, so a client that
    produces or lists right after creating could still miss it. Bounded: returns what it has at timeout."""
    deadline = time.monotonic() + timeout
    while True:
        meta = admin.list_topics(timeout=timeout).topics
        ready = all(led(meta.get(n)) for n in names)
        if ready or time.monotonic() > deadline:
            return meta
        time.sleep(0.05)


def _check_existing(admin: AdminClient, s: KafkaSettings, name: str, logical: str, meta: dict, timeout: float) -> TopicReport:
    want_p = partitions(logical, s)
    have_p = len(meta[name].partitions) if name in meta else 0
    problems = []
    if have_p != want_p:
        problems.append(f"has {have_p} partitions, registry says {want_p}")
    want_cleanup = spec(logical).cleanup
    res = ConfigResource(ConfigResource.Type.TOPIC, name)
    try:
        configs = admin.describe_configs([res], request_timeout=timeout)[res].result()
        entry = configs.get("cleanup.policy")
        have_cleanup = entry.value if entry is not None else "delete"  # Kafka's default
        if have_cleanup != want_cleanup:
            problems.append(f"cleanup.policy={have_cleanup}, registry says {want_cleanup}")
    except Exception as exc:
        problems.append(f"cannot read configs: {exc}")
    if problems:
        return TopicReport(name, "mismatch", "; ".join(problems))
    return TopicReport(name, "exists", f"{have_p} partitions, cleanup.policy={want_cleanup}")
