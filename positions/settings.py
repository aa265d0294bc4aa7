"""Positions service settings (ARB_POSITIONS_*)."""

from __future__ import annotations

from dataclasses import dataclass

from core.config import ConfigError, setting


@dataclass(frozen=True)
class PositionsSettings:
    publish_interval_ms: int = setting("ARB_POSITIONS_PUBLISH_INTERVAL_MS", 1000, "Minimum time between two Position records of one instrument on `positions`.")
    mark_tail: int = setting("ARB_POSITIONS_MARK_TAIL", 2000, "`arb positions`: ticks read back from the end of each `ticks` partition to find marks.")
    reconcile_s: float = setting(
        "ARB_POSITIONS_RECONCILE_S", 60.0,
        "`arb positions serve`: every this many seconds the positions folded from `fills` are compared with the venues' own "
        "(Kalshi, Polymarket: those whose credentials are set), 0 = off. Off for --paper.")
    reconcile_confirm: int = setting(
        "ARB_POSITIONS_RECONCILE_CONFIRM", 2,
        "`arb positions serve`: consecutive checks a drift (or a venue that cannot be read) must be seen in before it is an "
        "alert, so a fill the venue shows before its record reaches `fills` does not raise one.")
    reconcile_kill: bool = setting(
        "ARB_POSITIONS_RECONCILE_KILL", False,
        "`arb positions serve`: engage the kill switch (as `arb kill` does, with the drift as reason) when a reconciliation "
        "drift becomes an alert. It is never released automatically: `arb resume`.")

    def __post_init__(self) -> None:
        if not self.reconcile_s >= 0:
            raise ConfigError(f"ARB_POSITIONS_RECONCILE_S must be >= 0 seconds, not {self.reconcile_s}")
        if self.reconcile_confirm < 1:
            raise ConfigError(f"ARB_POSITIONS_RECONCILE_CONFIRM must be at least 1 check, not {self.reconcile_confirm}")
