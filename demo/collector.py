"""Reads the pipeline's topics (from the beginning, read_committed) into DemoStats on a background thread."""

from __future__ import annotations

import logging
import threading
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, TopicPartition

from core import codec
from core.kafka import make_consumer
from core.settings import KafkaSettings
from core.topics import partitions, spec, topic_name
from demo.stats import DemoStats

log = logging.getLogger(__name__)

WATCHED = ("ticks", "signals", "orders", "fills", "outcomes")


class Collector:
    def __init__(self, kafka: KafkaSettings) -> None:
        self.kafka = kafka
        self.stats = DemoStats()
        self.lock = threading.Lock()
        self.bad_records = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-collector", daemon=True)
        self._by_topic = {topic_name(t, kafka): t for t in WATCHED}

    def start(self) -> Collector:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _fold(self, logical: str, value: dict[str, Any]) -> None:
        with self.lock:
            {"ticks": self.stats.on_tick, "signals": self.stats.on_signal, "orders": self.stats.on_order,
             "fills": self.stats.on_fill, "outcomes": self.stats.on_outcome}[logical](value)

    def _run(self) -> None:
        consumer = make_consumer(self.kafka, None, cold=True)
        try:
            consumer.assign([TopicPartition(name, p, OFFSET_BEGINNING) for name, logical in self._by_topic.items()
                             for p in range(partitions(logical, self.kafka))])
            while not self._stop.is_set():
                for msg in consumer.consume(500, 0.1):
                    if msg.error() is not None or msg.value() is None:
                        continue
                    logical = self._by_topic.get(msg.topic() or "")
                    if logical is None:
                        continue
                    try:
                        self._fold(logical, codec.decode(msg.value() or b"", spec(logical).value_type or ""))
                    except codec.DecodeError:
                        self.bad_records += 1
        except Exception:
            log.exception("demo collector stopped")
        finally:
            consumer.close()
