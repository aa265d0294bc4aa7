"""Reads the pipeline's topics (from the beginning, read_committed) into DemoStats on a background thread."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, KafkaError, TopicPartition

from core import codec
from core.kafka import make_consumer
from core.settings import KafkaSettings
from core.topics import partitions, spec, topic_name
from demo.stats import DemoStats

log = logging.getLogger(__name__)

WATCHED = ("ticks", "signals", "orders", "fills", "outcomes", "markets", "settlements")


class Collector:
    def __init__(self, kafka: KafkaSettings, topics: tuple[str, ...] = WATCHED) -> None:
        self.kafka = kafka
        self.stats = DemoStats()
        self.lock = threading.Lock()
        self.bad_records = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-collector", daemon=True)
        self._by_topic = {topic_name(t, kafka): t for t in topics}

    def start(self) -> Collector:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _fold(self, logical: str, value: dict[str, Any]) -> None:
        with self.lock:
            {"ticks": self.stats.on_tick, "signals": self.stats.on_signal, "orders": self.stats.on_order,
             "fills": self.stats.on_fill, "outcomes": self.stats.on_outcome, "settlements": self.stats.on_settlement}[logical](value)

    def _fold_pairing(self, msg: Any) -> None:
        """A `markets` record: a pairing, or a tombstone (the game withdrawn, e.g. it stopped trading)."""
        if msg.error() is not None:
            return
        game_id = (msg.key() or b"").decode()
        value = self._decode(msg, "markets") if msg.value() is not None else None
        if value is None and msg.value() is not None:
            return  # undecodable (counted)
        with self.lock:
            self.stats.on_pairing(game_id, value)

    def _decode(self, msg: Any, logical: str) -> dict[str, Any] | None:
        """The record's value, or None for an error, an empty value or an undecodable one (counted)."""
        if msg.error() is not None or msg.value() is None:
            return None
        try:
            return codec.decode(msg.value() or b"", spec(logical).value_type or "")
        except codec.DecodeError:
            self.bad_records += 1
            return None

    def _run(self) -> None:
        consumer = make_consumer(self.kafka, None, wait="cold")
        try:
            consumer.assign([TopicPartition(name, p, OFFSET_BEGINNING) for name, logical in self._by_topic.items()
                             for p in range(partitions(logical, self.kafka))])
            while not self._stop.is_set():
                for msg in consumer.consume(500, 0.1):
                    logical = self._by_topic.get(msg.topic() or "")
                    if logical is None:
                        continue
                    if logical == "markets":
                        self._fold_pairing(msg)
                        continue
                    value = self._decode(msg, logical)
                    if value is not None:
                        self._fold(logical, value)
        except Exception:
            log.exception("demo collector stopped")
        finally:
            consumer.close()

    def fold_ticks_between(self, since_us: int, until_us: int, *, timeout_s: float = 300.0) -> tuple[int, bool]:
        """Read the `ticks` topic from the beginning and fold the ticks produced in [since_us, until_us]
        into the stats: how many, and whether every partition was read to the interval's end (False:
        `timeout_s` ran out first). For a benchmark whose collector does not read ticks live: decoding
        every tick while the pipeline runs took CPU from the pipeline it measures.

        A partition is done when it shows a tick produced after `until_us` (the feeds are still running)
        or the read reached its end (EOF: a partition no game hashes to, or whose games stopped ticking)."""
        logical = "ticks"
        consumer = make_consumer(self.kafka, None, wait="cold", **{"enable.partition.eof": True})
        n_parts = partitions(logical, self.kafka)
        consumer.assign([TopicPartition(topic_name(logical, self.kafka), p, OFFSET_BEGINNING) for p in range(n_parts)])
        done: set[int] = set()
        folded = 0
        started = time.monotonic()
        try:
            while len(done) < n_parts and time.monotonic() - started < timeout_s:
                for msg in consumer.consume(5000, 0.2):
                    err = msg.error()
                    if err is not None:
                        if err.code() == KafkaError._PARTITION_EOF:
                            done.add(msg.partition() or 0)
                        continue
                    if msg.value() is None:
                        continue
                    tick = self._decode(msg, logical)
                    if tick is None:
                        continue
                    produced = int(tick["produced_ts"])
                    if produced > until_us:
                        done.add(msg.partition() or 0)
                    elif produced >= since_us:
                        folded += 1
                        self._fold(logical, tick)
        finally:
            consumer.close()
        return folded, len(done) == n_parts
