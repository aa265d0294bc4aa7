"""Per-partition transactional writer of the executor (design.md "Exactly-once execution").

Partition p of `signals` is owned through a producer with the STABLE transactional.id
`{prefix}executor-{p}`: `init_transactions()` bumps the epoch, fencing any previous owner (its later
commits fail), and aborts (on Tansu: exposes) whatever that owner left open. Records about a signal go to
partition p of `orders` and `outcomes`, so recovery of p reads only partition p.

Two kinds of transaction:
- intent: the INTENT OrderEvents of the legs about to be sent, alone. A leg is sent only after this
  commit succeeded; a fenced zombie cannot commit, so it never sends.
- results: result OrderEvents, Fills, the Outcome and the consumed `signals` offset, atomically.
librdkafka calls block for a few ms, so callers run them in a worker thread (asyncio.to_thread).
"""

from __future__ import annotations

import logging
from typing import Any

from confluent_kafka import KafkaException, TopicPartition

from core import codec
from core.kafka import make_transactional_producer
from core.settings import KafkaSettings
from core.topics import topic_name

log = logging.getLogger(__name__)


class Fenced(Exception):
    """Another executor owns this partition now (or the transaction failed fatally): stop using it."""


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
        self.txn_id = transactional_id(settings, partition, paper=paper)
        self.producer = make_transactional_producer(settings, self.txn_id)

    def init(self, timeout_s: float = 30.0) -> None:
        """Fence previous owners of this partition. Must succeed before anything else."""
        self.producer.init_transactions(timeout_s)

    def _produce(self, topic: str, key: str, type_name: str, record: dict[str, Any], partition: int | None) -> None:
        kwargs: dict[str, Any] = {"key": key, "value": codec.encode(type_name, record)}
        if partition is not None:
            kwargs["partition"] = partition
        self.producer.produce(topic, **kwargs)

    def _commit(self, what: str, fill: Any) -> None:
        try:
            self.producer.begin_transaction()
            fill()
            self.producer.commit_transaction(10.0)
        except KafkaException as exc:
            err = exc.args[0] if exc.args else None
            fatal = bool(err is not None and (err.fatal() or not err.retriable()))
            try:
                if not fatal:
                    self.producer.abort_transaction(10.0)
            except KafkaException:
                pass
            raise Fenced(f"{self.txn_id}: {what} transaction failed: {exc}") from None

    def commit_intents(self, intents: list[dict[str, Any]]) -> None:
        def fill() -> None:
            for ev in intents:
                self._produce(self.orders_topic, ev["client_order_id"], "OrderEvent", ev, self.partition)

        self._commit("intent", fill)

    def commit_results(self, events: list[dict[str, Any]], fills: list[dict[str, Any]], outcome: dict[str, Any] | None,
                       offsets: list[TopicPartition], group_metadata: Any) -> None:
        def fill() -> None:
            for ev in events:
                self._produce(self.orders_topic, ev["client_order_id"], "OrderEvent", ev, self.partition)
            for f in fills:
                # fills are keyed by game_id (positions fold per game); partitioned by Kafka's hash of the key
                self._produce(self.fills_topic, f["game_id"], "Fill", f, None)
            if outcome is not None:
                self._produce(self.outcomes_topic, outcome["signal_id"], "Outcome", outcome, self.partition)
            if offsets:
                self.producer.send_offsets_to_transaction(offsets, group_metadata, 10.0)

        self._commit("results", fill)

    def close(self) -> None:
        self.producer.flush(5.0)
