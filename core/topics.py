"""The topic registry: every topic's name, key, partitions and cleanup policy (design.md)."""

from __future__ import annotations

from dataclasses import dataclass

from core.settings import KafkaSettings

DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class TopicSpec:
    name: str
    key: str
    partitions: int | None  # None = the configured game-keyed partition count
    cleanup: str  # "compact" or "delete"
    retention_ms: int | None
    value_type: str | None  # Avro record name, None for mixed/raw

    def config(self) -> dict[str, str]:
        cfg = {"cleanup.policy": self.cleanup}
        if self.retention_ms is not None:
            cfg["retention.ms"] = str(self.retention_ms)
        return cfg


TOPICS: dict[str, TopicSpec] = {
    spec.name: spec
    for spec in (
        TopicSpec("markets", "game_id", 1, "compact", None, "MarketPairing"),
        TopicSpec("ticks", "game_id", None, "delete", 7 * DAY_MS, "Tick"),
        TopicSpec("signals", "game_id", None, "delete", 7 * DAY_MS, "Signal"),
        TopicSpec("orders", "client_order_id", None, "compact", None, "OrderEvent"),
        TopicSpec("outcomes", "signal_id", None, "compact", None, "Outcome"),
        TopicSpec("fills", "game_id", None, "delete", 30 * DAY_MS, "Fill"),
        TopicSpec("positions", "market key", None, "compact", None, "Position"),
        TopicSpec("settlements", "VENUE:market", 1, "compact", None, "Settlement"),
        TopicSpec("control", "name", 1, "compact", None, "Control"),
        TopicSpec("dlq", "source topic", 1, "delete", 7 * DAY_MS, "DeadLetter"),
    )
}

# Topics whose records are written by the executor and therefore mirrored under the paper prefix.
PAPER_TOPICS = ("orders", "outcomes", "fills")


def spec(logical: str) -> TopicSpec:
    try:
        return TOPICS[logical]
    except KeyError:
        raise KeyError(f"unknown topic {logical!r}; known: {', '.join(TOPICS)}") from None


def partitions(logical: str, settings: KafkaSettings) -> int:
    p = spec(logical).partitions
    return settings.partitions if p is None else p


def topic_name(logical: str, settings: KafkaSettings, *, paper: bool = False) -> str:
    """Full topic name: [paper prefix] + topic prefix + logical name."""
    spec(logical)
    prefix = settings.topic_prefix
    if paper:
        if logical not in PAPER_TOPICS:
            raise ValueError(f"{logical} has no paper variant")
        prefix = settings.paper_prefix + prefix
    return prefix + logical


def logical_name(full: str, settings: KafkaSettings) -> str | None:
    """Inverse of topic_name (paper or live); None if `full` is not one of ours."""
    for prefix in (settings.paper_prefix + settings.topic_prefix, settings.topic_prefix):
        if full.startswith(prefix) and full[len(prefix):] in TOPICS:
            return full[len(prefix):]
    return None
