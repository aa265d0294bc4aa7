"""Per-venue available balance, cached, and the check that a signal's legs can be paid (issue 26).

Each venue's balance is read by an async fetcher (Kalshi `GET /portfolio/balance`, Polymarket
`GET /balance-allowance`; the parsers are `arb preflight`'s, cli/commands/preflight.py) on a timer and
after every signal that may have moved money: never on the signal's path, never blocking the event loop.
What admitted signals may still spend is held "in flight" per venue from admission until a balance read
that started after their outcome has landed: until then the venue's figure may not show their fills yet.

A venue whose balance was never read (or whose last read failed and the figure is older than the
staleness bound) rejects: fail closed, with the reason. Paper mode has no venue balance: executor/admission.py
does not build this there.

Several executors in one consumer group share each venue account. Each may use its share of the balance,
`budget`: floor((balance + S) x owned / P) - S, minus its holds, where owned is the number of `signals`
partitions it owns now, P the topic's partition count and S what its own signals spent in the last
`spent_window_s` (held at their worst-case cost). One executor owning every partition uses the whole balance
(S cancels out). Why S: the balance an executor reads has already lost what every executor spent; without S,
an executor that spent and read again would take owned/P of its own spending back out of the others' part
while their signals admitted on an older, larger figure are still in flight (P = 2: A holds 50 of 100, B
spends its 50 and reads 50; floor(50 / 2) = 25 more for B, and 75 promised against 50). With S, each one's own
spending counts in full against its own part; the others' spending only lowers everyone's figure. The sum
over the group then stays within the balance as long as every figure in use was read within `spent_window_s`
of each other's admissions (figures older than `max_age_s` are refused; attach() sets the window to that plus
how long a signal's orders can still fill). Partitions moving between executors: the bound is in
docs/risk.md "Balances and the order rate are the group's".
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from core.units import format_money

log = logging.getLogger(__name__)

Fetcher = Callable[[], Awaitable[int]]  # -> available balance, 1e-6 USD


def share(amount: int, owned: int, partitions: int) -> int:
    """floor(amount x owned / partitions): the part of a group-wide amount that `owned` of `partitions` signals
    partitions may use (integers; owned is clamped to [0, partitions])."""
    if partitions <= 0:
        raise ValueError("partitions must be positive")
    return amount * min(max(owned, 0), partitions) // partitions


def budget(balance: int, spent: int, owned: int, partitions: int) -> int:
    """What an executor owning `owned` of `partitions` may hold on a venue whose balance read `balance`, having
    spent `spent` there recently (its own spending counts in full; module docstring)."""
    return share(balance + spent, owned, partitions) - spent


def insufficient(need: Mapping[str, int], available: Mapping[str, int | None], in_flight: Mapping[str, int],
                 spent: Mapping[str, int] | None = None, owned: tuple[int, int] = (1, 1)) -> str | None:
    """The rejection reason when a venue cannot cover what the signal needs there (pure). `owned`: (signals
    partitions this executor owns, the topic's partition count)."""
    for venue in sorted(need):
        have = available.get(venue)
        if have is None:
            return f"{venue} balance unknown (not read yet or unreadable)"
        have = budget(have, (spent or {}).get(venue, 0), *owned) - in_flight.get(venue, 0)
        if need[venue] > have:
            part = f" (this executor's share: {owned[0]} of {owned[1]} signals partitions)" if owned[0] < owned[1] else ""
            return f"insufficient {venue} balance: need {format_money(need[venue])} USD, have {format_money(have)} USD{part}"
    return None


def _released_at(spent: tuple[float, dict[str, int]]) -> float:
    return spent[0]


@dataclass
class _Hold:
    need: dict[str, int]
    released_at: int | None = None  # the refresh epoch when its outcome landed
    released_clock: float = 0.0  # clock() then
    spent: bool = True  # its orders may have moved money (False: nothing was sent or nothing filled)


@dataclass
class Balances:
    fetchers: Mapping[str, Fetcher]
    refresh_s: float = 30.0
    max_age_s: float = 300.0  # a figure older than this (reads failing meanwhile) is no figure
    retry_s: float = 1.0  # while a venue's read fails: asked again this often (its signals are rejected meanwhile)
    clock: Callable[[], float] = time.monotonic
    # (signals partitions owned now, partition count): this executor's part of the balances; None: all of them
    owned: Callable[[], tuple[int, int]] | None = None
    spent_window_s: float = 600.0  # how long a spent hold still counts as this executor's recent spending (S)
    available: dict[str, int | None] = field(default_factory=dict)
    read_at: dict[str, float] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    _holds: dict[str, _Hold] = field(default_factory=dict)
    _spent: deque[tuple[float, dict[str, int]]] = field(default_factory=deque)  # (released at, amounts), oldest first
    _spent_total: dict[str, int] = field(default_factory=dict)  # the sum of _spent per venue
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

    def recent_spent(self) -> dict[str, int]:
        """S per venue: holds that may have spent, released within `spent_window_s` and already gone from in_flight."""
        since = self.clock() - self.spent_window_s
        while self._spent and self._spent[0][0] < since:
            for venue, amount in self._spent.popleft()[1].items():
                self._spent_total[venue] -= amount
        return {v: a for v, a in self._spent_total.items() if a}

    def share_now(self) -> tuple[int, int]:
        return self.owned() if self.owned is not None else (1, 1)

    def current(self) -> dict[str, int | None]:
        now = self.clock()
        return {v: (b if b is not None and now - self.read_at.get(v, now) <= self.max_age_s else None) for v, b in self.available.items()}

    def check(self, need: Mapping[str, int]) -> str | None:
        """The reason this executor's part of the balances cannot cover `need` now, or None (no side effect)."""
        return insufficient(need, self.current(), self.in_flight(), self.recent_spent(), self.share_now())

    def hold(self, signal_id: str, need: Mapping[str, int]) -> None:
        self._holds[signal_id] = _Hold(dict(need))

    def reserve(self, signal_id: str, need: Mapping[str, int]) -> str | None:
        """Hold `need` for the signal, or the reason the balances cannot cover it."""
        reason = self.check(need)
        if reason is None:
            self.hold(signal_id, need)
        return reason

    def release(self, signal_id: str, spent: bool = True) -> None:
        """The signal's outcome is committed: its hold goes with the next balance read, which is asked for now.
        `spent`: its orders may have moved money (then it counts as recent spending once it is gone)."""
        hold = self._holds.get(signal_id)
        if hold is not None and hold.released_at is None:  # a signal that held nothing moved no money: no read
            hold.released_at, hold.released_clock, hold.spent = self._epoch, self.clock(), spent
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
            gone = [(s, h) for s, h in self._holds.items() if h.released_at is not None and h.released_at < epoch]
            for sid, hold in gone:
                del self._holds[sid]
                if hold.spent:  # the figure shows it now; it still counts against this executor's part (S)
                    self._spent.append((hold.released_clock, hold.need))
                    for venue, amount in hold.need.items():
                        self._spent_total[venue] = self._spent_total.get(venue, 0) + amount
            if gone:  # oldest first (a failed read can leave an older hold for a later batch)
                self._spent = deque(sorted(self._spent, key=_released_at))

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
