"""Kafka semantics the code relies on, checked against the Apache Kafka the suite runs on (never xfail):
a broker that lacks one of them makes the exactly-once protocol unsound, and this file says which."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import NewTopic

from core.kafka import make_admin, make_consumer, make_producer, make_transactional_producer
from core.settings import KafkaSettings


def _topic(kafka: KafkaSettings, partitions: int = 1) -> str:
    name = f"{kafka.topic_prefix}conformance-{uuid.uuid4().hex[:6]}"
    admin = make_admin(kafka)  # kept referenced until the future is done (a collected client cancels it)
    admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])[name].result(15)
    return name


def _one_batch(kafka: KafkaSettings, topic: str, n: int) -> None:
    """n records of partition 0 in one record batch: a long linger, then flush sends them together."""
    producer = make_producer(kafka, **{"linger.ms": 5000, "batch.num.messages": 10_000})
    for i in range(n):
        producer.produce(topic, key=b"k", value=str(i).encode(), partition=0)
    assert producer.flush(15) == 0


def _read_from(kafka: KafkaSettings, topic: str, offset: int, want: int, timeout_s: float = 8.0) -> list[int]:
    consumer = make_consumer(kafka, None)
    try:
        consumer.assign([TopicPartition(topic, 0, offset)])
        got: list[int] = []
        deadline = time.monotonic() + timeout_s
        while len(got) < want and time.monotonic() < deadline:
            msg = consumer.poll(0.1)
            if msg is not None and msg.error() is None:
                got.append(msg.offset() or 0)
        return got
    finally:
        consumer.close()


def test_a_consumer_from_a_batch_start_reads_the_batch(kafka: KafkaSettings) -> None:
    topic = _topic(kafka)
    _one_batch(kafka, topic, 10)
    assert _read_from(kafka, topic, 0, 10) == list(range(10))


def test_a_consumer_starting_inside_a_batch_reads_the_rest_of_it(kafka: KafkaSettings) -> None:
    # Consumers resume at committed offsets, which can point into a batch (a producer that lingered).
    # Kafka returns the batch holding the fetch offset and the client drops the records before it, so
    # the rest of the batch arrives (test_executor_resume relies on it).
    topic = _topic(kafka)
    _one_batch(kafka, topic, 10)
    make_producer(kafka).produce(topic, key=b"k", value=b"after", partition=0)  # a later batch, so the read can end
    assert _read_from(kafka, topic, 4, 7)[:6] == [4, 5, 6, 7, 8, 9]


def test_the_high_watermark_is_the_end_of_the_partition(kafka: KafkaSettings) -> None:
    topic = _topic(kafka)
    _one_batch(kafka, topic, 10)
    consumer = make_consumer(kafka, None)
    try:
        _, high = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
    finally:
        consumer.close()
    assert high == 10


def test_read_committed_hides_an_aborted_transaction(kafka: KafkaSettings) -> None:
    topic = _topic(kafka)
    txn = make_transactional_producer(kafka, f"{kafka.topic_prefix}conformance-txn")
    txn.init_transactions(15)
    txn.begin_transaction()
    txn.produce(topic, key=b"k", value=b"aborted", partition=0)
    txn.flush(15)
    txn.abort_transaction(15)
    txn.begin_transaction()
    txn.produce(topic, key=b"k", value=b"committed", partition=0)
    txn.commit_transaction(15)
    consumer = make_consumer(kafka, None)  # read_committed, as every consumer of ours
    try:
        consumer.assign([TopicPartition(topic, 0, 0)])
        values: list[bytes] = []
        deadline = time.monotonic() + 8
        while b"committed" not in values and time.monotonic() < deadline:
            msg = consumer.poll(0.1)
            if msg is not None and msg.error() is None:
                values.append(msg.value() or b"")
    finally:
        consumer.close()
    assert values == [b"committed"]


# --- what the executor's exactly-once protocol relies on (design.md, "Exactly-once execution") ---------


def _poll_until(consumers: list[Consumer], done: Callable[[], bool], timeout_s: float = 30.0) -> None:
    """Poll every consumer (group members must poll to take part in a rebalance) until done() or fail."""
    deadline = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s} s")
        for c in consumers:
            c.poll(0.05)


def _commit_offsets_error(kafka: KafkaSettings, txn_id: str, topic: str, metadata: object) -> KafkaError | None:
    """Send offsets with `metadata` in a fresh transaction of `txn_id`; the error Kafka answers, if any."""
    producer = make_transactional_producer(kafka, txn_id)
    producer.init_transactions(15)
    producer.begin_transaction()
    producer.produce(topic, key=b"k", value=b"result", partition=0)
    try:
        producer.send_offsets_to_transaction([TopicPartition(topic, 0, 1)], metadata, 15)
        producer.commit_transaction(15)
    except KafkaException as exc:
        err: KafkaError = exc.args[0]
        if err.txn_requires_abort():
            producer.abort_transaction(15)
        return err
    return None


def test_a_transactional_offset_commit_with_stale_group_metadata_is_refused(kafka: KafkaSettings) -> None:
    # The executor commits its results and the signals' offsets in one transaction with the consumer's
    # group metadata (KIP-447). After a rebalance the generation moves on: metadata captured before it
    # must be refused, else a member that lost the partition could still commit for it.
    topic = _topic(kafka, 2)
    group = f"{kafka.topic_prefix}g"
    a = make_consumer(kafka, group)
    b = make_consumer(kafka, group)
    try:
        a.subscribe([topic])
        _poll_until([a], lambda: len(a.assignment()) == 2)
        stale = a.consumer_group_metadata()
        b.subscribe([topic])
        _poll_until([a, b], lambda: len(a.assignment()) == 1 and len(b.assignment()) == 1)
        err = _commit_offsets_error(kafka, f"{kafka.topic_prefix}txn-stale", topic, stale)
        assert err is not None and err.code() == KafkaError.ILLEGAL_GENERATION, err
        fresh = a.consumer_group_metadata()  # what the fix does: metadata taken at commit time is accepted
        assert _commit_offsets_error(kafka, f"{kafka.topic_prefix}txn-fresh", topic, fresh) is None
    finally:
        a.close()
        b.close()


def test_a_member_dropped_from_the_group_cannot_commit_offsets_in_a_transaction(kafka: KafkaSettings) -> None:
    # A zombie executor (stuck: it stops polling, so after max.poll.interval.ms librdkafka leaves the
    # group for it and its partitions go to another member) is fenced by its group metadata alone,
    # whatever its transactional.id. (Its heartbeats come from librdkafka's own thread, so a session
    # timeout alone would never expire it.)
    topic = _topic(kafka, 1)
    group = f"{kafka.topic_prefix}g"
    zombie = make_consumer(kafka, group, **{"session.timeout.ms": 1500, "heartbeat.interval.ms": 500, "max.poll.interval.ms": 2000})
    heir = make_consumer(kafka, group)
    try:
        zombie.subscribe([topic])
        _poll_until([zombie], lambda: len(zombie.assignment()) == 1)
        metadata = zombie.consumer_group_metadata()
        heir.subscribe([topic])  # the zombie stops polling; its session expires and the heir takes over
        _poll_until([heir], lambda: len(heir.assignment()) == 1)
        err = _commit_offsets_error(kafka, f"{kafka.topic_prefix}txn-zombie", topic, metadata)
        assert err is not None and err.code() in (KafkaError.UNKNOWN_MEMBER_ID, KafkaError.ILLEGAL_GENERATION), err
    finally:
        zombie.close()
        heir.close()


def test_init_transactions_of_the_same_id_fences_the_previous_producer(kafka: KafkaSettings) -> None:
    topic = _topic(kafka)
    txn_id = f"{kafka.topic_prefix}txn-fence"
    old = make_transactional_producer(kafka, txn_id)
    old.init_transactions(15)
    old.begin_transaction()
    old.produce(topic, key=b"k", value=b"zombie", partition=0)
    old.flush(15)
    new = make_transactional_producer(kafka, txn_id)
    new.init_transactions(15)  # bumps the epoch: aborts the old open transaction, fences its producer
    with pytest.raises(KafkaException) as caught:
        old.commit_transaction(15)
    assert caught.value.args[0].code() in (KafkaError._FENCED, KafkaError.PRODUCER_FENCED, KafkaError.INVALID_PRODUCER_EPOCH), caught.value
    new.begin_transaction()
    new.produce(topic, key=b"k", value=b"owner", partition=0)
    new.commit_transaction(15)
    assert _committed_values(kafka, topic, until=b"owner") == [b"owner"]


def _committed_values(kafka: KafkaSettings, topic: str, until: bytes, timeout_s: float = 30.0) -> list[bytes]:
    """Values of partition 0 as a read_committed reader sees them, up to and including `until`."""
    consumer = make_consumer(kafka, None)
    try:
        consumer.assign([TopicPartition(topic, 0, 0)])
        values: list[bytes] = []
        deadline = time.monotonic() + timeout_s
        while until not in values:
            if time.monotonic() > deadline:
                raise AssertionError(f"{until!r} not read within {timeout_s} s; read {values}")
            msg = consumer.poll(0.1)
            if msg is not None and msg.error() is None:
                values.append(msg.value() or b"")
        return values
    finally:
        consumer.close()


KILLED_PRODUCER = """
import sys, time
from core.kafka import make_transactional_producer
from core.settings import KafkaSettings
s = KafkaSettings(bootstrap=sys.argv[1])
p = make_transactional_producer(s, sys.argv[3], **{"transaction.timeout.ms": 3000})
p.init_transactions(15)
p.begin_transaction()
p.produce(sys.argv[2], key=b"k", value=b"open", partition=0)
p.flush(15)
print("sent", flush=True)
time.sleep(120)
"""


def test_a_killed_producers_open_transaction_is_aborted_after_its_timeout(kafka: KafkaSettings) -> None:
    # An executor SIGKILLed inside a transaction must not block read_committed readers for ever, nor
    # leak its records, even if its transactional.id never comes back.
    topic = _topic(kafka)
    child = subprocess.Popen([sys.executable, "-c", KILLED_PRODUCER, kafka.bootstrap, topic, f"{kafka.topic_prefix}txn-killed"],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "sent"
        sent_at = time.monotonic()
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        after = make_transactional_producer(kafka, f"{kafka.topic_prefix}txn-after")
        after.init_transactions(15)
        after.begin_transaction()
        after.produce(topic, key=b"k", value=b"later", partition=0)
        after.commit_transaction(15)
        values = _committed_values(kafka, topic, until=b"later")
        held = time.monotonic() - sent_at
    finally:
        if child.poll() is None:
            child.kill()
    assert values == [b"later"]  # the killed transaction's record is never visible
    assert held > 2.0  # its open transaction held readers back until the broker aborted it (timeout 3 s)
