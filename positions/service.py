"""The positions role (`arb positions serve`): folds `fills` into positions, marks them from live
`ticks`, and publishes changed Position records to the compacted `positions` topic.

On start it rebuilds from `fills` (the source of truth, read from the beginning), never from
`positions`, so a restart cannot carry a wrong figure forward. It folds `settlements` too (from the
beginning): a resolved market's contracts are paid per its venue and the game's P&L is realized. A game
whose venues resolved differently (fold.settlement_mismatch, through the pairing's `pays_on`) is reported
loudly -- an ERROR log, arb_settlement_mismatches_total, and an active ALERT record `alert:settlement:<game>`
on `control` (shown by `arb status`) -- and each venue's payout stays as that venue paid it, never netted.

Every ARB_POSITIONS_RECONCILE_S it compares its positions with the venues' own (positions/reconciler.py; not
for paper fills, which no venue holds), and every ARB_STATUS_INTERVAL_S it logs a one-line status.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from zoneinfo import ZoneInfo

from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, Producer, TopicPartition

from core import codec, metrics
from core.kafka import make_consumer, make_producer
from core.markets_cache import MarketsCache
from core.progress import StatusLine, status_interval_s
from core.settings import KafkaSettings
from core.topics import partitions, topic_name
from core.units import now_us
from positions.boundary import control, follow_pairings
from positions.fold import Book, locked_profit, pays_on_index, position, settlement_mismatch
from positions.reconciler import Reconciler
from positions.settings import PositionsSettings
from positions.venue_positions import VenuePositions
from schemas.records import Fill, MarketPairing, Position, Settlement, Tick

log = logging.getLogger(__name__)


class PositionsService:
    def __init__(self, kafka: KafkaSettings, settings: PositionsSettings, *, paper: bool = False, day_tz: str | None = None,
                 venues: VenuePositions | None = None) -> None:
        """`day_tz`: the trading day's time zone (None: ARB_EXEC_DAY_TZ, the executor's daily loss limit's day).
        `venues`: the venues' positions to reconcile with (None: no reconciliation)."""
        self.kafka = kafka
        self.settings = settings
        self.paper = paper
        self.book = Book(tz=day_time_zone(day_tz))
        self.pairings: dict[str, MarketPairing] = {}  # the games paired now (as `markets` says)
        self.pairings_seen: dict[str, MarketPairing] = {}  # last pairing of every game, withdrawn ones included
        self.mismatches: dict[str, dict[str, str]] = {}  # game -> {venue: verdict}, reported
        self._unsettled_check: set[str] = set()  # games with new settlements (or pairings) to check
        self._check_lock = threading.Lock()  # on_pairing runs on the markets reader's thread
        self.marks: dict[tuple[str, str, str], int] = {}
        self.published: dict[str, Position] = {}  # key -> the last Position written (its ts set to 0)
        self.last_sent: dict[str, float] = {}
        self.locked: dict[str, int] = {}
        self._stop = threading.Event()
        self.reconciler = self._reconciler(venues)

    def _reconciler(self, venues: VenuePositions | None) -> Reconciler | None:
        s = self.settings
        if s.reconcile_s <= 0 or venues is None:
            log.info("reconciliation off (ARB_POSITIONS_RECONCILE_S=%g)", s.reconcile_s)
            return None
        if self.paper:
            log.info("reconciliation off: paper fills are not held at any venue")
            return None
        if not venues.configured:
            log.warning("reconciliation off: no venue's positions can be read (%s)",
                        "; ".join(f"{v}: {n}" for v, n in venues.not_configured.items()))
            return None
        for venue, needs in venues.not_configured.items():  # reconciles what it can read, and says what it cannot
            log.warning("reconciliation: %s positions are not read (%s): its holdings are not compared", venue, needs)
        return Reconciler(self.kafka, venues, interval_s=s.reconcile_s, confirm=s.reconcile_confirm, kill=s.reconcile_kill,
                          fills_topic=topic_name("fills", self.kafka, paper=self.paper), fills_partitions=partitions("fills", self.kafka))

    def ended_games(self) -> set[str]:
        """Games paired once and withdrawn since (they stopped trading): their markets settle next."""
        with self._check_lock:
            return {g for g in self.pairings_seen if g not in self.pairings}

    def status(self) -> dict[str, object]:
        b = self.book
        return {"fills": len(b.seen), "duplicates": b.duplicates, "holdings": sum(1 for h in b.holdings.values() if h.contracts),
                "games": len(b.games()), "settled_games": len(b.settled_games()),
                "reconcile": self.reconciler.summary() if self.reconciler is not None else "off"}

    def stop(self) -> None:
        self._stop.set()

    def _on_tick(self, t: Tick) -> None:
        if t.status != "OK":
            return
        if t.bids:
            self.marks[(t.venue, t.market, "YES")] = t.bids[0].price
        if t.venue == "KALSHI" and t.asks:
            self.marks[(t.venue, t.market, "NO")] = 10_000 - t.asks[0].price

    def on_settlement(self, rec: Settlement) -> None:
        if not self.book.apply_settlement(rec) and self.book.conflicting:
            log.error("settlement: %s (the first one stands)", self.book.conflicting[-1], extra={"game_id": rec.game_id})
        with self._check_lock:
            self._unsettled_check.add(rec.game_id)

    def on_pairing(self, game_id: str, pairing: MarketPairing | None) -> None:
        """A change on `markets` (None: the game was withdrawn), from the markets reader's thread."""
        with self._check_lock:
            if pairing is None:
                self.pairings.pop(game_id, None)
                return
            self.pairings[game_id] = self.pairings_seen[game_id] = pairing
            self._unsettled_check.add(game_id)

    def check_settlements(self, producer: Producer) -> list[str]:
        """Report every game whose venues resolved differently (once per game and process); the games reported."""
        reported = []
        with self._check_lock:
            todo = sorted(self._unsettled_check)
            self._unsettled_check.clear()
        for gid in todo:
            pairing = self.pairings_seen.get(gid)
            if pairing is None or gid in self.mismatches:
                continue
            verdicts = settlement_mismatch(pairing, self.book.settlements)
            if verdicts is None:
                continue
            self.mismatches[gid] = verdicts
            reason = f"game {gid}: the venues resolved it differently: " + "; ".join(f"{v} {w}" for v, w in verdicts.items())
            log.error("SETTLEMENT MISMATCH %s; positions are paid per venue, not netted: check both venues' rules and dispute",
                      reason, extra={"game_id": gid})
            metrics.SETTLEMENT_MISMATCHES.inc()
            rec = control(f"alert:settlement:{gid}", "ALERT", True, reason=reason,
                          value={"game_id": gid, "verdicts": verdicts, "realized_pnl": self.book.game_realized().get(gid, 0)})
            producer.produce(topic_name("control", self.kafka), key=rec.name.encode(), value=codec.encode_record(rec))
            reported.append(gid)
        return reported

    def publish_changes(self, producer: Producer) -> int:
        now = time.monotonic()
        topic = topic_name("positions", self.kafka)
        n = 0
        for k, h in self.book.holdings.items():
            fingerprint = position(h, self.marks.get(k), 0)
            if self.published.get(h.key) == fingerprint:
                continue
            if now - self.last_sent.get(h.key, 0.0) < self.settings.publish_interval_ms / 1000:
                continue
            rec = dataclasses.replace(fingerprint, ts=now_us())
            producer.produce(topic, key=h.key.encode(), value=codec.encode_record(rec))
            self.published[h.key], self.last_sent[h.key] = fingerprint, now
            n += 1
        with self._check_lock:
            pairings = dict(self.pairings)
        idx, outcomes = pays_on_index(pairings)
        self.locked = {g: locked_profit(self.book, g, outcomes.get(g, []), idx) for g in self.book.games()}
        producer.poll(0)
        return n

    def run(self) -> None:
        markets = MarketsCache(self.kafka)
        follow_pairings(markets, self.on_pairing)
        markets.start()
        producer = make_producer(self.kafka)
        consumer = make_consumer(self.kafka, None, wait="cold")
        fills = topic_name("fills", self.kafka, paper=self.paper)
        ticks = topic_name("ticks", self.kafka)
        settlements = topic_name("settlements", self.kafka)
        consumer.assign([TopicPartition(fills, p, OFFSET_BEGINNING) for p in range(partitions("fills", self.kafka))]
                        + [TopicPartition(ticks, p, OFFSET_END) for p in range(partitions("ticks", self.kafka))]
                        + [TopicPartition(settlements, 0, OFFSET_BEGINNING)])
        log.info("positions: rebuilding from %s", fills)
        status = StatusLine("positions", status_interval_s(), self.status, rates=("fills",))
        if self.reconciler is not None:
            self.reconciler.start()
        try:
            while not self._stop.is_set():
                for msg in consumer.consume(500, 0.2):
                    if msg.error() is not None or msg.value() is None:
                        continue
                    try:
                        if msg.topic() == fills:
                            self.book.apply(codec.decode_record(msg.value() or b"", Fill))
                        elif msg.topic() == settlements:
                            self.on_settlement(codec.decode_record(msg.value() or b"", Settlement))
                        else:
                            self._on_tick(codec.decode_record(msg.value() or b"", Tick))
                    except codec.DecodeError as exc:
                        log.error("undecodable record on %s[%s]@%s: %s", msg.topic(), msg.partition(), msg.offset(), exc)
                self.check_settlements(producer)
                if self.reconciler is not None:
                    self.reconciler.on_loop(consumer, producer, self.book, self.ended_games)
                self.publish_changes(producer)
                status.maybe_log()
        finally:
            if self.reconciler is not None:
                self.reconciler.stop()
            consumer.close()
            producer.flush(10)
            markets.stop()


def day_time_zone(name: str | None = None) -> ZoneInfo:
    """The trading day's zone: `name`, else ARB_EXEC_DAY_TZ (the day of the executor's daily loss limit)."""
    if name is None:
        from core.config import load
        from executor.settings import ExecutorSettings

        name = load(ExecutorSettings).day_timezone
    return ZoneInfo(name)
