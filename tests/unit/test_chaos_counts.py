"""Every chaos scenario's JSON starts with the same five counts; a missing one needs a reason."""

from __future__ import annotations

import pytest

from bench.chaos_counts import COUNTS, with_counts


def test_counts_come_first_with_every_name() -> None:
    out = with_counts({"scenario": "x", "detail": 1}, {"duplicate_orders": 0, "lost_signals": 0, "recovery_s": {"median": 1.0}},
                      {"lost_ticks": "none here", "invalid_book_trades": "none here"})
    assert list(out) == ["scenario", "counts", "not_covered", "detail"]
    assert list(out["counts"]) == list(COUNTS) and out["counts"]["lost_ticks"] is None and out["counts"]["lost_signals"] == 0


def test_a_count_without_value_or_reason_is_refused() -> None:
    with pytest.raises(ValueError, match="lost_ticks"):
        with_counts({"scenario": "x"}, {"duplicate_orders": 0, "lost_signals": 0, "invalid_book_trades": 0, "recovery_s": 1.0})
    with pytest.raises(ValueError, match="not a chaos count"):
        with_counts({"scenario": "x"}, {"lost_orders": 0})
