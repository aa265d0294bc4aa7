"""core/progress.py: a role's periodic `status:` line (ARB_STATUS_INTERVAL_S)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge

from core.config import ConfigError
from core.progress import StatusLine, by_text, metric_by, metric_total, partitions_text, status_interval_s, status_text


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def line(role: str, snapshot: Any, interval: float, clock: Clock, **kw: Any) -> tuple[StatusLine, list[str]]:
    out: list[str] = []
    logger = logging.getLogger(f"test.progress.{role}")

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            out.append(record.getMessage())

    logger.handlers[:] = [Keep()]
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return StatusLine(role, interval, snapshot, logger=logger, clock=clock, **kw), out


def test_at_most_one_line_per_interval() -> None:
    clock = Clock()
    status, out = line("a", lambda: {"in": 1, "state": "ok"}, 30, clock)
    assert not status.maybe_log() and out == []  # nothing before the first interval has passed
    clock.t += 29.9
    assert not status.maybe_log() and out == []
    clock.t += 0.1
    assert status.maybe_log()
    assert out == ["status: a in=1 state=ok"]
    clock.t += 10
    assert not status.maybe_log() and len(out) == 1  # the interval counts from the last line
    clock.t += 20
    assert status.maybe_log() and len(out) == 2


def test_rates_are_per_second_over_the_last_interval() -> None:
    clock = Clock()
    counts = {"ticks_in": 0}
    status, out = line("p", lambda: dict(counts), 10, clock, rates=("ticks_in",))
    counts["ticks_in"] = 50
    clock.t += 10
    status.maybe_log()
    counts["ticks_in"] = 80
    clock.t += 10
    status.maybe_log()
    assert out == ["status: p ticks_in=50 ticks_in/s=5.0", "status: p ticks_in=80 ticks_in/s=3.0"]


def test_a_failing_snapshot_is_logged_never_raised() -> None:
    clock = Clock()

    def broken() -> dict[str, Any]:
        raise KeyError("gone")

    status, out = line("x", broken, 1, clock)
    clock.t += 1
    assert status.maybe_log()
    assert out == ["status: x (snapshot failed: KeyError: 'gone')"]
    clock.t += 1
    assert status.maybe_log() and len(out) == 2  # and it keeps trying


def test_zero_is_off() -> None:
    clock = Clock()
    status, out = line("off", lambda: {"n": 1}, 0, clock)
    clock.t += 1e6
    assert not status.maybe_log()
    asyncio.run(asyncio.wait_for(status.task(), 1))  # returns at once instead of looping
    assert out == []


def test_the_task_logs_every_interval() -> None:
    status, out = line("t", lambda: {"n": 1}, 0.05, Clock())  # a clock that never moves: the task does not depend on it

    async def run() -> None:
        task = asyncio.create_task(status.task())
        await asyncio.sleep(0.28)
        task.cancel()

    asyncio.run(run())
    assert 3 <= len(out) <= 6, out


def test_none_fields_are_left_out() -> None:
    assert status_text("r", {"a": 1, "b": None, "c": "x"}) == "status: r a=1 c=x"
    assert status_text("r", {}) == "status: r"


def test_metric_readers_read_prometheus_metrics() -> None:
    reg = CollectorRegistry()
    outcomes = Counter("t_outcomes_total", "", ["state"], registry=reg)
    lag = Gauge("t_lag", "", ["topic", "partition"], registry=reg)
    outcomes.labels("FILLED").inc(3)
    outcomes.labels("REJECTED").inc()
    outcomes.labels("EXPIRED")  # a label set never incremented: left out of by_text
    lag.labels("a.ticks", "0").set(5)
    lag.labels("a.ticks", "1").set(7)
    lag.labels("b.ticks", "0").set(100)
    assert metric_total(outcomes) == 4 and metric_total(outcomes, state="FILLED") == 3
    assert metric_total(lag, topic="a.ticks") == 12 and metric_total(lag, topic="a.ticks", partition="1") == 7
    assert by_text(metric_by(outcomes, "state")) == "FILLED:3,REJECTED:1"
    assert by_text({}) == "0"


def test_partitions_text() -> None:
    assert partitions_text([]) == "none"
    assert partitions_text([3]) == "3"
    assert partitions_text([5, 0, 1, 2, 7, 8, 11]) == "0-2,5,7-8,11"


def test_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ARB_STATUS_INTERVAL_S", raising=False)
    assert status_interval_s() == 30
    monkeypatch.setenv("ARB_STATUS_INTERVAL_S", "0")
    assert status_interval_s() == 0
    monkeypatch.setenv("ARB_STATUS_INTERVAL_S", "-1")
    with pytest.raises(ConfigError, match="ARB_STATUS_INTERVAL_S"):
        status_interval_s()
