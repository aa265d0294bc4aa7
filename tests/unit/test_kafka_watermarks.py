"""core.kafka.watermarks: a partition created a moment ago answers NOT_LEADER for a while (seen
in CI right after `topics create`); the recovery read must ask again, not give up or read nothing."""

from __future__ import annotations

from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from core.kafka import watermarks


class FlakyConsumer:
    """get_watermark_offsets fails `failures` times with `code`, then answers (lo, hi)."""

    def __init__(self, failures: int, code: int, lo: int = 3, hi: int = 9) -> None:
        self.failures, self.code, self.lo, self.hi, self.calls = failures, code, lo, hi, 0

    def get_watermark_offsets(self, tp: TopicPartition, timeout: float) -> tuple[int, int]:
        self.calls += 1
        if self.calls <= self.failures:
            raise KafkaException(KafkaError(self.code))
        return self.lo, self.hi


def test_a_partition_without_a_leader_yet_is_asked_again() -> None:
    c: Any = FlakyConsumer(3, KafkaError.NOT_LEADER_FOR_PARTITION)
    assert watermarks(c, "t", 0, timeout_s=5) == (3, 9)
    assert c.calls == 4


def test_a_non_retriable_error_is_raised_at_once() -> None:
    c: Any = FlakyConsumer(1, KafkaError.TOPIC_AUTHORIZATION_FAILED)
    with pytest.raises(KafkaException):
        watermarks(c, "t", 0, timeout_s=5)
    assert c.calls == 1


def test_retries_stop_at_the_deadline() -> None:
    c: Any = FlakyConsumer(10**9, KafkaError.NOT_LEADER_FOR_PARTITION)
    with pytest.raises(KafkaException):
        watermarks(c, "t", 0, timeout_s=0.3)
    assert c.calls >= 2
