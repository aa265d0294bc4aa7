"""Pre-trade gate: kill switch, circuit breakers, order rate, exposure and daily loss.

`check(signal)` returns a rejection reason or None. Exposure and P&L come from the group's risk state
(executor/group_risk.py: every executor folds `fills` of all partitions, `settlements` and the marks on
`positions`), so they survive restarts and are the same in every executor of the group.

The total exposure limit L holds strictly for the group, even when two executors admit at the same instant
and each sees the other's fills late: signals partition p owns the share L // P of it (P = partition count),
and a signal of p is admitted only within p's share minus p's exposure. p's exposure is exact in its owner:
only one executor owns p at a time; its own signals in flight are reserved here at their full cost until
their fills are folded (group_risk.after_fills); and a new owner catches up with p's fills after recovery,
before trading (`on_recovered`). Chosen over a reservation topic written transactionally: no extra round trip
on the hot path and no single partition every executor contends for; the price is that one game can use at
most L // P (per-game limit: a game lives on one partition, so it is exact as well). The daily loss limit is
group-wide (all partitions) and, like any fold of the others' records, lags them by the read latency.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from core import metrics
from core.control import ControlState
from core.partitioning import partition_for
from core.units import format_money
from executor.breaker import CircuitBreaker
from executor.group_risk import GroupRisk, RiskFold
from executor.settings import ExecutorSettings
from schemas.records import MarketPairing, Outcome, OutcomeState, Signal

log = logging.getLogger(__name__)

RELEASE_AT_ONCE: tuple[OutcomeState, ...] = ("REJECTED", "EXPIRED", "NOT_FILLED")  # nothing sent or nothing filled: no fills will come
KEEP: tuple[OutcomeState, ...] = ("PENDING", "UNKNOWN")  # orders that may still fill: the reservation stays (UNKNOWN: for the life of the process)


@dataclass
class Reservation:
    partition: int
    game_id: str
    amount: int  # 1e-6 USD
    final: bool = False  # its final outcome (and fills) are committed
    was_pending: bool = False  # fills were committed in more than one transaction


class RiskGate:
    def __init__(self, settings: ExecutorSettings, breakers: Mapping[str, CircuitBreaker], control: ControlState | None,
                 now_us: Callable[[], int], *, risk: GroupRisk, partitions: int) -> None:
        self.settings = settings
        self.breakers = breakers
        self.control = control
        self.now_us = now_us
        self.risk = risk
        self.partitions = partitions
        self.share = settings.max_total_exposure // partitions
        self.reserved: dict[str, Reservation] = {}  # signal_id -> its reservation (event loop + the risk reader thread)
        self.unsynced: set[int] = set()  # partitions whose fills are not caught up after their assignment
        self._lock = threading.Lock()

    def __call__(self, signal: Signal) -> str | None:
        return self.check(signal)

    def _reserved(self, fold: RiskFold, p: int, game: str) -> tuple[int, int]:
        """Reservations of partition p and of `game` not yet folded. A final one whose fills the fold already has is
        not counted twice (the barrier that drops it may run a little later)."""
        with self._lock:
            rs = [r for sid, r in self.reserved.items() if not (r.final and not r.was_pending and fold.fills_complete(sid))]
        return sum(r.amount for r in rs if r.partition == p), sum(r.amount for r in rs if r.game_id == game)

    def check(self, signal: Signal) -> str | None:
        s = self.settings
        if self.control is not None:
            # Fail closed: a kill switch we cannot read (not loaded yet, reader stopped, an unreadable record that
            # may have been a kill) stops trading like an engaged one.
            if (unknown := self.control.error) is not None:
                return f"kill switch state unknown: {unknown}"
            if (kill := self.control.kill_switch()) is not None:
                return f"kill switch engaged: {kill.reason or 'no reason given'}"
        for venue in {leg.venue for leg in signal.legs}:
            breaker = self.breakers.get(venue)
            if breaker is not None and breaker.is_open():
                return f"{venue} circuit breaker open"
        # Fail closed as well: limits we cannot compute stop trading.
        if (unknown := self.risk.error) is not None:
            return f"risk state unknown: {unknown}"
        game = signal.game_id
        p = partition_for(game, self.partitions)
        if p in self.unsynced:
            return f"risk state unknown: fills of partition {p} not caught up since its assignment"
        now = self.now_us()

        def figures(fold: RiskFold, pairings: Mapping[str, MarketPairing]) -> tuple[int, int, int, int]:
            realized, marked = fold.day_pnl(now, pairings)
            in_flight_p, in_flight_game = self._reserved(fold, p, game)  # read with the fold, under its lock: one consistent view
            return (realized + marked, realized, fold.game_exposure(game, pairings.get(game)) + in_flight_game,
                    fold.partition_exposure(p, pairings) + in_flight_p)

        pnl, realized, game_exp, part_exp = self.risk.view(figures)
        marked = pnl - realized
        if realized + marked <= -s.daily_loss_limit:
            return (f"daily loss limit reached ({format_money(realized + marked)} USD today: realized {format_money(realized)}, "
                    f"marked {format_money(marked)})")
        cost = max(0, signal.cost)
        if game_exp + cost > s.max_game_exposure:
            return f"per-game exposure limit ({format_money(s.max_game_exposure)} USD)"
        if part_exp + cost > self.share:
            return (f"total exposure limit ({format_money(s.max_total_exposure)} USD; partition {p}'s share "
                    f"{format_money(self.share)} USD, {format_money(part_exp)} USD used)")
        with self._lock:
            self.reserved[signal.signal_id] = Reservation(p, game, cost)
        return None

    def on_outcome(self, outcome: Outcome) -> None:
        sid, state = outcome.signal_id, outcome.state
        with self._lock:
            r = self.reserved.get(sid)
            if r is not None and state == "PENDING":
                r.was_pending = True
        if r is not None and state not in KEEP:
            if state in RELEASE_AT_ONCE:
                self._release(sid)
            else:  # its fills are committed with this outcome: release once the fold has them
                with self._lock:
                    r.final = True
                self.risk.after_fills(r.partition, lambda: self._release(sid))
        self._publish_metrics()

    def _release(self, signal_id: str) -> None:
        with self._lock:
            self.reserved.pop(signal_id, None)

    def on_recovered(self, partition: int) -> None:
        """After recovering an assigned partition, before its first signal (a thread, never the event loop): wait
        until the fold has every fill of the partition committed so far (the previous owner's, the recovery's);
        if that takes longer than the bound, the partition's signals are rejected until it has them."""
        if self.risk.sync(partition, self.settings.risk_sync_timeout_ms / 1000):
            self.unsynced.discard(partition)
            return
        log.error("risk: fills of partition %d not caught up after %d ms; its signals are rejected until they are", partition,
                  self.settings.risk_sync_timeout_ms, extra={"partition": partition})
        self.unsynced.add(partition)
        self.risk.after_fills(partition, lambda: self.unsynced.discard(partition))

    def _publish_metrics(self) -> None:
        now = self.now_us()

        def figures(fold: RiskFold, pairings: Mapping[str, MarketPairing]) -> tuple[int, int]:
            return sum(fold.exposures(pairings).values()), fold.day_pnl(now, pairings)[0]

        exposure, realized = self.risk.view(figures)
        metrics.EXPOSURE.set(exposure / 1e6)  # display only
        metrics.LOCKED_PNL.set(realized / 1e6)
