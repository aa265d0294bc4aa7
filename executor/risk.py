"""Pre-trade gate: kill switch, circuit breakers, order rate, exposure and daily loss.

`check(signal)` returns a rejection reason or None. Exposure and P&L come from the executor's own
Outcomes (what it committed and locked in today); marking open exposure to market from ticks is left to
the positions service (issue 7).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from core import metrics
from core.control import ControlState
from core.ratelimit import TokenBucket
from core.units import format_money
from executor.breaker import CircuitBreaker
from executor.settings import ExecutorSettings


class RiskGate:
    def __init__(self, settings: ExecutorSettings, breakers: Mapping[str, CircuitBreaker], control: ControlState | None,
                 now_us: Callable[[], int]) -> None:
        self.settings = settings
        self.breakers = breakers
        self.control = control
        self.now_us = now_us
        self.orders = TokenBucket(settings.max_orders_per_s, max(1, settings.max_orders_per_s))
        self.tz = ZoneInfo(settings.day_timezone)
        self.day = ""
        self.day_pnl = 0
        self.game_exposure: dict[str, int] = {}

    def _roll_day(self) -> None:
        day = datetime.fromtimestamp(self.now_us() / 1e6, self.tz).strftime("%Y%m%d")
        if day != self.day:
            self.day, self.day_pnl, self.game_exposure = day, 0, {}

    def __call__(self, signal: dict[str, Any]) -> str | None:
        return self.check(signal)

    def check(self, signal: dict[str, Any]) -> str | None:
        s = self.settings
        if self.control is not None:
            # Fail closed: a kill switch we cannot read (not loaded yet, reader stopped, an unreadable record that
            # may have been a kill) stops trading like an engaged one.
            if (unknown := self.control.error) is not None:
                return f"kill switch state unknown: {unknown}"
            if (kill := self.control.kill_switch()) is not None:
                return f"kill switch engaged: {kill.get('reason') or 'no reason given'}"
        for venue in {leg["venue"] for leg in signal["legs"]}:
            breaker = self.breakers.get(venue)
            if breaker is not None and breaker.is_open():
                return f"{venue} circuit breaker open"
        self._roll_day()
        if self.day_pnl <= -s.daily_loss_limit:
            return f"daily loss limit reached ({format_money(self.day_pnl)} USD today)"
        game = signal["game_id"]
        if self.game_exposure.get(game, 0) + signal["cost"] > s.max_game_exposure:
            return f"per-game exposure limit ({format_money(s.max_game_exposure)} USD)"
        if sum(self.game_exposure.values()) + signal["cost"] > s.max_total_exposure:
            return f"total exposure limit ({format_money(s.max_total_exposure)} USD)"
        if not self.orders.try_take(len(signal["legs"])):
            return f"max orders per second ({s.max_orders_per_s})"
        return None

    def on_outcome(self, outcome: dict[str, Any]) -> None:
        self._roll_day()
        if outcome["state"] in ("EXPIRED", "REJECTED"):
            return
        self.game_exposure[outcome["game_id"]] = self.game_exposure.get(outcome["game_id"], 0) + max(0, outcome["cost"])
        # locked_profit already nets fill costs, unwind losses and fees of every execution of the signal
        self.day_pnl += outcome["locked_profit"]
        metrics.EXPOSURE.set(sum(self.game_exposure.values()) / 1e6)  # display only
        metrics.LOCKED_PNL.set(self.day_pnl / 1e6)
