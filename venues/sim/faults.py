"""Fault modes per venue, set through the admin API: HTTP 429/5xx, latency, WS disconnects, seq skips, silence,
malformed frames, Polymarket cancel-only mode and order refusals answered as HTTP 200 (`reject_in_200`).

Faults draw from their own RNG so switching a fault on never changes the seeded scenario.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any


@dataclass
class VenueFaults:
    p429: float = 0.0  # probability a REST request answers 429
    next_429: int = 0  # the next N REST requests answer 429
    p5xx: float = 0.0
    next_5xx: int = 0
    status_5xx: int = 503
    latency_ms: int = 0  # added before every REST answer
    retry_after_s: float | None = None  # sent with 429/503 where the venue does (Polymarket); Kalshi never sends it
    seq_skip: int = 0  # the next N seq-bearing WS messages skip one number
    silence: bool = False  # WS connections stay open but deliver no data (pings continue)
    malformed: int = 0  # the next N WS data messages go out cut in half (not valid JSON)
    cancel_only: bool = False  # Polymarket: order placement answers 503 + Retry-After (cancel-only mode); cancels still work
    # Polymarket: probability (1 = always) that an order refusal answers HTTP 200 with success true and the reason in
    # errorMsg, as the venue sometimes does (read by name in venues/polymarket/sim_clob.py)
    reject_in_200: float = 0.0

    def http_fault(self, rng: random.Random) -> int | None:
        """The status to answer instead of serving this request, or None; consumes the next-N counters."""
        if self.next_429 > 0:
            self.next_429 -= 1
            return 429
        if self.next_5xx > 0:
            self.next_5xx -= 1
            return self.status_5xx
        if self.p429 and rng.random() < self.p429:
            return 429
        if self.p5xx and rng.random() < self.p5xx:
            return self.status_5xx
        return None

    def garble(self, text: str) -> str:
        """`text`, or its first half while `malformed` lasts (consumes one)."""
        if self.malformed > 0:
            self.malformed -= 1
            return text[: len(text) // 2]
        return text

    def take_seq_skip(self) -> bool:
        if self.seq_skip > 0:
            self.seq_skip -= 1
            return True
        return False

    def update(self, values: dict[str, Any]) -> None:
        """Set fields from JSON; unknown names raise KeyError, wrong types ValueError."""
        known = {f.name: f for f in fields(self)}
        for name, value in values.items():
            if name not in known:
                raise KeyError(name)
            current = getattr(self, name)
            if name == "retry_after_s":
                setattr(self, name, None if value is None else float(value))
            elif isinstance(current, bool):
                if not isinstance(value, bool):
                    raise ValueError(f"{name} must be true/false")
                setattr(self, name, value)
            elif isinstance(current, int):
                setattr(self, name, int(value))
            else:
                setattr(self, name, float(value))

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass
class Faults:
    seed: int = 0
    venues: dict[str, VenueFaults] = field(default_factory=lambda: {"KALSHI": VenueFaults(), "POLYMARKET": VenueFaults()})
    # WS servers register here; the admin API triggers them: (venue) and (venue, error code).
    on_disconnect: list[Callable[[str], int]] = field(default_factory=list)
    on_ws_error: list[Callable[[str, int], int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed ^ 0x5EED_FA17)

    def __getitem__(self, venue: str) -> VenueFaults:
        return self.venues[venue]

    def disconnect(self, venue: str) -> int:
        """Drop every WS connection of `venue` now; returns how many were dropped."""
        return sum(cb(venue) for cb in self.on_disconnect)

    def ws_error(self, venue: str, code: int) -> int:
        """Send error `code` on every subscription of `venue` (terminal codes end the subscriptions)."""
        return sum(cb(venue, code) for cb in self.on_ws_error)

    def reset(self, venue: str) -> None:
        self.venues[venue] = VenueFaults()
