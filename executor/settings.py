"""Executor settings: breaker, risk limits, leg-risk policy, recovery. Money in 1e-6 USD, prices in 1e-4 USD."""

from __future__ import annotations

from dataclasses import dataclass

from core.config import setting


@dataclass(frozen=True)
class ExecutorSettings:
    breaker_threshold: int = setting("ARB_EXEC_BREAKER_THRESHOLD", 5, "Consecutive 5xx/timeouts/connection errors that open a venue's circuit breaker (429s never count).")
    breaker_cooldown_ms: int = setting("ARB_EXEC_BREAKER_COOLDOWN_MS", 5000, "How long an open breaker refuses calls before one half-open probe (ms).")
    max_orders_per_s: int = setting("ARB_EXEC_MAX_ORDERS_PER_S", 20, "Orders per second the executor may send, all venues together.")
    max_game_exposure: int = setting("ARB_EXEC_MAX_GAME_EXPOSURE", 1_000_000_000, "Max cost committed per game, 1e-6 USD (default 1,000 USD).")
    max_total_exposure: int = setting("ARB_EXEC_MAX_TOTAL_EXPOSURE", 10_000_000_000, "Max cost committed over all games, 1e-6 USD (default 10,000 USD).")
    daily_loss_limit: int = setting("ARB_EXEC_DAILY_LOSS_LIMIT", 500_000_000, "Trading stops for the day when the day's realized P&L falls below minus this, 1e-6 USD (default 500 USD).")
    day_timezone: str = setting("ARB_EXEC_DAY_TZ", "America/New_York", "Time zone whose midnight resets the daily loss limit.")
    unwind_max_loss: int = setting("ARB_EXEC_UNWIND_MAX_LOSS", 500, "Worst unwind price below the entry average, 1e-4 USD per contract (default 5 cents).")
    unwind_ttl_ms: int = setting("ARB_EXEC_UNWIND_TTL_MS", 2000, "Deadline of each unwind step from its creation: unwinds are sent even after the signal's deadline passed.")
    unwind_steps: int = setting("ARB_EXEC_UNWIND_STEPS", 4, "IOC unwind attempts per leg, each one tick worse.")
    complete_first: bool = setting("ARB_EXEC_COMPLETE_FIRST", True, "On a one-sided fill, first try to buy the missing size on the short leg (before the deadline), then unwind.")
    leg_mode: str = setting("ARB_EXEC_LEG_MODE", "concurrent", "Send legs concurrently, or sequentially (the first leg listed first; the second only if the first filled).", choices=("concurrent", "sequential"))
    recovery_window_ms: int = setting("ARB_EXEC_RECOVERY_WINDOW_MS", 5000, "After a crash, how long after its intent an order is looked up at the venue before grace (ms).")
    lookup_grace_ms: int = setting("ARB_EXEC_LOOKUP_GRACE_MS", 3000, "After an answer that may mean executed (timeout, 5xx, duplicate id) and in recovery: how long past the order's deadline lookups go on; an order the venue still does not list then never executed, lookups still failing make it UNKNOWN (ms).")
    dedup_horizon_s: int = setting("ARB_EXEC_DEDUP_HORIZON_S", 600, "Recovery reads `orders`/`outcomes` from the oldest unresolved signal or this far back, whichever is older (s): a signal delivered again within it (a processor replay) is recognised, never executed twice; older history is not read, so recovery time does not grow with it.")
    pending_timeout_ms: int = setting("ARB_EXEC_PENDING_TIMEOUT_MS", 30000, "How long a pending order (Polymarket `delayed`) is followed up by lookup before it is reported UNKNOWN (ms).")
    paper_latency_ms: int = setting("ARB_EXEC_PAPER_LATENCY_MS", 20, "Paper mode: modelled order round trip (ms), before any Polymarket sports delay.")
    http_timeout_ms: int = setting("ARB_EXEC_HTTP_TIMEOUT_MS", 3000, "Venue HTTP timeout (ms); a timeout makes the order's state unknown until looked up.")
    live: bool = setting("ARB_LIVE", False, "Let `arb execute` send orders to real venues (any host that is not a simulator), the same as "
                                           "`--live`; without it the executor refuses them (exit 2). Paper mode and simulators need nothing.")
    simulator_hosts: tuple[str, ...] = setting("ARB_SIMULATOR_HOSTS", ("localhost", "sim"), "Hosts that are venue simulators, comma-separated, "
                                                "besides local ones (localhost, loopback addresses): no --live needed, plain http allowed. "
                                                "`sim` is the compose stack's simulator. A real venue's host never counts as one.")
