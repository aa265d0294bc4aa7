"""`arb bench chaos` at small scale (the full runs are benchmarks): SIGKILLed executors never execute a
leg twice nor lose or double an outcome; a 429 storm never trips the breaker; a 5xx burst opens it,
rejects fast, and it closes again once the venue recovers."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.integration


def chaos(*args: str) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-m", "cli", "bench", "chaos", "--json", *args], cwd=REPO, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


@pytest.mark.timeout(300)
def test_executor_kill() -> None:
    out = chaos("--scenario", "executor-kill", "--signals", "40", "--kills", "3", "--seed", "3")
    assert out["kills"] == 3
    assert out["duplicate_orders"] == 0 and out["signals_without_outcome"] == 0 and out["signals_with_two_outcomes"] == 0, out


@pytest.mark.timeout(300)
def test_429_storm_never_trips_the_breaker() -> None:
    out = chaos("--scenario", "venue-429-storm", "--signals", "30")
    assert out["venue_429s"] > 0 and not out["breaker_opened"] and out["breaker_closed_at_end"], out
    assert out["duplicate_orders"] == 0 and out["signals_without_outcome"] == 0
    assert out["outcomes"].get("FILLED", 0) > 0  # orders got through after backing off


@pytest.mark.timeout(300)
def test_5xx_burst_opens_rejects_fast_and_closes() -> None:
    out = chaos("--scenario", "venue-5xx-burst", "--signals", "30")
    assert out["venue_5xx"] > 0 and out["breaker_opened"] and out["rejected_breaker_open"] > 0 and out["breaker_closed_at_end"], out
    assert out["outcomes"].get("FILLED", 0) > 0 and out["duplicate_orders"] == 0 and out["signals_without_outcome"] == 0
