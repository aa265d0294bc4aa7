"""Executor settings: breaker, risk limits, leg-risk policy, recovery. Money in 1e-6 USD, prices in 1e-4 USD.

Every field is checked at start-up (`__post_init__`, so `core.config.load` and direct construction alike):
a value out of its range fails with a ConfigError naming the variable, never silently accepted.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.config import ConfigError, setting
from core.units import ONE_DOLLAR

_BIG = 2**63 - 1
# field -> (lowest, highest) allowed, inclusive; every int field has a row (tests/unit/test_limits.py checks).
RANGES: dict[str, tuple[int, int]] = {
    "breaker_threshold": (1, 1000),
    "breaker_cooldown_ms": (1, 3_600_000),
    "max_orders_per_s": (1, 100_000),
    "max_game_exposure": (1, _BIG),
    "max_total_exposure": (1, _BIG),
    "daily_loss_limit": (1, _BIG),
    "unwind_max_loss": (1, ONE_DOLLAR - 1),  # a price distance: below 1 USD, or the bound means nothing
    "unwind_ttl_ms": (1, 3_600_000),
    "unwind_steps": (0, 100),
    "recovery_window_ms": (0, 3_600_000),
    "lookup_grace_ms": (0, 3_600_000),
    "dedup_horizon_s": (0, 7 * 86_400),  # 0: recovery reads only from the checkpoint
    "pending_timeout_ms": (1, 3_600_000),
    "paper_latency_ms": (0, 60_000),
    "http_timeout_ms": (1, 600_000),
    "max_contracts_per_order": (1, _BIG),
    "max_contracts_per_signal": (1, _BIG),
    "balance_refresh_s": (1, 86_400),
    "risk_lookback_h": (1, 30 * 24),  # `fills` keeps 30 days (core/topics.py)
    "risk_load_timeout_s": (1, 3600),
    "risk_sync_timeout_ms": (1, 600_000),
}


@dataclass(frozen=True)
class ExecutorSettings:
    breaker_threshold: int = setting("ARB_EXEC_BREAKER_THRESHOLD", 5, "Consecutive 5xx/timeouts/connection errors that open a venue's circuit breaker (429s never count).")
    breaker_cooldown_ms: int = setting("ARB_EXEC_BREAKER_COOLDOWN_MS", 5000, "How long an open breaker refuses calls before one half-open probe (ms).")
    max_orders_per_s: int = setting("ARB_EXEC_MAX_ORDERS_PER_S", 20, "Orders per second the executor group may send, all venues together (venue limits are per account); each executor "
                                   "gets owned signals partitions / ARB_PARTITIONS of it, with a burst of at least 3.")
    max_game_exposure: int = setting("ARB_EXEC_MAX_GAME_EXPOSURE", 1_000_000_000, "Max cost committed per game, 1e-6 USD (default 1,000 USD).")
    max_total_exposure: int = setting("ARB_EXEC_MAX_TOTAL_EXPOSURE", 10_000_000_000, "Max cost committed over all games, 1e-6 USD (default 10,000 USD).")
    daily_loss_limit: int = setting("ARB_EXEC_DAILY_LOSS_LIMIT", 500_000_000, "Trading stops for the day when the group's realized P&L of the day plus the marked P&L of open positions falls below minus this, 1e-6 USD (default 500 USD).")
    day_timezone: str = setting("ARB_EXEC_DAY_TZ", "America/New_York", "Time zone whose midnight resets the daily loss limit.")
    unwind_max_loss: int = setting("ARB_EXEC_UNWIND_MAX_LOSS", 500, "Worst unwind price below the entry average, 1e-4 USD per contract (default 5 cents).")
    unwind_ttl_ms: int = setting("ARB_EXEC_UNWIND_TTL_MS", 2000, "Deadline of each unwind step from its creation: unwinds are sent even after the signal's deadline passed.")
    unwind_steps: int = setting("ARB_EXEC_UNWIND_STEPS", 4, "IOC unwind attempts per leg, each one tick worse.")
    complete_first: bool = setting("ARB_EXEC_COMPLETE_FIRST", True, "On a one-sided fill, first try to buy the missing size on the short leg (before the deadline), then unwind.")
    leg_mode: str = setting("ARB_EXEC_LEG_MODE", "concurrent", "Send legs concurrently, or sequentially (the first leg listed first; the second only if the first filled).", choices=("concurrent", "sequential"))
    recovery_window_ms: int = setting("ARB_EXEC_RECOVERY_WINDOW_MS", 5000, "After a crash, how long after its intent an order is looked up at the venue before grace (ms).")
    lookup_grace_ms: int = setting("ARB_EXEC_LOOKUP_GRACE_MS", 3000, "After an answer that may mean executed (timeout, 5xx, duplicate id) and in recovery: how long past the order's deadline lookups go on; an order the venue still does not list then never executed, lookups still failing make it UNKNOWN (ms).")
    instance_id: str = setting(
        "ARB_EXEC_INSTANCE_ID", "",
        "Static membership in the executor group (Kafka group.instance.id): an executor restarted with the same id takes its "
        "partitions back at once instead of after ARB_SESSION_TIMEOUT_MS; `{hostname}` is replaced by the host name (compose: "
        "`executor-{hostname}`, one per container). Each running executor needs its own id: a second process with the same id "
        "takes the partitions and the first one stops (fenced). Its partitions also wait out the session timeout after a clean "
        "stop. Empty: dynamic membership.")
    dedup_horizon_s: int = setting("ARB_EXEC_DEDUP_HORIZON_S", 600, "Recovery reads `orders`/`outcomes` from the oldest unresolved signal or this far back, whichever is older (s): a signal delivered again within it (a processor replay) is recognised, never executed twice; older history is not read, so recovery time does not grow with it.")
    pending_timeout_ms: int = setting("ARB_EXEC_PENDING_TIMEOUT_MS", 30000, "How long a pending order (Polymarket `delayed`) is followed up by lookup before it is reported UNKNOWN (ms).")
    paper_latency_ms: int = setting("ARB_EXEC_PAPER_LATENCY_MS", 20, "Paper mode: modelled order round trip (ms), before any Polymarket sports delay.")
    http_timeout_ms: int = setting("ARB_EXEC_HTTP_TIMEOUT_MS", 3000, "Venue HTTP timeout (ms); a timeout makes the order's state unknown until looked up.")
    max_contracts_per_order: int = setting("ARB_EXEC_MAX_CONTRACTS_PER_ORDER", 10_000, "Hard cap on one order's size, 1e-2 contracts (default 100): "
                                           "a signal with a larger leg is REJECTED, whatever it claims.")
    max_contracts_per_signal: int = setting("ARB_EXEC_MAX_CONTRACTS_PER_SIGNAL", 30_000, "Hard cap on the contracts of all legs of one "
                                            "signal together, 1e-2 contracts (default 300).")
    balance_refresh_s: int = setting("ARB_EXEC_BALANCE_REFRESH_S", 30, "Live mode: each venue's available balance is read this often (s), "
                                     "and after every signal that sent orders; a signal this executor's part of the balance (owned "
                                     "partitions / P, docs/risk.md) minus what is in flight cannot cover is REJECTED. Paper mode has no "
                                     "balance check.")
    risk_lookback_h: int = setting("ARB_EXEC_RISK_LOOKBACK_H", 72, "The group's risk state is rebuilt at start from `fills` of this many hours "
                                   "back (or the trading day, if longer): older positions still open are not counted as exposure.")
    risk_load_timeout_s: int = setting("ARB_EXEC_RISK_LOAD_TIMEOUT_S", 60, "How long the executor waits for its risk state (fills, settlements, "
                                       "marks) to load before consuming signals; signals are REJECTED until it has loaded.")
    risk_sync_timeout_ms: int = setting("ARB_EXEC_RISK_SYNC_TIMEOUT_MS", 10_000, "After a signals partition is assigned and recovered: how long "
                                        "the executor waits for the partition's fills to be folded before trading it; its signals are "
                                        "REJECTED until they are (ms).")
    live: bool = setting("ARB_LIVE", False, "Let `arb execute` send orders to real venues (any host that is not a simulator), the same as "
                                           "`--live`; without it the executor refuses them (exit 2). Paper mode and simulators need nothing.")
    simulator_hosts: tuple[str, ...] = setting("ARB_SIMULATOR_HOSTS", ("localhost", "sim"), "Hosts that are venue simulators, comma-separated, "
                                                "besides local ones (localhost, loopback addresses): no --live needed, plain http allowed. "
                                                "`sim` is the compose stack's simulator. A real venue's host never counts as one.")

    def __post_init__(self) -> None:
        for name, env, value in _fields(self):
            bounds = RANGES.get(name)
            if bounds is None or isinstance(value, bool):
                continue
            lo, hi = bounds
            if not isinstance(value, int) or not lo <= value <= hi:
                raise ConfigError(f"{env}: expected an integer in [{lo}, {hi}], got {value!r}")
        if self.max_contracts_per_signal < self.max_contracts_per_order:
            raise ConfigError(f"ARB_EXEC_MAX_CONTRACTS_PER_SIGNAL ({self.max_contracts_per_signal}) is below "
                              f"ARB_EXEC_MAX_CONTRACTS_PER_ORDER ({self.max_contracts_per_order})")
        if self.max_total_exposure < self.max_game_exposure:
            raise ConfigError(f"ARB_EXEC_MAX_TOTAL_EXPOSURE ({self.max_total_exposure}) is below ARB_EXEC_MAX_GAME_EXPOSURE "
                              f"({self.max_game_exposure})")
        try:
            ZoneInfo(self.day_timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"ARB_EXEC_DAY_TZ: unknown time zone {self.day_timezone!r}") from None


def _fields(settings: ExecutorSettings) -> list[tuple[str, str, object]]:
    """(name, environment variable, value) of every field of `settings`. The casts: `dataclasses` hands out fields,
    their metadata and getattr's values as Any."""
    out: list[tuple[str, str, object]] = []
    for f in cast("tuple[dataclasses.Field[object], ...]", dataclasses.fields(settings)):
        meta = cast("Mapping[str, object]", f.metadata)
        out.append((f.name, str(meta["env"]), cast(object, getattr(settings, f.name))))
    return out
