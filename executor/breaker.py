"""Circuit breaker per venue.

5xx, timeouts and connection errors count; a 429 never does (it is back-pressure, not failure). Opens
after `threshold` consecutive failures; while open, calls are refused at once; after `cooldown_s` it
half-opens and lets exactly one probe through; the probe's success closes it, its failure re-opens it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


class CircuitBreaker:
    def __init__(self, venue: str, threshold: int = 5, cooldown_s: float = 5.0, now: Callable[[], float] = time.monotonic) -> None:
        self.venue = venue
        self.threshold = threshold
        self.cooldown_s = cooldown_s
        self._now = now
        self.state = CLOSED
        self.failures = 0
        self.opened_at = 0.0
        self.probe_out = False
        self.trips = 0
        self.listeners: list[Callable[[CircuitBreaker], None]] = []

    def _set(self, state: str) -> None:
        if state != self.state:
            self.state = state
            for cb in self.listeners:
                cb(self)

    def is_open(self) -> bool:
        """True while calls would be refused (without taking the half-open probe)."""
        if self.state == OPEN:
            return self._now() - self.opened_at < self.cooldown_s
        return self.state == HALF_OPEN and self.probe_out

    def allow(self) -> bool:
        if self.state == CLOSED:
            return True
        if self.state == OPEN:
            if self._now() - self.opened_at < self.cooldown_s:
                return False
            self._set(HALF_OPEN)
            self.probe_out = False
        if self.probe_out:
            return False
        self.probe_out = True
        return True

    def record_success(self) -> None:
        self.failures = 0
        self.probe_out = False
        self._set(CLOSED)

    def record_neutral(self) -> None:
        """An answer that says nothing about health (429): release a half-open probe, change nothing."""
        self.probe_out = False

    def record_failure(self) -> None:
        self.probe_out = False
        if self.state == HALF_OPEN:
            self.opened_at = self._now()
            self.trips += 1
            self._set(OPEN)
            return
        self.failures += 1
        if self.state == CLOSED and self.failures >= self.threshold:
            self.opened_at = self._now()
            self.trips += 1
            self._set(OPEN)

    def snapshot(self) -> dict[str, object]:
        return {"venue": self.venue, "state": self.state, "failures": self.failures, "trips": self.trips, "cooldown_s": self.cooldown_s}
