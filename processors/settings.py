"""Detection settings. Prices/edges per contract in 1e-4 USD, money in 1e-6 USD, sizes in 1e-2 contracts.

Retired: ARB_MAX_TICK_AGE_MS (a leg older than the game's newest tick was ignored). Quiet books are valid
(issue 29 item 2); the loader reads only the variables declared here, so an old environment that still
sets it is accepted and the variable has no effect.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.config import setting


@dataclass(frozen=True)
class DetectorSettings:
    min_edge_money: int = setting("ARB_MIN_EDGE_MONEY", 10_000, "Minimum expected profit of a signal after fees, 1e-6 USD (default 0.01 USD).")
    min_edge_per_contract: int = setting("ARB_MIN_EDGE_PER_CONTRACT", 50, "Minimum marginal edge per contract after fees while sizing, 1e-4 USD (default half a cent).")
    signal_ttl_ms: int = setting("ARB_SIGNAL_TTL_MS", 500, "Deadline = newest input tick receive time + this (event time).")
    book_reuse_ms: int = setting("ARB_BOOK_REUSE_MS", 1000, "After a signal, a leg's book is not used again until it has changed (a new tick) or this much event time has passed: our own order is about to consume that liquidity.")
    max_signal_size: int = setting("ARB_MAX_SIGNAL_SIZE", 10_000, "Cap on contracts per leg of one signal, 1e-2 contracts (default 100).")
    fills_per_leg: int = setting("ARB_FILLS_PER_LEG", 3,
                                 "Pieces an IOC leg is assumed to fill in at most (one per resting order it meets) when "
                                 "bounding per-fill fee rounding: on Kalshi each piece can cost up to one unit of the "
                                 "member's balance precision ($0.01 non-direct). A signal must clear its minimum edge "
                                 "after that bound; 1 assumes one fill per leg.")
    whole_contracts: bool = setting("ARB_WHOLE_CONTRACTS", True, "Size legs in whole contracts (Kalshi orders here are whole contracts).")
    allow_delayed: bool = setting("ARB_ALLOW_DELAYED", False, "Allow Polymarket legs on markets with a sports placement delay (secondsDelay > 0).")
    delayed_extra_edge: int = setting("ARB_DELAYED_EXTRA_EDGE", 200, "Extra edge per contract required with a delayed Polymarket leg, 1e-4 USD.")
