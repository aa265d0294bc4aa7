"""How the fuzz tests (tests/unit/test_fuzz_*.py) run: a short default run, or a time-boxed one.

By default each fuzz test runs a few hundred examples (seconds). With ARB_FUZZ_SECONDS=60 each runs batches
of fresh random examples until that many seconds have passed, and prints how many it ran:

    ARB_FUZZ_SECONDS=60 .venv/bin/pytest -s -p no:cacheprovider tests/unit/test_fuzz_kalshi_ws.py

(pytest's default per-test timeout of 120 s leaves room for 60; pass --timeout for longer runs.)
A failure prints the smallest input hypothesis found.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ENV = "ARB_FUZZ_SECONDS"
BATCH = 2_000


def fuzz_seconds() -> float:
    try:
        return max(0.0, float(os.environ.get(ENV, "0") or 0))
    except ValueError:
        return 0.0


def fuzz(prop: Callable[[Any], None], strategy: st.SearchStrategy[Any], *, examples: int = 300, name: str = "") -> int:
    """Check `prop` on inputs drawn from `strategy`: `examples` of them, or for ARB_FUZZ_SECONDS. Returns how many ran."""
    budget = fuzz_seconds()
    end = time.monotonic() + budget
    count = [0]
    batch = BATCH if budget else examples

    @settings(max_examples=batch, deadline=None, database=None, derandomize=False, suppress_health_check=list(HealthCheck))
    @given(strategy)
    def run(x: Any) -> None:
        count[0] += 1
        prop(x)

    while True:
        run()  # fresh random examples on every call
        if not budget or time.monotonic() >= end:
            break
    ran = count[0]
    if budget:
        print(f"\n[fuzz] {name or prop.__name__}: {ran} examples in {budget:.0f} s, no exception outside the allowed types")
    return ran


def test_the_default_run_is_short() -> None:
    seen: list[int] = []
    if fuzz_seconds():
        return
    assert fuzz(seen.append, st.integers(), examples=20) <= 20 and len(seen) <= 20
