"""The metrics module: /metrics serves every declared name; the instrumented paths move them."""

from __future__ import annotations

import socket
import urllib.request

from core import metrics
from producers.feed_metrics import FeedMetrics


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_exposes_every_metric_and_feed_counters() -> None:
    fm = FeedMetrics(frames=7, gaps=2)
    metrics.register_feeds(lambda: [("KALSHI", fm)])
    port = _port()
    assert metrics.serve(port, "test")
    metrics.ORDERS.labels("KALSHI", "FILL").inc()
    metrics.observe(metrics.TICK_TO_ORDER, 2_500, 1_000)  # 1.5 ms
    metrics.BREAKER_STATE.labels("KALSHI").set(0)
    metrics.observe(metrics.FEED_LAG.labels("KALSHI"), 10, 5)
    metrics.observe(metrics.ORDER_ROUND_TRIP.labels("KALSHI"), 10, 5)
    for lbl in ("x",):
        metrics.DEAD_LETTERS.labels(lbl).inc()
        metrics.RATE_LIMITED.labels(lbl).inc()
        metrics.BREAKER_TRIPS.labels(lbl).inc()
        metrics.OUTCOMES.labels(lbl).inc()
        metrics.TICKS_PRODUCED.labels(lbl).inc()
        metrics.CONSUMER_LAG.labels(lbl, "0").set(0)
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    for name in metrics.METRIC_NAMES:
        assert name in text, name
    assert 'arb_feed_frames_total{venue="KALSHI"} 7.0' in text and 'arb_feed_gaps_total{venue="KALSHI"} 2.0' in text
    assert 'arb_tick_to_order_sent_seconds_bucket{le="0.002"} 1.0' in text
    assert 'arb_role_info{role="test"} 1.0' in text


def test_seconds_ignores_missing_timestamps() -> None:
    assert metrics.seconds(None, 1) is None and metrics.seconds(3_000_000, 1_000_000) == 2.0 and metrics.seconds(1, 5) == 0.0
