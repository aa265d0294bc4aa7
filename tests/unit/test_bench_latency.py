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
