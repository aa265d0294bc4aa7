"""The five counts every `arb bench chaos` scenario reports up front, under one set of names:
duplicate_orders, lost_signals, lost_ticks, invalid_book_trades and recovery_s. A scenario that cannot
observe one reports None and says why in `not_covered`; its own detailed fields follow."""

from __future__ import annotations

from typing import Any

COUNTS = ("duplicate_orders", "lost_signals", "lost_ticks", "invalid_book_trades", "recovery_s")

# Why a family of scenarios cannot observe a count.
NO_TICKS = "signals are written straight to `signals`: no ticks in this scenario"
NO_BOOKS = "synthetic signals: no books in this scenario"
NO_EXECUTOR = "no executor in this scenario (duplicate_signals counts the processor's repeats, which the executor keys by signal_id)"


def with_counts(result: dict[str, Any], counts: dict[str, Any], not_covered: dict[str, str] | None = None) -> dict[str, Any]:
    """{"scenario", "counts", ["not_covered"], the rest of result}: the counts first, every name present."""
    unknown = set(counts) - set(COUNTS)
    if unknown:
        raise ValueError(f"not a chaos count: {sorted(unknown)}")
    missing = {k for k in COUNTS if counts.get(k) is None} - set(not_covered or {})
    if missing:
        raise ValueError(f"counts without a value or a reason: {sorted(missing)}")
    head: dict[str, Any] = {"scenario": result.get("scenario"), "counts": {k: counts.get(k) for k in COUNTS}}
    if not_covered:
        head["not_covered"] = dict(not_covered)
    return {**head, **{k: v for k, v in result.items() if k != "scenario"}}
