"""Fault modes per venue, set through the admin API: HTTP 429/5xx, latency, WS disconnects, seq skips, silence,
malformed frames, Polymarket cancel-only mode and order refusals answered as HTTP 200 (`reject_in_200`), and the
ambiguous answers of design.md "Ambiguous venue answers": an order that executes and whose answer is then replaced by
a 500 (`accept_then_5xx`) or lost (`accept_then_timeout`), lookups that see an accepted order only after a lag
(`lookup_lag_ms`), the Polymarket sports delay switched on and off (`delay_s`), and 401s (`p401` / `next_401`, and a
request timestamp further than `max_clock_skew_s` from the venue clock, which runs `clock_offset_s` off the wall clock).

Faults draw from their own RNG so switching a fault on never changes the seeded scenario; a probability that is 0
draws nothing, so faults that are off never shift the draws of the others.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from aiohttp import web

# What the order log's `fault` field says for the faults below (simulators/orderlog.py OrderRecord.fault).
ACCEPT_THEN_5XX = "accept_then_5xx"  # executed, then answered 500
ACCEPT_THEN_TIMEOUT = "accept_then_timeout"  # executed, then no answer (connection closed after timeout_hold_ms)
FAULT_401 = "401"  # p401 / next_401: refused with 401, nothing executed
CLOCK_SKEW = "clock_skew"  # request timestamp further than max_clock_skew_s from the venue clock: 401, nothing executed

# Neither venue documents how far a request timestamp may be from its clock (Kalshi: docs.kalshi.com
# getting_started/api_keys and quick_start_authenticated_requests give the headers, no window; Polymarket:
# docs.polymarket.com authentication gives none either). Kalshi: 30 s, a choice; Polymarket: the simulator's earlier 300 s.
DEFAULT_MAX_CLOCK_SKEW_S = {"KALSHI": 30.0, "POLYMARKET": 300.0}


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
    # errorMsg, as the venue sometimes does (read by name in simulators/polymarket/clob.py)
    reject_in_200: float = 0.0
    # --- ambiguous answers (accepted orders only: a refused order keeps its normal answer and consumes nothing) ---
    accept_then_5xx: float = 0.0  # probability that an accepted order executes and its answer is replaced by HTTP 500
    next_accept_then_5xx: int = 0  # the next N accepted orders: the same
    accept_then_timeout: float = 0.0  # probability that an accepted order executes and its answer is lost
    next_accept_then_timeout: int = 0
    timeout_hold_ms: int = 30_000  # a lost answer: the connection is held this long (or until the client leaves), then closed unanswered
    lookup_lag_ms: int = 0  # an accepted order is invisible to order lookups for this long (sim clock) after it was accepted
    delay_s: float | None = None  # Polymarket: secondsDelay of marketable orders (None: the world setting poly_seconds_delay; 0: off)
    p401: float = 0.0  # probability that an order request answers 401 (nothing executed)
    next_401: int = 0  # the next N order requests answer 401
    max_clock_skew_s: float = 30.0  # |request timestamp - venue clock| beyond this answers 401 (per-venue default: DEFAULT_MAX_CLOCK_SKEW_S)
    clock_offset_s: float = 0.0  # the venue clock runs this far ahead of the wall clock (a skewed client, seen from the venue)

    _OPTIONAL_FLOATS: ClassVar[frozenset[str]] = frozenset({"retry_after_s", "delay_s"})
    _PROBABILITIES: ClassVar[frozenset[str]] = frozenset({"accept_then_5xx", "accept_then_timeout", "p401"})
    _NON_NEGATIVE: ClassVar[frozenset[str]] = frozenset({"next_accept_then_5xx", "next_accept_then_timeout", "timeout_hold_ms",
                                                         "lookup_lag_ms", "delay_s", "next_401", "max_clock_skew_s"})

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

    def accept_fault(self, rng: random.Random) -> str | None:
        """For an order the venue accepted (and executed): ACCEPT_THEN_5XX, ACCEPT_THEN_TIMEOUT or None.

        Consumes the next-N counters first (5xx before timeout), then draws the probabilities."""
        if self.next_accept_then_5xx > 0:
            self.next_accept_then_5xx -= 1
            return ACCEPT_THEN_5XX
        if self.next_accept_then_timeout > 0:
            self.next_accept_then_timeout -= 1
            return ACCEPT_THEN_TIMEOUT
        if self.accept_then_5xx and rng.random() < self.accept_then_5xx:
            return ACCEPT_THEN_5XX
        if self.accept_then_timeout and rng.random() < self.accept_then_timeout:
            return ACCEPT_THEN_TIMEOUT
        return None

    def deny_401(self, rng: random.Random) -> bool:
        """Whether this order request answers 401 (p401 / next_401); consumes the counter."""
        if self.next_401 > 0:
            self.next_401 -= 1
            return True
        return bool(self.p401 and rng.random() < self.p401)

    def venue_clock_ms(self) -> float:
        """The venue's clock (wall clock + clock_offset_s), ms since the epoch."""
        return time.time() * 1000 + self.clock_offset_s * 1000

    def clock_skewed(self, request_ts_ms: int) -> bool:
        """Whether a request stamped `request_ts_ms` is further than max_clock_skew_s from the venue clock."""
        return abs(request_ts_ms - self.venue_clock_ms()) > self.max_clock_skew_s * 1000

    def poly_delay_s(self, setting_s: float) -> float:
        """The Polymarket sports delay in force: `delay_s` when set, else the world setting."""
        return setting_s if self.delay_s is None else self.delay_s

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
        """Set fields from JSON; unknown names raise KeyError, wrong types or ranges ValueError (then nothing is set)."""
        known = {f.name: f for f in fields(self)}
        new: dict[str, Any] = {}
        for name, value in values.items():
            if name not in known:
                raise KeyError(name)
            current = getattr(self, name)
            v: Any
            if name in self._OPTIONAL_FLOATS:
                v = None if value is None else float(value)
            elif isinstance(current, bool):
                if not isinstance(value, bool):
                    raise ValueError(f"{name} must be true/false")
                v = value
            elif isinstance(current, int):
                v = int(value)
            else:
                v = float(value)
            if name in self._PROBABILITIES and not 0.0 <= v <= 1.0:
                raise ValueError(f"{name} is a probability (0..1)")
            if name in self._NON_NEGATIVE and v is not None and v < 0:
                raise ValueError(f"{name} must not be negative")
            new[name] = v
        for name, v in new.items():
            setattr(self, name, v)

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def client_gone(request: web.BaseRequest) -> bool:
    """Whether the client of `request` has closed its connection (it timed out)."""
    transport = request.transport
    return transport is None or transport.is_closing()


def drop_connection(request: web.BaseRequest) -> web.StreamResponse:
    """Close the connection of `request` without answering. The handler returns the response this gives; it is never
    written (aiohttp takes the write to a closed transport as a premature client disconnection)."""
    from aiohttp import web

    transport = request.transport
    if transport is not None:
        transport.close()
    return web.Response(status=500)


def venue_faults(venue: str) -> VenueFaults:
    """A venue's faults with nothing switched on (its own clock-skew window)."""
    return VenueFaults(max_clock_skew_s=DEFAULT_MAX_CLOCK_SKEW_S.get(venue, VenueFaults.max_clock_skew_s))


@dataclass
class Faults:
    seed: int = 0
    venues: dict[str, VenueFaults] = field(default_factory=lambda: {v: venue_faults(v) for v in ("KALSHI", "POLYMARKET")})
    # WS servers register here; the admin API triggers them: (venue) and (venue, error code).
    on_disconnect: list[Callable[[str], int]] = field(default_factory=list)
    on_ws_error: list[Callable[[str, int], int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed ^ 0x5EED_FA17)
        self._held: dict[asyncio.Future[None], str] = {}  # answers held by accept_then_timeout -> venue
        self._closing = False

    def __getitem__(self, venue: str) -> VenueFaults:
        return self.venues[venue]

    def disconnect(self, venue: str) -> int:
        """Drop every WS connection of `venue` now; returns how many were dropped."""
        return sum(cb(venue) for cb in self.on_disconnect)

    def ws_error(self, venue: str, code: int) -> int:
        """Send error `code` on every subscription of `venue` (terminal codes end the subscriptions)."""
        return sum(cb(venue, code) for cb in self.on_ws_error)

    def reset(self, venue: str) -> None:
        self.venues[venue] = venue_faults(venue)

    # --- answers held by accept_then_timeout ---------------------------------------------------------

    async def hold(self, venue: str, seconds: float, gone: Callable[[], bool], poll_s: float = 0.05) -> str:
        """Hold a lost answer: wait `seconds`, or less when the client has gone (`gone()`, polled), the answer is
        released (admin `POST /faults/{venue}/release`) or the simulator shuts down. Returns why it ended:
        "elapsed", "gone" or "released"."""
        if self._closing:
            return "released"
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        self._held[fut] = venue
        deadline = loop.time() + seconds
        try:
            while not fut.done():
                left = deadline - loop.time()
                if left <= 0:
                    return "elapsed"
                if gone():
                    return "gone"
                await asyncio.wait({fut}, timeout=min(poll_s, left))
            return "released"
        finally:
            self._held.pop(fut, None)
            if not fut.done():
                fut.cancel()

    @property
    def held(self) -> int:
        """How many answers are being held now."""
        return len(self._held)

    def release_held(self, venue: str | None = None) -> int:
        """End the holds of `venue` (every venue: None) now; their connections close unanswered. Returns how many."""
        n = 0
        for fut, v in list(self._held.items()):
            if (venue is None or v == venue) and not fut.done():
                fut.set_result(None)
                n += 1
        return n

    def close(self) -> None:
        """The simulator is shutting down: release every held answer and hold no more."""
        self._closing = True
        self.release_held()

    def reopen(self) -> None:
        """The simulator (re)starts: answers may be held again."""
        self._closing = False
