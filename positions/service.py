"""The positions role (`arb positions serve`): folds `fills` into positions, marks them from live
`ticks`, and publishes changed Position records to the compacted `positions` topic.

On start it rebuilds from `fills` (the source of truth, read from the beginning), never from
`positions`, so a restart cannot carry a wrong figure forward.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, TopicPartition

from core import codec
from core.kafka import make_consumer, make_producer
from core.markets_cache import MarketsCache
from core.settings import KafkaSettings
from core.topics import partitions, topic_name
from core.units import now_us
from positions.fold import Book, locked_profit, pays_on_index, position_record
from positions.settings import PositionsSettings

log = logging.getLogger(__name__)


class PositionsService:
    def __init__(self, kafka: KafkaSettings, settings: PositionsSettings, *, paper: bool = False) -> None:
        self.kafka = kafka
        self.settings = settings
        self.paper = paper
        self.book = Book()
        self.marks: dict[tuple[str, str, str], int] = {}
        self.published: dict[str, tuple[Any, ...]] = {}
        self.last_sent: dict[str, float] = {}
        self.locked: dict[str, int] = {}
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def _on_tick(self, t: dict[str, Any]) -> None:
        if t["status"] != "OK":
            return
        if t["bids"]:
            self.marks[(t["venue"], t["market"], "YES")] = t["bids"][0]["price"]
        if t["venue"] == "KALSHI" and t["asks"]:
            self.marks[(t["venue"], t["market"], "NO")] = 10_000 - t["asks"][0]["price"]

    def publish_changes(self, producer: Any, markets: MarketsCache) -> int:
        now = time.monotonic()
        topic = topic_name("positions", self.kafka)
        n = 0
        for k, h in self.book.holdings.items():
            mark = self.marks.get(k)
            rec = position_record(h, mark, now_us())
            fingerprint = tuple(v for f, v in rec.items() if f != "ts")
            if self.published.get(h.key) == fingerprint:
                continue
            if now - self.last_sent.get(h.key, 0.0) < self.settings.publish_interval_ms / 1000:
                continue
            producer.produce(topic, key=h.key.encode(), value=codec.encode("Position", rec))
            self.published[h.key], self.last_sent[h.key] = fingerprint, now
            n += 1
        idx, outcomes = pays_on_index(markets.pairings)
        self.locked = {g: locked_profit(self.book, g, outcomes.get(g, []), idx) for g in self.book.games()}
        producer.poll(0)
        return n

    def run(self) -> None:
        markets = MarketsCache(self.kafka).start()
        producer = make_producer(self.kafka)
        consumer = make_consumer(self.kafka, None, cold=True)
        fills = topic_name("fills", self.kafka, paper=self.paper)
        ticks = topic_name("ticks", self.kafka)
        consumer.assign([TopicPartition(fills, p, OFFSET_BEGINNING) for p in range(partitions("fills", self.kafka))]
                        + [TopicPartition(ticks, p, OFFSET_END) for p in range(partitions("ticks", self.kafka))])
        log.info("positions: rebuilding from %s", fills)
        try:
            while not self._stop.is_set():
                for msg in consumer.consume(500, 0.2):
                    if msg.error() is not None or msg.value() is None:
                        continue
                    try:
                        if msg.topic() == fills:
                            self.book.apply(codec.decode(msg.value() or b"", "Fill"))
                        else:
                            self._on_tick(codec.decode(msg.value() or b"", "Tick"))
                    except codec.DecodeError as exc:
                        log.error("undecodable record on %s[%s]@%s: %s", msg.topic(), msg.partition(), msg.offset(), exc)
                self.publish_changes(producer, markets)
        finally:
            consumer.close()
            producer.flush(10)
            markets.stop()
