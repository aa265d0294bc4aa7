"""The one Kafka client factory (confluent-kafka) with low-latency defaults.

Every role builds its clients here so security settings, the partitioner and the latency knobs are
the same everywhere. Keys are UTF-8 strings; values are Avro single-object encoded (core.codec).

No client creates a topic (`allow.auto.create.topics=false`): only `arb topics create` does, with the
registry's partitions and cleanup policy. librdkafka's own log lines (a `FAIL` line per reconnect attempt of
every client, ~45 a second on a broker that is down) go to the `rdkafka` logger at DEBUG instead of stderr;
client errors (broker unreachable, authentication failed, ...) are logged as one WARNING line per cluster
at most every ERROR_REPORT_EVERY_S while they last, fatal ones as ERROR each time. The client retries by
itself meanwhile.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Literal, TypeVar

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from core.backoff import Backoff
from core.settings import KafkaSettings

log = logging.getLogger(__name__)

ERROR_REPORT_EVERY_S = 30.0
# Errors that mean "no broker answers": librdkafka reconnects with backoff until one does.
_UNREACHABLE = {KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN, KafkaError._RESOLVE}
# Answers about a partition that exists but has no leader (yet): asked again.
T = TypeVar("T")
_NO_LEADER_YET = {KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE, KafkaError.UNKNOWN_TOPIC_OR_PART}


class _LibrdkafkaLog(logging.LoggerAdapter):
    """librdkafka's log lines, all at DEBUG: what matters reaches the error callback (below) as well. Served
    from the client's poll()/flush() (confluent-kafka's `logger` property routes them to its queue), so a
    client that is never polled drops them with itself instead of writing to stderr."""

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        super().log(logging.DEBUG, msg, *args, **kwargs)


_RDKAFKA_LOG = _LibrdkafkaLog(logging.getLogger("rdkafka"), {})


class _ErrorReports:
    """One WARNING line per cluster per ERROR_REPORT_EVERY_S for the errors of all the process's clients."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def callback(self, bootstrap: str) -> Callable[[KafkaError], None]:
        def on_error(err: KafkaError) -> None:
            self.report(bootstrap, err)

        return on_error

    def report(self, bootstrap: str, err: KafkaError) -> None:
        if err.fatal():
            log.error("Kafka at %s: fatal client error: %s", bootstrap, err.str())
            return
        now = time.monotonic()
        with self._lock:
            last = self._last.get(bootstrap)
            if last is not None and now - last < ERROR_REPORT_EVERY_S:
                self._suppressed[bootstrap] = self._suppressed.get(bootstrap, 0) + 1
                return
            self._last[bootstrap] = now
            more = self._suppressed.pop(bootstrap, 0)
        what = f"cannot reach Kafka at {bootstrap}" if err.code() in _UNREACHABLE else f"Kafka at {bootstrap}"
        if last is None:
            log.warning("%s: %s; retrying (reported again every %.0f s while errors last)", what, err.str(), ERROR_REPORT_EVERY_S)
        else:
            log.warning("%s: %s; still retrying (%d more error(s) since the last report)", what, err.str(), more)


_ERRORS = _ErrorReports()


def base_config(s: KafkaSettings) -> dict[str, Any]:
    cfg: dict[str, Any] = {"bootstrap.servers": s.bootstrap, "security.protocol": s.security_protocol,
                           "allow.auto.create.topics": False, "logger": _RDKAFKA_LOG, "error_cb": _ERRORS.callback(s.bootstrap)}
    if s.sasl_mechanism:
        cfg["sasl.mechanism"] = s.sasl_mechanism
        cfg["sasl.username"] = s.sasl_username
        cfg["sasl.password"] = s.sasl_password.reveal()
    if s.ssl_ca_location:
        cfg["ssl.ca.location"] = s.ssl_ca_location
    cfg.update(s.extra.properties())  # parsed and checked at load (core.config.SecretProperties)
    return cfg


def producer_config(s: KafkaSettings, **overrides: Any) -> dict[str, Any]:
    cfg = base_config(s)
    cfg.update({
        "acks": "all",
        "enable.idempotence": True,
        "linger.ms": s.linger_ms,
        "socket.nagle.disable": True,
        # Java-compatible key hashing, so Faust/aiokafka and confluent producers agree on partitions.
        "partitioner": "murmur2_random",
    })
    cfg.update(overrides)
    return cfg


FetchWait = Literal["short", "follow", "cold"]


def consumer_config(s: KafkaSettings, group_id: str | None, *, wait: FetchWait = "short", **overrides: Any) -> dict[str, Any]:
    """`wait`, the consumer's fetch.wait.max.ms: "short" (ARB_FETCH_WAIT_MS) for readers that load a partition to
    its end: librdkafka reports the end only when a fetch at the end comes back empty. "follow"
    (ARB_FOLLOW_FETCH_WAIT_MS) for hot-path consumers that follow their topics for good, "cold"
    (ARB_COLD_FETCH_WAIT_MS) for those off the hot path. A waiting fetch returns as soon as a record arrives (or a
    transaction's commit makes one readable: 1.2 ms p50 at a 500 ms wait, measured on Kafka 4.4), so the wait is
    how often an idle consumer fetches again (500 times a second at 2 ms, 40 at 25) and how long a partition that
    becomes fetchable (a new assignment, a seek) waits for the fetch in flight: librdkafka keeps one per broker."""
    cfg = base_config(s)
    cfg.update({
        "group.id": group_id or "arb-unused-group",  # librdkafka requires one even for manual assignment
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "isolation.level": "read_committed",
        "fetch.wait.max.ms": {"short": s.fetch_wait_ms, "follow": s.follow_fetch_wait_ms, "cold": s.cold_fetch_wait_ms}[wait],
        "socket.nagle.disable": True,
        "session.timeout.ms": s.session_timeout_ms,
        "heartbeat.interval.ms": max(500, s.session_timeout_ms // 6),
        "partition.assignment.strategy": "cooperative-sticky",
    })
    cfg.update(overrides)
    return cfg


def make_producer(s: KafkaSettings, **overrides: Any) -> Producer:
    return Producer(producer_config(s, **overrides))


def make_transactional_producer(s: KafkaSettings, transactional_id: str, **overrides: Any) -> Producer:
    """A producer with a STABLE transactional.id: init_transactions() then fences the previous owner."""
    return Producer(producer_config(s, **{"transactional.id": transactional_id, "transaction.timeout.ms": 60000, **overrides}))


def make_consumer(s: KafkaSettings, group_id: str | None, *, wait: FetchWait = "short", **overrides: Any) -> Consumer:
    return Consumer(consumer_config(s, group_id, wait=wait, **overrides))


def retry_no_leader(call: Callable[[float], T], timeout_s: float = 10.0) -> T:
    """`call(time left)`, asked again while the broker answers with a retriable error (a partition created a moment
    ago, or on a broker busy electing leaders, has none yet: NOT_LEADER_OR_FOLLOWER, LEADER_NOT_AVAILABLE) until
    `timeout_s`; then raises. For the metadata-style calls of a reader's start (watermarks, offsets_for_times): a
    reader that died on one made the executor reject every signal until it was restarted."""
    deadline = time.monotonic() + timeout_s
    backoff = Backoff(0.05, 1.0)
    while True:
        try:
            return call(max(0.1, deadline - time.monotonic()))
        except KafkaException as exc:
            err = exc.args[0] if exc.args and isinstance(exc.args[0], KafkaError) else None
            retriable = err is not None and (err.retriable() or err.code() in _NO_LEADER_YET)
            if not retriable or time.monotonic() + 0.05 >= deadline:
                raise
        time.sleep(min(backoff.next_delay(), max(0.0, deadline - time.monotonic())))


def watermarks(consumer: Consumer, topic: str, partition: int, timeout_s: float = 10.0) -> tuple[int, int]:
    """(low, high) watermarks of one partition (asked from the broker), through retry_no_leader.

    Readers that load a partition to its end assign the low watermark, never OFFSET_BEGINNING: librdkafka 2.16
    reports the end of a partition assigned at a logical offset ~500 ms later than at an explicit one (measured on
    Kafka 4.4: first PARTITION_EOF of an empty partition 560 ms vs 70 ms), a cost every recovery read and start-up
    load paid."""
    lo, hi = retry_no_leader(lambda left: consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=left), timeout_s)
    return int(lo), int(hi)


def offsets_for_times(consumer: Consumer, tps: list[TopicPartition], timeout_s: float = 10.0) -> list[TopicPartition]:
    """consumer.offsets_for_times through retry_no_leader."""
    return list(retry_no_leader(lambda left: consumer.offsets_for_times(tps, timeout=left), timeout_s))


def make_admin(s: KafkaSettings, **overrides: Any) -> AdminClient:
    return AdminClient({**base_config(s), **overrides})


def delivery_check(errors: list[str]) -> Any:
    """A delivery callback that records failures, for callers that flush and then check."""

    def _cb(err: Any, msg: Any) -> None:
        if err is not None:
            errors.append(f"{msg.topic()}: {err}")

    return _cb
