"""Positions service settings (ARB_POSITIONS_*)."""

from __future__ import annotations

from dataclasses import dataclass

from core.config import setting


@dataclass(frozen=True)
class PositionsSettings:
    publish_interval_ms: int = setting("ARB_POSITIONS_PUBLISH_INTERVAL_MS", 1000, "Minimum time between two Position records of one instrument on `positions`.")
    mark_tail: int = setting("ARB_POSITIONS_MARK_TAIL", 2000, "`arb positions`: ticks read back from the end of each `ticks` partition to find marks.")
