"""localkafka/run.py: the run-scoped topics that let a benchmark or the demo share an external cluster."""

from __future__ import annotations

import pytest

from core.settings import KafkaSettings
from localkafka.run import delete_run_topics, run_prefix


def test_run_prefix_is_the_base_plus_a_random_id() -> None:
    a, b = run_prefix("bench."), run_prefix("bench.")
    assert a != b and a.startswith("bench.") and a.endswith(".") and len(a) == len("bench.") + 7


def test_deleting_by_a_prefix_that_is_not_a_run_prefix_is_refused() -> None:
    for prefix in ("", "arb.", "bench", "production.", "bench.3f9a1c"):
        with pytest.raises(ValueError, match="refusing"):
            delete_run_topics(None, KafkaSettings(topic_prefix=prefix))  # type: ignore[arg-type] # refused before any broker call


def test_a_run_prefix_passes_the_guard() -> None:
    class NoTopics:
        def list_topics(self, timeout: float) -> object:
            return type("Meta", (), {"topics": {"other.ticks": None}})()

    assert delete_run_topics(NoTopics(), KafkaSettings(topic_prefix=run_prefix("bench."))) == []  # type: ignore[arg-type]
