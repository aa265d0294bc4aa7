"""What the executor checks by itself before a signal's INTENT (issue 26): its hard limits
(executor/limits.py) against the game's pairing and the live ticks, then, in live mode, each venue's balance
(executor/balances.py), then the order rate. `attach` wires it onto a built service (`arb execute`); the
service calls `limits` before the risk gate and `reserve` after it, and `on_outcome` after every committed
outcome.

Balances and the order rate belong to the venue account, which every executor of the consumer group shares:
each executor uses the part of them its `signals` partitions give it (owned / P, owned = the partitions it
owns now, `service.workers`), like the exposure limit (executor/risk.py). The rate: ARB_EXEC_MAX_ORDERS_PER_S
x owned / P, with a burst of at least one signal's legs so that one partition's executor is never starved.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from core.config import load
from core.markets_cache import MarketsCache
from core.ratelimit import TokenBucket
from core.settings import KafkaSettings
from core.topics import partitions
from executor.balances import Balances, Fetcher
from executor.ledger import TERMINAL
from executor.limits import Limits, LiveTick, check_signal
from executor.settings import ExecutorSettings
from processors.settings import DetectorSettings
from schemas.records import MarketPairing, Outcome, OutcomeState, Signal

if TYPE_CHECKING:  # only to name the types: the service imports this module, and the REST clients are imported on use
    from executor.service import ExecutorService
    from venues.kalshi.rest import KalshiRest
    from venues.polymarket.rest import PolymarketRest

MAX_LEGS = 3  # a signal has one leg per outcome: two, or three where the league has draws
NOTHING_SPENT: tuple[OutcomeState, ...] = ("REJECTED", "EXPIRED", "NOT_FILLED")  # nothing sent, or nothing filled (IOC/FAK): no money moved

Owned = Callable[[], tuple[int, int]]  # -> (signals partitions this executor owns now, the topic's partition count)


def order_rate(per_s: int, owned: int, partitions: int) -> tuple[float, float]:
    """(rate, burst) of one executor's order bucket: the group's `per_s` x owned / P, so that all executors together
    stay within it; the burst holds at least one signal's legs (else a small share never admits a signal)."""
    rate = per_s * min(max(owned, 0), partitions) / partitions
    return rate, max(rate, float(MAX_LEGS))


class OrderRate:
    """This executor's order-rate bucket, following the partitions it owns (owned / P of ARB_EXEC_MAX_ORDERS_PER_S)."""

    def __init__(self, per_s: int, owned: Owned, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_s = per_s
        self.owned = owned
        self.bucket = TokenBucket(*order_rate(per_s, 1, 1), now=clock)

    def take(self, orders: int) -> str | None:
        o, p = self.owned()
        rate, burst = order_rate(self.per_s, o, p)
        if (rate, burst) != (self.bucket.rate, self.bucket.capacity):
            self.bucket.set_rate(rate, burst)
        if self.bucket.try_take(orders):
            return None
        return f"max orders per second ({self.per_s}; this executor's share {rate:.2f}/s: {o} of {p} signals partitions)"


class Admission:
    def __init__(self, limits: Limits, pairing_of: Callable[[str], MarketPairing | None], *, live_tick: LiveTick | None = None,
                 balances: Balances | None = None, orders: OrderRate | None = None) -> None:
        self.limits_ = limits
        self.pairing_of = pairing_of
        self.live_tick = live_tick
        self.balances = balances
        self.orders = orders
        self._need: dict[str, dict[str, int]] = {}  # signal_id -> venue cost, between `limits` and `reserve`
        self._started: asyncio.Lock | None = None
        self._running = False

    def limits(self, signal: Signal) -> str | None:
        checked = check_signal(signal, self.pairing_of(signal.game_id), self.limits_, self.live_tick)
        if checked.reason is None:
            self._need[signal.signal_id] = dict(checked.venue_cost)
        return checked.reason

    async def start(self) -> None:
        """The first balance read (before the executor consumes signals) and the refresh loop; idempotent."""
        if self.balances is None or self._running:
            return
        if self._started is None:
            self._started = asyncio.Lock()
        async with self._started:
            if not self._running:
                await self.balances.start()
                self._running = True

    async def reserve(self, signal: Signal) -> str | None:
        """After the risk gate: hold the signal's worst-case cost on each venue's balance and take its orders from
        the rate, or the reason it cannot. Both are decided without an await in between (one event loop)."""
        need = self._need.pop(signal.signal_id, None)
        if need is None:
            return None
        if self.balances is not None:
            await self.start()  # normally done at the executor's start: never admitted on unknown balances
            if (reason := self.balances.check(need)) is not None:
                return reason
        if self.orders is not None and (reason := self.orders.take(len(signal.legs))) is not None:
            return reason
        if self.balances is not None:
            self.balances.hold(signal.signal_id, need)
        return None

    def on_outcome(self, outcome: Outcome) -> None:
        self._need.pop(outcome.signal_id, None)
        if self.balances is not None and outcome.state in TERMINAL:
            self.balances.release(outcome.signal_id, spent=outcome.state not in NOTHING_SPENT)

    async def aclose(self) -> None:
        if self.balances is not None:
            await self.balances.aclose()


def limits_from(settings: ExecutorSettings, detector: DetectorSettings) -> Limits:
    return Limits(settings.max_contracts_per_order, settings.max_contracts_per_signal, detector.min_edge_money,
                  detector.min_edge_per_contract, detector.delayed_extra_edge, detector.fills_per_leg)


def kalshi_fetcher(rest: KalshiRest) -> Fetcher:
    """Kalshi's available cash, `GET /portfolio/balance` (a KalshiRest), parsed by `arb preflight`'s parser:
    `balance_dollars` (fixed-point dollars), else the older `balance` in cents (docs.kalshi.com
    python-sdk/models/GetBalanceResponse: "Member's available balance in cents. This represents the amount
    available for trading.")."""
    from venues.kalshi.rest import kalshi_balance

    async def read() -> int:
        return kalshi_balance(await rest.get_balance())
    return read


def poly_fetcher(rest: PolymarketRest, signature_type: int) -> Fetcher:
    """Polymarket's pUSD collateral, `GET /balance-allowance?asset_type=COLLATERAL` (a PolymarketRest), parsed by
    `arb preflight`'s parser (`balance`: an integer string of 1e-6 pUSD, py_clob_client_v2 / rs-clob-client)."""
    from venues.polymarket.rest import poly_balance

    async def read() -> int:
        return poly_balance(await rest.get_balance_allowance(signature_type))
    return read


def _fetchers(closers: list[object]) -> dict[str, Fetcher]:
    """Balance readers over the venue REST clients build() made (in `closers`)."""
    from venues.kalshi.rest import KalshiRest
    from venues.polymarket.rest import PolymarketRest

    out: dict[str, Fetcher] = {}
    for c in closers:
        if isinstance(c, KalshiRest):
            out["KALSHI"] = kalshi_fetcher(c)
        elif isinstance(c, PolymarketRest):
            from executor.polymarket_transport import wallet_from_settings
            from venues.polymarket.settings import PolymarketSettings

            wallet = wallet_from_settings(load(PolymarketSettings))  # build() made the client from this wallet
            if wallet is not None:
                out["POLYMARKET"] = poly_fetcher(c, wallet.signature_type)
    return out


def hold_life_s(settings: ExecutorSettings) -> float:
    """How long after its admission a signal's orders can still take money at a venue (s), generously: its legs
    and completion before a deadline of a few seconds, the unwind ladder, a pending (delayed) leg followed up,
    the lookups of an answer that may mean executed, each call up to the HTTP timeout."""
    ms = (settings.pending_timeout_ms + settings.unwind_steps * settings.unwind_ttl_ms + settings.lookup_grace_ms
          + 4 * settings.http_timeout_ms)
    return ms / 1000 + 30.0


def attach(service: ExecutorService, closers: list[object], kafka: KafkaSettings, settings: ExecutorSettings, *, paper: bool) -> Admission:
    """Give a built service (executor/run.py build) its admission checks, reusing the markets and ticks readers
    build() started. Paper mode has no venue balance: the limits apply, the balance check does not. The balances
    and the order rate are split by the `signals` partitions the service owns (`service.workers`)."""
    from executor.paper import LatestTicks

    markets = next((c for c in closers if isinstance(c, MarketsCache)), None)
    if markets is None:
        markets = MarketsCache(kafka).start()
        closers.append(markets)
    ticks = next((c for c in closers if isinstance(c, LatestTicks)), None)

    def live_tick(market: str) -> int | None:
        tick = ticks.ticks.get(market) if ticks is not None else None
        return tick.tick_size if tick is not None and tick.tick_size else None

    n_partitions = partitions("signals", kafka)

    def owned() -> tuple[int, int]:  # read from the event loop; the poll thread adds and removes workers (len() is atomic)
        return len(service.workers), n_partitions

    balances = None
    if not paper:
        max_age = max(60.0, 5.0 * settings.balance_refresh_s)
        # Recent spending counts while another executor's signal admitted on a figure read before it may still draw.
        balances = Balances(_fetchers(closers), refresh_s=settings.balance_refresh_s, max_age_s=max_age, owned=owned,
                            spent_window_s=max_age + hold_life_s(settings))
    admission = Admission(limits_from(settings, load(DetectorSettings)), markets.get, live_tick=live_tick if ticks is not None else None,
                          balances=balances, orders=OrderRate(settings.max_orders_per_s, owned))
    service.admission = admission
    closers.insert(0, admission)  # its balance timer stops before the REST clients it reads with close
    return admission
