"""A long-running role's periodic one-line status (`ARB_STATUS_INTERVAL_S`): records in/out, lag, state, so a
person sees it working without Prometheus. The role supplies a snapshot of its counters; this module only decides
when to log and how the line reads (pure formatting, one logger call)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

Snapshot = Callable[[], Mapping[str, Any]]


def status_text(role: str, fields: Mapping[str, Any]) -> str:
    """`status: <role> k=v k=v ...` in the snapshot's order; None values are left out."""
    parts = [f"{k}={v}" for k, v in fields.items() if v is not None]
    return f"status: {role} " + " ".join(parts) if parts else f"status: {role}"


class StatusLine:
    """Call `maybe_log()` from a role's loop (or run `task()` on its event loop): at most one INFO line per interval.
    Counters that only grow are also shown as their rate over the last interval (`<name>/s`) when listed in `rates`."""

    def __init__(self, role: str, interval_s: float, snapshot: Snapshot, *, rates: tuple[str, ...] = (),
                 logger: logging.Logger | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.role, self.interval_s, self.snapshot, self.rates = role, interval_s, snapshot, rates
        self.log = logger or logging.getLogger(f"arb.status.{role}")
        self.clock = clock
        self._last_at = clock()
        self._last_counts: dict[str, float] = {}

    def line(self, now: float) -> str:
        fields = dict(self.snapshot())
        elapsed = max(now - self._last_at, 1e-9)
        for name in self.rates:
            value = fields.get(name)
            if isinstance(value, (int, float)):
                # a rate for people to read, not money: float is fine here
                fields[f"{name}/s"] = round((value - self._last_counts.get(name, 0)) / elapsed, 1)
                self._last_counts[name] = value
        return status_text(self.role, fields)

    def maybe_log(self) -> bool:
        """Log the line if an interval has passed since the last one; True if it did (for a role's own loop)."""
        if self.interval_s <= 0:
            return False
        now = self.clock()
        if now - self._last_at < self.interval_s:
            return False
        self.log_now(now)
        return True

    def log_now(self, now: float | None = None) -> None:
        """Log the line now. Never raises: a status line must not take a role down (a failing snapshot is logged
        as such)."""
        now = self.clock() if now is None else now
        try:
            text = self.line(now)
        except Exception as exc:  # the status line is informational: it never takes a role down
            text = f"status: {self.role} (snapshot failed: {type(exc).__name__}: {exc})"
        self._last_at = now
        self.log.info(text)

    async def task(self) -> None:
        """Log every interval until cancelled (for asyncio roles). log_now, not maybe_log: the loop may wake a
        timer up to its clock resolution early, which must not skip a whole interval."""
        if self.interval_s <= 0:
            return
        while True:
            await asyncio.sleep(self.interval_s)
            self.log_now()


def metric_total(metric: Any, **labels: str) -> int:
    """A prometheus_client counter's or gauge's value summed over its label sets (those matching `labels`), read
    through its public collect(): a role's status shows the counters core/metrics.py already keeps."""
    total = 0.0
    for family in metric.collect():
        for sample in family.samples:
            if sample.name.endswith("_created"):
                continue
            if all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return int(total)


def metric_by(metric: Any, label: str) -> dict[str, int]:
    """A counter's or gauge's values per value of one label (e.g. outcomes per state), zeros left out."""
    out: dict[str, int] = {}
    for family in metric.collect():
        for sample in family.samples:
            if sample.name.endswith("_created") or label not in sample.labels:
                continue
            key = sample.labels[label]
            out[key] = out.get(key, 0) + int(sample.value)
    return {k: v for k, v in sorted(out.items()) if v}


def by_text(counts: Mapping[str, int]) -> str:
    """{"FILLED": 3, "REJECTED": 1} -> "FILLED:3,REJECTED:1" ("0" when empty): one k=v field of a status line."""
    return ",".join(f"{k}:{v}" for k, v in counts.items()) or "0"


def partitions_text(partitions: Iterable[int]) -> str:
    """[0, 1, 2, 5] -> "0-2,5" ("none" when empty): which partitions a group member owns, short."""
    ps = sorted(set(partitions))
    if not ps:
        return "none"
    runs: list[str] = []
    start = prev = ps[0]
    for p in [*ps[1:], None]:
        if p is not None and p == prev + 1:
            prev = p
            continue
        runs.append(str(start) if start == prev else f"{start}-{prev}")
        if p is not None:
            start = prev = p
    return ",".join(runs)


def status_interval_s() -> float:
    """ARB_STATUS_INTERVAL_S through the one config loader."""
    from core.config import load
    from core.settings import RuntimeSettings

    return float(load(RuntimeSettings).status_interval_s)
