"""The latency benchmark's window accounting: which windows count and what each one's latency is."""

from __future__ import annotations

from bench.latency import GRACE_US, measured_windows, window_latencies


def window(opened: int, expires: int, k: str = "K1", p: str = "0xp1") -> dict[str, object]:
    return {"opened_us": opened, "expires_us": expires, "kalshi_ticker": k, "poly_condition_id": p}


def test_only_windows_opened_inside_the_measured_interval_count() -> None:
    start, end = 10_000_000, 70_000_000
    ws = [window(start - 1, start + 5_000_000), window(start, start + 1), window(end - GRACE_US, end),
          window(end - GRACE_US + 1, end + 1)]
    assert measured_windows(ws, start, end) == [ws[1], ws[2]]


def test_latency_is_the_first_order_of_ours_on_either_book_while_the_window_is_open() -> None:
    ws = [window(1_000, 9_000, "K1", "0xp1"), window(20_000, 30_000, "K2", "0xp2"), window(40_000, 50_000, "K3", "0xp3")]
    log = [
        {"kind": "create", "account": "ME", "book_id": "0xp1", "received_us": 4_000},
        {"kind": "create", "account": "me", "book_id": "K1", "received_us": 3_500},
        {"kind": "create", "account": "someone", "book_id": "K2", "received_us": 21_000},  # not ours
        {"kind": "cancel", "account": "me", "book_id": "K2", "received_us": 22_000},  # not an order
        {"kind": "create", "account": "me", "book_id": "K2", "received_us": 31_000},  # after the window closed
        {"kind": "create", "account": "me", "book_id": "K3", "received_us": 39_000},  # before it opened
        {"kind": "create", "account": "me", "book_id": "0xp3", "received_us": 47_000},
    ]
    assert window_latencies(ws, log, {"me"}) == [2_500, 7_000]


def test_median_of_runs_takes_each_percentile_across_runs_and_sums_n() -> None:
    from bench.latency import median_of_runs

    def dist(p50: float, p99: float | None, n: int) -> dict[str, float | int | None]:
        return {"p50_ms": p50, "p90_ms": p50 * 2, "p99_ms": p99, "max_ms": (p99 or p50) + 1, "n": n}

    runs = [{"pipeline": dist(30, 80, 100), "baseline": dist(5, 30, 100), "hops": {"feed_lag": dist(4, 20, 1000)}, "rate": 990.0},
            {"pipeline": dist(27, 60, 110), "baseline": dist(6, 25, 110), "hops": {"feed_lag": dist(5, 30, 900), "x": dist(1, 2, 5)}, "rate": 1001.0},
            {"pipeline": dist(40, None, 0), "baseline": dist(4, 40, 90), "hops": {"feed_lag": dist(6, 25, 800)}, "rate": 995.0}]
    m = median_of_runs(runs)
    assert m["pipeline"] == {"p50_ms": 30, "p90_ms": 60, "p99_ms": 70, "max_ms": 61, "n": 210}  # a run without windows adds no p99
    assert m["baseline"]["p99_ms"] == 30 and m["baseline"]["n"] == 300
    assert m["hops"]["feed_lag"]["p50_ms"] == 5 and m["hops"]["x"]["n"] == 5  # a hop seen in one run only
    assert m["rate"] == 995.0
