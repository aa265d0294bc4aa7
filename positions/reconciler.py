"""Continuous reconciliation in the positions role: every ARB_POSITIONS_RECONCILE_S the venues' positions are
compared with the positions folded from `fills` (positions/reconcile.py says what is compared).

Venue I/O runs on a thread of its own (each venue's read bounded, positions/venue_positions.py), never on the
consume loop. After reading the venues the thread notes where each `fills` partition ends; the consume loop
compares only once it has folded `fills` up to there, so a fill recorded before the venue was read is never
missing from our side. The comparison and everything it writes happen on the consume loop's thread (the one
that owns the book).

A drift seen in ARB_POSITIONS_RECONCILE_CONFIRM consecutive checks is an alert: an ERROR log,
arb_reconcile_drift_instruments, and an active ALERT record `alert:reconcile` on `control` (shown by `arb
status`) listing the instruments; it is cleared (an inactive record) when no drift remains. With
ARB_POSITIONS_RECONCILE_KILL the kill switch is engaged, through the record `arb kill` writes, when the alert
becomes active (once per alert: an operator's `arb resume` is not overridden; the switch is never released
here). A configured venue that cannot be read is not judged: a WARNING each time, and after as many
consecutive failures an active ALERT `alert:reconcile:unreadable`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaError, Message, Producer, TopicPartition

from core import codec, metrics
from core.control import KILL_SWITCH
from core.kafka import make_consumer, watermarks
from core.settings import KafkaSettings
from core.topics import topic_name
from positions.boundary import control
from positions.fold import Book
from positions.reconcile import Drift, DriftTracker, Verdict, compare
from positions.venue_positions import VenuePositions, VenueSnapshot, read_now

log = logging.getLogger(__name__)

DRIFT_ALERT = "alert:reconcile"
UNREADABLE_ALERT = "alert:reconcile:unreadable"
MAX_LISTED = 50  # instruments listed in a control record (the count is always complete)


@dataclass(frozen=True)
class _Alert:
    """What an alert record says (its time aside): written again only when this changes."""

    active: bool
    reason: str
    value: dict[str, object]


class Reconciler:
    def __init__(self, kafka: KafkaSettings, venues: VenuePositions, *, interval_s: float, confirm: int, kill: bool,
                 fills_topic: str, fills_partitions: int) -> None:
        self.kafka = kafka
        self.venues = venues
        self.interval_s = interval_s
        self.kill = kill
        self.fills_topic = fills_topic
        self.fills_partitions = fills_partitions
        self.tracker = DriftTracker(confirm)
        self.checks = 0  # comparisons made
        self.reads = 0  # venue reads handed to the loop
        self.skipped = 0  # venue reads superseded before `fills` was folded up to them
        self.failed = 0  # checks that could not be made (Kafka's `fills` ends not read): nothing judged
        self.verdict: Verdict | None = None
        self._pending: tuple[VenueSnapshot, dict[int, int]] | None = None
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._acked: dict[str, _Alert] = {}  # control record name -> the content Kafka acknowledged
        self._kill_sent = False  # for the current alert

    # --- the reading thread ---------------------------------------------------------------------

    def start(self) -> None:
        log.info("reconciliation every %gs against %s; a drift is an alert after %d consecutive check(s); kill switch on drift: %s",
                 self.interval_s, ", ".join(self.venues.configured), self.tracker.confirm, "yes" if self.kill else "no")
        self._thread = threading.Thread(target=self._run, name="reconcile", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:  # a venue read under way is not waited for (bounded anyway): the thread is a daemon
            self._thread.join(timeout=5)

    def reconcile_now(self) -> None:
        """Start a check now instead of at the next interval."""
        self._wake.set()

    def _run(self) -> None:
        consumer = make_consumer(self.kafka, None)
        try:
            while not self._stop.is_set():
                self._wake.wait(self.interval_s)
                self._wake.clear()
                if self._stop.is_set():
                    return
                try:
                    self._read_once(consumer)
                except Exception as exc:  # a check that fails is logged; the next one is tried
                    self.failed += 1
                    log.warning("reconciliation: check failed: %s: %s", type(exc).__name__, exc)
        finally:
            consumer.close()

    def _read_once(self, consumer: Consumer) -> None:
        snap = read_now(self.venues)
        ends: dict[int, int] = {}
        for p in range(self.fills_partitions):  # where `fills` ends now: the loop folds up to here before comparing
            lo, hi = watermarks(consumer, self.fills_topic, p, timeout_s=5)
            if hi > lo:
                ends[p] = hi
        with self._lock:
            if self._pending is not None:
                self.skipped += 1
                log.warning("reconciliation: a check was skipped: `fills` was not read up to the venues' snapshot before the next one")
            self._pending = (snap, ends)
            self.reads += 1

    # --- the consume loop's side --------------------------------------------------------------

    def _caught_up(self, consumer: Consumer, ends: dict[int, int]) -> bool:
        if not ends:
            return True
        # position() counts transaction control markers too, like the high watermark.
        positions = consumer.position([TopicPartition(self.fills_topic, p) for p in ends])
        return all(tp.offset >= ends[tp.partition] for tp in positions)

    def on_loop(self, consumer: Consumer, producer: Producer, book: Book, ended_games: Callable[[], Collection[str]]) -> Verdict | None:
        """Compare the latest venue snapshot once `fills` is folded up to it; the verdict, or None (nothing to do yet)."""
        with self._lock:
            item = self._pending
        if item is None or not self._caught_up(consumer, item[1]):
            return None
        with self._lock:
            if self._pending is item:
                self._pending = None
        snap = item[0]
        verdict = self.tracker.observe(compare(book, snap.positions, snap.read, ended_games=ended_games()), snap.failed)
        self.checks += 1
        self.verdict = verdict
        self._report(verdict, snap, producer)
        return verdict

    def _report(self, verdict: Verdict, snap: VenueSnapshot, producer: Producer) -> None:
        for venue, why in snap.failed.items():
            log.warning("reconciliation: %s positions could not be read (%s): not judged this time", venue, why)
        if verdict.unconfirmed:
            log.warning("reconciliation: %d instrument(s) differ from the venues' positions (not yet confirmed): %s",
                        len(verdict.unconfirmed), _rows(verdict.unconfirmed))
        if verdict.awaiting_settlement:
            log.info("reconciliation: %d instrument(s) of ended games paid out by the venue, Settlement record not read yet: %s",
                     len(verdict.awaiting_settlement), _rows(verdict.awaiting_settlement))
        if verdict.drift:
            log.error("RECONCILIATION DRIFT: %d instrument(s) differ from the venues' positions: %s", len(verdict.drift), _rows(verdict.drift))
        metrics.set_reconcile_drift(len(verdict.drift), 0)  # alerts.yml: ArbReconciliationDrift
        drift = [Drift(venue=r["venue"], market=r["market"], ours=r["ours"], venue_reports=r["venue_reports"]) for r in verdict.drift]
        if drift:
            reason = f"{len(drift)} instrument(s) differ from the venues' positions: {_rows(verdict.drift)}"
            self._record(producer, DRIFT_ALERT, True, reason, {"drift": drift[:MAX_LISTED], "instruments": len(drift)})
            if self.kill and not self._kill_sent:
                self._engage_kill(producer, reason)
        else:
            self._kill_sent = False
            # Cleared: an alert this process raised, or (first check) one a previous run may have left active.
            if self._maybe_active(DRIFT_ALERT):
                self._record(producer, DRIFT_ALERT, False, "no drift", {"drift": [], "instruments": 0})
        if verdict.unreadable:
            self._record(producer, UNREADABLE_ALERT, True, "positions not readable: " + "; ".join(f"{v}: {w}" for v, w in verdict.unreadable.items()),
                         {"venues": verdict.unreadable})
        elif self._maybe_active(UNREADABLE_ALERT):
            self._record(producer, UNREADABLE_ALERT, False, "every configured venue read", {"venues": {}})

    def _maybe_active(self, name: str) -> bool:
        """The alert was raised by this process, or (nothing written yet) a previous run may have left it active."""
        acked = self._acked.get(name)
        return acked is None or acked.active

    def _record(self, producer: Producer, name: str, active: bool, reason: str, value: dict[str, object]) -> None:
        content = _Alert(active, reason, value)
        if self._acked.get(name) == content:
            return  # written already: no record per check

        def delivered(err: KafkaError | None, _msg: Message) -> None:
            if err is None:
                self._acked[name] = content
            else:
                log.error("reconciliation: %s record not written (%s); tried again at the next check", name, err)

        rec = control(name, "ALERT", active, reason=reason, value=value)
        producer.produce(topic_name("control", self.kafka), key=name.encode(), value=codec.encode_record(rec), on_delivery=delivered)

    def _engage_kill(self, producer: Producer, reason: str) -> None:
        def delivered(err: KafkaError | None, _msg: Message) -> None:
            if err is None:
                self._kill_sent = True
                log.critical("reconciliation: kill switch ENGAGED (ARB_POSITIONS_RECONCILE_KILL): %s", reason)
            else:
                log.critical("reconciliation: kill switch record not written (%s); tried again at the next check", err)

        rec = control(KILL_SWITCH, "KILL_SWITCH", True, reason=f"reconciliation drift: {reason}")
        producer.produce(topic_name("control", self.kafka), key=KILL_SWITCH.encode(), value=codec.encode_record(rec), on_delivery=delivered)
        producer.flush(10)  # the switch matters more than the loop's next second

    def summary(self) -> str:
        """The last result, for the status line."""
        v = self.verdict
        if v is None:
            return "pending"
        parts = [f"drift={len(v.drift)}" if v.drift else "ok"]
        if v.unconfirmed:
            parts.append(f"unconfirmed={len(v.unconfirmed)}")
        if v.unreadable:
            parts.append("unreadable=" + "+".join(v.unreadable))
        return ",".join(parts)


def _rows(rows: Sequence[Drift], limit: int = 10) -> str:
    shown = "; ".join(f"{r['venue']} {r['market']}: ours {r['ours']}, venue {r['venue_reports']}" for r in rows[:limit])
    return shown + (f"; ... {len(rows) - limit} more" if len(rows) > limit else "")
