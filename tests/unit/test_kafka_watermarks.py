"""core.kafka.watermarks: a partition created a moment ago answers NOT_LEADER for a while (seen
in CI right after `topics create`); the recovery read must ask again, not give up or read nothing."""

from __future__ import annotations

from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from core.kafka import offsets_for_times, watermarks


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


class FlakyTimes:
    """offsets_for_times fails `failures` times with NOT_LEADER, then answers."""

    def __init__(self, failures: int) -> None:
        self.failures, self.calls = failures, 0

    def offsets_for_times(self, tps: list[TopicPartition], timeout: float) -> list[TopicPartition]:
        self.calls += 1
        if self.calls <= self.failures:
            raise KafkaException(KafkaError(KafkaError.NOT_LEADER_FOR_PARTITION))
        return [TopicPartition(tp.topic, tp.partition, 42) for tp in tps]


def test_offsets_for_times_is_asked_again_while_a_partition_has_no_leader() -> None:
    """The executor's risk reader starts with offsets_for_times and watermarks: on a busy broker one answered
    NOT_LEADER, the reader thread died, and the executor rejected every signal until it was restarted."""
    c: Any = FlakyTimes(2)
    found = offsets_for_times(c, [TopicPartition("fills", 0, 1), TopicPartition("fills", 1, 1)], timeout_s=5)
    assert [tp.offset for tp in found] == [42, 42] and c.calls == 3
