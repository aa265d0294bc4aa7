"""Token buckets for client-side rate limiting (venue limits are data, in venues/*/constants.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class TokenBucket:
    def __init__(self, rate_per_s: float, capacity: float, now: Callable[[], float] = time.monotonic) -> None:
        if rate_per_s <= 0 or capacity <= 0:
            raise ValueError("rate and capacity must be positive")
        self.rate = rate_per_s
        self.capacity = capacity
        self._now = now
        self._tokens = capacity
        self._t = now()

    def _refill(self) -> None:
        t = self._now()
        self._tokens = min(self.capacity, self._tokens + (t - self._t) * self.rate)
        self._t = t

    def set_rate(self, rate_per_s: float, capacity: float) -> None:
        """Change the rate and the burst from now on (what accrued so far accrued at the old rate). A rate of 0
        admits nothing new (e.g. an executor that owns no partition: executor/admission.py OrderRate)."""
        if rate_per_s < 0 or capacity <= 0:
            raise ValueError("rate must not be negative, capacity must be positive")
        self._refill()
        self.rate, self.capacity = rate_per_s, capacity
        self._tokens = min(self._tokens, capacity)

    def try_take(self, tokens: float) -> bool:
        self._refill()
        if tokens <= self._tokens:
            self._tokens -= tokens
            return True
        return False

    def wait_time(self, tokens: float) -> float:
        """Seconds until `tokens` are available (0 if now; inf if more than the bucket holds)."""
        if tokens > self.capacity:
            return float("inf")
        self._refill()
        if tokens <= self._tokens:
            return 0.0
        return (tokens - self._tokens) / self.rate if self.rate > 0 else float("inf")

    async def take(self, tokens: float, deadline_s: float | None = None) -> bool:
        """Wait for `tokens` unless the wait would last longer than `deadline_s` seconds from now."""
        while True:
            wait = self.wait_time(tokens)
            if wait == 0 and self.try_take(tokens):
                return True
            if deadline_s is not None and wait > deadline_s:
                return False
            if deadline_s is not None:
                deadline_s -= wait
            await asyncio.sleep(wait)
