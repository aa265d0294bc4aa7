"""Per-partition transactional writer of the executor (design.md "Exactly-once execution").

Partition p of `signals` is owned through a producer with the STABLE transactional.id
`{prefix}executor-{p}`: `init_transactions()` bumps the epoch, fencing any previous owner (its later
commits fail), and aborts whatever that owner left open. Records about a signal go to
partition p of `orders` and `outcomes`, so recovery of p reads only partition p.

Two kinds of transaction:
- intent: the INTENT OrderEvents of the legs about to be sent, alone. A leg is sent only after this
  commit succeeded; a fenced zombie cannot commit, so it never sends.
- results: result OrderEvents, Fills, the Outcome (with its alerts on `control`) and the consumed `signals`
  offset, atomically.
librdkafka calls block for a few ms, so callers run them in a worker thread (asyncio.to_thread).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import cast

from confluent_kafka import KafkaError, KafkaException, Message, TopicPartition

from core import codec
from core.backoff import Backoff
from core.kafka import make_transactional_producer
from core.settings import KafkaSettings
from core.topics import topic_name
from executor.exceptions import Fenced
from schemas.records import AvroRecord, Control, Fill, OrderEvent, Outcome

log = logging.getLogger(__name__)


# The group moved to a new generation (any member joined or left: cooperative-sticky bumps it for every
# member) between reading the group metadata and committing: the transaction aborts and is retried with
# fresh metadata. Safe: its records are idempotent facts, and a member that really lost partition p is
# fenced by the partition's transactional.id, which the new owner's init_transactions() bumped.
STALE_GROUP = (KafkaError.ILLEGAL_GENERATION, KafkaError.UNKNOWN_MEMBER_ID, KafkaError.REBALANCE_IN_PROGRESS)
ATTEMPTS = 8  # abortable failures retried this often (~6 s with the backoff below) before giving up

# confluent-kafka's stub gives KafkaException an Any constructor and `args`: caught under this name, and its
# KafkaError read by kafka_error() below.
KafkaFailure = cast("type[Exception]", KafkaException)


def kafka_error(exc: BaseException) -> KafkaError | None:
    """The KafkaError a KafkaException carries as its first argument (None: none)."""
    args = cast("tuple[object, ...]", exc.args)  # typed Any by the stub
    return args[0] if args and isinstance(args[0], KafkaError) else None


def transactional_id(settings: KafkaSettings, partition: int, *, paper: bool = False) -> str:
    return f"{settings.paper_prefix if paper else ''}{settings.topic_prefix}executor-{partition}"


class PartitionWriter:
    def __init__(self, settings: KafkaSettings, partition: int, *, paper: bool = False) -> None:
        self.settings = settings
        self.partition = partition
        self.paper = paper
        self.orders_topic = topic_name("orders", settings, paper=paper)
        self.outcomes_topic = topic_name("outcomes", settings, paper=paper)
        self.fills_topic = topic_name("fills", settings, paper=paper)
        self.control_topic = topic_name("control", settings)
        self.txn_id = transactional_id(settings, partition, paper=paper)
        self.producer = make_transactional_producer(settings, self.txn_id)
        # The next offset of `orders` p and `outcomes` p after what this writer (or recovery) has seen:
        # recovery's checkpoint (executor/checkpoint.py) is made of these.
        self.ends = {self.orders_topic: 0, self.outcomes_topic: 0}

    def known_ends(self) -> tuple[int, int]:
        return self.ends[self.orders_topic], self.ends[self.outcomes_topic]

    def saw_ends(self, highs: dict[str, int]) -> None:
        for topic, offset in highs.items():
            if topic in self.ends:
                self.ends[topic] = max(self.ends[topic], offset)

    def _delivered(self, err: KafkaError | None, msg: Message) -> None:
        topic, offset = msg.topic(), msg.offset()
        if err is None and topic in self.ends and msg.partition() == self.partition and offset is not None and offset >= 0:
            self.ends[topic] = max(self.ends[topic], offset + 1)

    def init(self, timeout_s: float = 30.0) -> None:
        """Fence previous owners of this partition. Must succeed before anything else."""
        self.producer.init_transactions(timeout_s)

    def _produce(self, topic: str, key: str, record: AvroRecord, partition: int | None) -> None:
        value = codec.encode_record(record)
        if partition is None:
            self.producer.produce(topic, key=key, value=value)
        else:
            self.producer.produce(topic, key=key, value=value, partition=partition, on_delivery=self._delivered)

    def _commit(self, what: str, fill: Callable[[], None]) -> None:
        """One transaction: begin, fill, commit. An abortable failure (a stale group generation, a
        transient broker error) aborts and runs the whole transaction again; a fatal one (fenced by the
        partition's next owner) or one that persists raises Fenced."""
        backoff = Backoff(0.05, 1.0)
        for attempt in range(1, ATTEMPTS + 1):
            try:
                self.producer.begin_transaction()
                fill()
                self.producer.commit_transaction(10.0)
                self.producer.poll(0)  # serve the delivery reports: they move `ends`
                return
            except KafkaFailure as exc:
                err = kafka_error(exc)
                if err is None or err.fatal() or not (err.txn_requires_abort() or err.retriable()):
                    raise Fenced(f"{self.txn_id}: {what} transaction failed: {exc}") from None
                try:
                    if err.txn_requires_abort():
                        self.producer.abort_transaction(10.0)
                except KafkaFailure as abort_exc:
                    raise Fenced(f"{self.txn_id}: {what} transaction failed ({exc}), then its abort: {abort_exc}") from None
                if attempt == ATTEMPTS:
                    raise Fenced(f"{self.txn_id}: {what} transaction failed {ATTEMPTS} times, last: {exc}") from None
                log.warning("%s: %s transaction aborted (%s), retrying", self.txn_id, what, err.name(),
                            extra={"partition": self.partition, "stale_group": err.code() in STALE_GROUP})
                time.sleep(backoff.next_delay())  # runs in a worker thread (asyncio.to_thread), never on the loop

    def commit_intents(self, intents: list[OrderEvent]) -> None:
        def fill() -> None:
            for ev in intents:
                self._produce(self.orders_topic, ev.client_order_id, ev, self.partition)

        self._commit("intent", fill)

    def commit_results(self, events: list[OrderEvent], fills: list[Fill], outcome: Outcome | None,
                       offsets: list[TopicPartition], group_metadata: Callable[[], object] | None,
                       controls: list[Control] | None = None) -> None:
        """`group_metadata` is called inside each attempt, so a retry after a rebalance commits with the
        group's current generation (metadata captured when the signal arrived would be refused)."""

        def fill() -> None:
            for ev in events:
                self._produce(self.orders_topic, ev.client_order_id, ev, self.partition)
            for f in fills:
                # fills are keyed by game_id (positions fold per game); partitioned by Kafka's hash of the key
                self._produce(self.fills_topic, f.game_id, f, None)
            if outcome is not None:
                self._produce(self.outcomes_topic, outcome.signal_id, outcome, self.partition)
            for rec in controls or []:  # alerts about this outcome, atomically with it
                self._produce(self.control_topic, rec.name, rec, None)
            if offsets:
                if group_metadata is None:
                    raise ValueError("offsets need the consumer's group metadata")
                self.producer.send_offsets_to_transaction(offsets, group_metadata(), 10.0)

        self._commit("results", fill)

    def close(self) -> None:
        self.producer.flush(5.0)
