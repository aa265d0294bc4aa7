"""Per-venue available balance, cached, and the check that a signal's legs can be paid (issue 26).

Each venue's balance is read by an async fetcher (Kalshi `GET /portfolio/balance`, Polymarket
`GET /balance-allowance`; the parsers are `arb preflight`'s, cli/commands/preflight.py) on a timer and
after every signal that may have moved money: never on the signal's path, never blocking the event loop.
What admitted signals may still spend is held "in flight" per venue from admission until a balance read
that started after their outcome has landed: until then the venue's figure may not show their fills yet.

A venue whose balance was never read (or whose last read failed and the figure is older than the
staleness bound) rejects: fail closed, with the reason. Paper mode has no venue balance: executor/admission.py
does not build this there.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from core.units import format_money

log = logging.getLogger(__name__)

Fetcher = Callable[[], Awaitable[int]]  # -> available balance, 1e-6 USD


def insufficient(need: Mapping[str, int], available: Mapping[str, int | None], in_flight: Mapping[str, int]) -> str | None:
    """The rejection reason when a venue cannot cover what the signal needs there (pure)."""
    for venue in sorted(need):
        have = available.get(venue)
        if have is None:
            return f"{venue} balance unknown (not read yet or unreadable)"
        have -= in_flight.get(venue, 0)
        if need[venue] > have:
            return f"insufficient {venue} balance: need {format_money(need[venue])} USD, have {format_money(have)} USD"
    return None


@dataclass
class _Hold:
    need: dict[str, int]
    released_at: int | None = None  # the refresh epoch when its outcome landed


@dataclass
class Balances:
    fetchers: Mapping[str, Fetcher]
    refresh_s: float = 30.0
    max_age_s: float = 300.0  # a figure older than this (reads failing meanwhile) is no figure
    retry_s: float = 1.0  # while a venue's read fails: asked again this often (its signals are rejected meanwhile)
    clock: Callable[[], float] = time.monotonic
    available: dict[str, int | None] = field(default_factory=dict)
    read_at: dict[str, float] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    _holds: dict[str, _Hold] = field(default_factory=dict)
    _epoch: int = 0  # refreshes started
    _task: asyncio.Task[None] | None = None
    _wake: asyncio.Event | None = None

    # ---- the check (event loop, no I/O) ------------------------------------------------------

    def in_flight(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for hold in self._holds.values():
            for venue, amount in hold.need.items():
                out[venue] = out.get(venue, 0) + amount
        return out

    def current(self) -> dict[str, int | None]:
        now = self.clock()
        return {v: (b if b is not None and now - self.read_at.get(v, now) <= self.max_age_s else None) for v, b in self.available.items()}

    def reserve(self, signal_id: str, need: Mapping[str, int]) -> str | None:
        """Hold `need` for the signal, or the reason the balances cannot cover it."""
        reason = insufficient(need, self.current(), self.in_flight())
        if reason is None:
            self._holds[signal_id] = _Hold(dict(need))
        return reason

    def release(self, signal_id: str) -> None:
        """The signal's outcome is committed: its hold goes with the next balance read, which is asked for now."""
        hold = self._holds.get(signal_id)
        if hold is not None and hold.released_at is None:  # a signal that held nothing moved no money: no read
            hold.released_at = self._epoch
            self.refresh_soon()

    # ---- reading (event loop task) -------------------------------------------------------------

    def refresh_soon(self) -> None:
        if self._wake is not None:
            self._wake.set()

    async def refresh(self) -> None:
        """Read every venue's balance once, concurrently; a failed read keeps the last figure (and says so)."""
        self._epoch += 1
        epoch = self._epoch
        venues = list(self.fetchers)
        got = await asyncio.gather(*(self.fetchers[v]() for v in venues), return_exceptions=True)
        for venue, value in zip(venues, got, strict=True):
            if isinstance(value, BaseException):
                self.errors[venue] = f"{type(value).__name__}: {value}"
                log.warning("%s balance read failed: %s", venue, value, extra={"venue": venue})
                self.available.setdefault(venue, None)
                continue
            self.available[venue], self.read_at[venue] = value, self.clock()
            self.errors.pop(venue, None)
        if all(not isinstance(v, BaseException) for v in got):
            # Fills of a signal whose outcome landed before this read started are in the figures now.
            for sid in [s for s, h in self._holds.items() if h.released_at is not None and h.released_at < epoch]:
                del self._holds[sid]

    async def start(self) -> None:
        """First read (awaited: no signal is admitted on unknown balances), then the refresh loop."""
        wake = self._wake = asyncio.Event()
        await self.refresh()
        self._task = asyncio.get_running_loop().create_task(self._loop(wake))

    async def _loop(self, wake: asyncio.Event) -> None:
        while True:
            try:
                await asyncio.wait_for(wake.wait(), self.retry_s if self.errors else self.refresh_s)
            except TimeoutError:
                pass
            wake.clear()
            try:
                await self.refresh()
            except Exception:  # never let the timer die: the next round tries again
                log.exception("balance refresh failed")

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
