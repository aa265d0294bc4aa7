"""The one metrics module: every Prometheus metric of every role, defined once, and `serve()`.

Latencies are histograms in seconds computed from record timestamps (same host clock): a float is
fine here, they are measurements, not money. Money gauges are in USD for dashboards only; the
records keep the exact integers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import REGISTRY, Counter, Gauge, Histogram, Info, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.015, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)

ROLE = Info("arb_role", "Which arb role this process runs")
# feeds
FEED_LAG = Histogram("arb_feed_lag_seconds", "Venue time to frame received (feed lag)", ["venue"], buckets=LATENCY_BUCKETS)
TICKS_PRODUCED = Counter("arb_ticks_produced_total", "Ticks written to `ticks`", ["venue"])
# processors
TICKS_CONSUMED = Counter("arb_processor_ticks_total", "Ticks consumed by the processor")
TICKS_REPLAYED = Counter("arb_processor_ticks_replayed_total", "Ticks skipped as already folded into the table state before a crash (consumed again after recovery)")
TICKS_REWINDS = Counter("arb_processor_rewinds_total", "Ticks partitions rewound because fetched ticks were dropped before the agent (around a rebalance)")
SIGNALS = Counter("arb_signals_total", "Signals emitted")
TICK_TO_SIGNAL = Histogram("arb_tick_to_signal_seconds", "Tick received (feed) to signal detected", buckets=LATENCY_BUCKETS)
DEAD_LETTERS = Counter("arb_dead_letters_total", "Records routed to `dlq`", ["role"])
# every role
TASK_DEATHS = Counter("arb_task_deaths_total", "Long-lived tasks that ended while their role was running (the role then exits non-zero)", ["task"])
TASK_FAILURES = Counter("arb_task_failures_total", "Short-lived background tasks that failed (logged)", ["task"])
STATE_READER_ERRORS = Counter("arb_state_reader_errors_total", "Records of `markets` / `control` a reader could not apply (dead-lettered)", ["topic"])
# executor
ORDERS = Counter("arb_orders_total", "Venue order results by type (FILL, CANCELLED, REJECT, UNKNOWN, ACK)", ["venue", "result"])
OUTCOMES = Counter("arb_outcomes_total", "Signal outcomes by state", ["state"])
ONE_SIDED = Counter("arb_one_sided_total", "Signals whose original legs filled different sizes")
UNWINDS = Counter("arb_unwinds_total", "Signals settled by unwinding")
AMBIGUOUS_ANSWERS = Counter("arb_ambiguous_answers_total", "Order answers that may mean executed (unknown, exists), resolved by lookup", ["venue", "answer"])
UNKNOWN_LEGS = Counter("arb_unknown_legs_total", "Orders whose state lookups could not establish (UNKNOWN): an operator must check the venue", ["venue"])
AUTH_ERRORS = Counter("arb_auth_errors_total", "Orders refused with 401/403 (keys or clock skew)", ["venue"])
UNHEDGED = Gauge("arb_unhedged_contracts", "Contracts (1e-2) held one-sided after the leg-risk policy ended, per venue, from UNKNOWN outcomes", ["venue"])
WORKER_FAILURES = Counter("arb_executor_worker_failures_total", "Executor partition workers that failed (the process exits so the group rebalances)", ["reason"])
RATE_LIMITED = Counter("arb_rate_limited_total", "429 / Retry-After answers from venues", ["venue"])
BREAKER_TRIPS = Counter("arb_breaker_trips_total", "Circuit breaker openings", ["venue"])
BREAKER_STATE = Gauge("arb_breaker_state", "Circuit breaker state: 0 closed, 1 half-open, 2 open", ["venue"])
SIGNAL_TO_ORDER = Histogram("arb_signal_to_order_sent_seconds", "Signal detected to order sent", buckets=LATENCY_BUCKETS)
TICK_TO_ORDER = Histogram("arb_tick_to_order_sent_seconds", "Tick received to order sent (end to end)", buckets=LATENCY_BUCKETS)
ORDER_ROUND_TRIP = Histogram("arb_order_round_trip_seconds", "Order sent to venue answer", ["venue"], buckets=LATENCY_BUCKETS)
EXPOSURE = Gauge("arb_exposure_usd", "Committed cost of open signals (display only)")
LOCKED_PNL = Gauge("arb_locked_pnl_usd", "Locked-in profit of decided signals since start (display only)")
SETTLEMENT_MISMATCHES = Counter("arb_settlement_mismatches_total", "Games whose two venues resolved differently (positions role; each an ALERT on `control`)")
CONSUMER_LAG = Gauge("arb_consumer_lag", "Records between the next offset to read and the partition end (high watermark)", ["topic", "partition"])
# states the alert rules (deploy/prometheus/alerts.yml) need as gauges
KILL_SWITCH = Gauge("arb_kill_switch_active", "Kill switch as this process's control reader last read it: 1 engaged, 0 released")
RECONCILE_DRIFT = Gauge("arb_reconcile_drift_instruments", "Instruments whose position differs from the venue's at the last reconciliation (`arb positions serve`, or `arb positions --reconcile`)")

FEED_COUNTERS = ("frames", "ticks", "gaps", "resyncs", "reconnects", "silences", "coalesced", "dropped", "parse_errors", "bad_input",
                 "venue_errors", "book_checks", "stale_books", "book_check_errors")
METRIC_NAMES = sorted({
    "arb_role_info", "arb_feed_lag_seconds", "arb_ticks_produced_total", "arb_processor_ticks_total", "arb_signals_total",
    "arb_tick_to_signal_seconds", "arb_dead_letters_total", "arb_orders_total", "arb_outcomes_total", "arb_one_sided_total",
    "arb_unwinds_total", "arb_rate_limited_total", "arb_breaker_trips_total", "arb_breaker_state", "arb_signal_to_order_sent_seconds",
    "arb_tick_to_order_sent_seconds", "arb_order_round_trip_seconds", "arb_exposure_usd", "arb_locked_pnl_usd", "arb_consumer_lag",
    "arb_ambiguous_answers_total", "arb_unknown_legs_total", "arb_auth_errors_total", "arb_unhedged_contracts",
    "arb_executor_worker_failures_total", "arb_settlement_mismatches_total",
    "arb_task_deaths_total", "arb_task_failures_total", "arb_state_reader_errors_total",
    "arb_kill_switch_active", "arb_reconcile_drift_instruments", "arb_feed_unsynced_books",
    *(f"arb_feed_{c}_total" for c in FEED_COUNTERS)})

BREAKER_LEVEL = {"closed": 0, "half_open": 1, "half-open": 1, "open": 2}


def set_lag(topic: str, partition: int, high: int | None, position: int | None) -> None:
    """arb_consumer_lag = partition end (its high watermark) - next offset to read, when both are known."""
    if high is not None and position is not None and high >= 0 and position >= 0:
        CONSUMER_LAG.labels(topic, str(partition)).set(max(0, high - position))


def observe_lag(consumer: Any) -> None:
    """Lag of every partition a confluent-kafka consumer owns, from the high watermarks of its last fetches
    (no broker request). Exact as of that fetch; for a read_committed consumer it includes the records of a
    transaction still open (not readable yet). Call it from the thread that polls."""
    for tp in consumer.position(consumer.assignment()):
        _, high = consumer.get_watermark_offsets(tp, cached=True)
        set_lag(tp.topic, tp.partition, high, tp.offset)


class FeedCollector(Collector):
    """Exports the feeds' own counters (producers/feed_metrics.py) at scrape time: one source of truth; and, when
    `books` is given, the books not synced now (RESYNCING, incl. those the book check found STALE) per venue."""

    def __init__(self, feeds: Callable[[], Iterable[tuple[str, Any]]], books: Callable[[], Iterable[tuple[str, Iterable[Any]]]] | None = None) -> None:
        self.feeds = feeds
        self.books = books

    def collect(self) -> Iterable[CounterMetricFamily | GaugeMetricFamily]:
        fams = {c: CounterMetricFamily(f"arb_feed_{c}", f"Feed counter: {c}", labels=["venue"]) for c in FEED_COUNTERS}
        for venue, metrics in self.feeds():
            values = metrics.as_dict()
            for c, fam in fams.items():
                fam.add_metric([venue], float(values.get(c, 0)))
        yield from fams.values()
        unsynced = GaugeMetricFamily("arb_feed_unsynced_books", "Books of the feed not synced now (RESYNCING: no snapshot yet, a gap, or STALE)",
                                     labels=["venue"])
        for venue, venue_books in (self.books() if self.books is not None else ()):
            unsynced.add_metric([venue], float(unsynced_count(venue_books)))
        yield unsynced


def unsynced_count(books: Iterable[Any]) -> int:
    # list(): one C-level copy, so the event loop adding a book during a scrape cannot break the iteration
    return sum(1 for b in list(books) if not b.synced)


def register_feeds(feeds: Callable[[], Iterable[tuple[str, Any]]], books: Callable[[], Iterable[tuple[str, Iterable[Any]]]] | None = None) -> None:
    REGISTRY.register(FeedCollector(feeds, books))


def seconds(later_us: int | None, earlier_us: int | None) -> float | None:
    if later_us is None or earlier_us is None:
        return None
    return max(0, later_us - earlier_us) / 1e6


def observe(hist: Any, later_us: int | None, earlier_us: int | None) -> None:
    s = seconds(later_us, earlier_us)
    if s is not None:
        hist.observe(s)


_reconcile_served = False


def set_reconcile_drift(instruments: int, port: int) -> None:
    """`arb positions --reconcile`: the drift found, exported (served on the first call when port > 0) so that a
    `--watch` loop run with ARB_METRICS_PORT feeds the ArbReconciliationDrift alert."""
    global _reconcile_served
    RECONCILE_DRIFT.set(instruments)
    if port > 0 and not _reconcile_served:
        _reconcile_served = True
        serve(port, "reconcile")


def serve(port: int, role: str) -> bool:
    """Start the /metrics endpoint when port > 0. A taken port is logged, never fatal to trading."""
    ROLE.info({"role": role})
    if port <= 0:
        return False
    try:
        start_http_server(port)
    except OSError as exc:
        log.error("metrics: cannot listen on port %d: %s", port, exc)
        return False
    log.info("metrics on :%d/metrics", port)
    return True
