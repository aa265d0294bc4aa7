"""What the executor checks by itself before a signal's INTENT (issue 26): its hard limits
(executor/limits.py) against the game's pairing and the live ticks, then, in live mode, each venue's balance
(executor/balances.py). `attach` wires it onto a built service (`arb execute`); the service calls `limits`
before the risk gate and `reserve` after it, and `on_outcome` after every committed outcome.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from core.config import load
from core.markets_cache import MarketsCache
from core.settings import KafkaSettings
from executor.balances import Balances, Fetcher
from executor.ledger import TERMINAL
from executor.limits import Limits, LiveTick, check_signal
from executor.settings import ExecutorSettings
from processors.settings import DetectorSettings


class Admission:
    def __init__(self, limits: Limits, pairing_of: Callable[[str], dict[str, Any] | None], *, live_tick: LiveTick | None = None,
                 balances: Balances | None = None) -> None:
        self.limits_ = limits
        self.pairing_of = pairing_of
        self.live_tick = live_tick
        self.balances = balances
        self._need: dict[str, dict[str, int]] = {}  # signal_id -> venue cost, between `limits` and `reserve`
        self._started: asyncio.Lock | None = None
        self._running = False

    def limits(self, signal: dict[str, Any]) -> str | None:
        checked = check_signal(signal, self.pairing_of(signal["game_id"]), self.limits_, self.live_tick)
        if checked.reason is None:
            self._need[signal["signal_id"]] = dict(checked.venue_cost)
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

    async def reserve(self, signal: dict[str, Any]) -> str | None:
        """After the risk gate: hold the signal's worst-case cost on each venue's balance, or the reason it cannot."""
        need = self._need.pop(signal["signal_id"], None)
        if self.balances is None or need is None:
            return None
        await self.start()  # normally done at the executor's start: never admitted on unknown balances
        return self.balances.reserve(signal["signal_id"], need)

    def on_outcome(self, outcome: dict[str, Any]) -> None:
        self._need.pop(outcome["signal_id"], None)
        if self.balances is not None and outcome["state"] in TERMINAL:
            self.balances.release(outcome["signal_id"])

    async def aclose(self) -> None:
        if self.balances is not None:
            await self.balances.aclose()


def limits_from(settings: ExecutorSettings, detector: DetectorSettings) -> Limits:
    return Limits(settings.max_contracts_per_order, settings.max_contracts_per_signal, detector.min_edge_money,
                  detector.min_edge_per_contract, detector.delayed_extra_edge, detector.fills_per_leg)


def kalshi_fetcher(rest: Any) -> Fetcher:
    """Kalshi's available cash, `GET /portfolio/balance` (a KalshiRest), parsed by `arb preflight`'s parser:
    `balance_dollars` (fixed-point dollars), else the older `balance` in cents (docs.kalshi.com
    python-sdk/models/GetBalanceResponse: "Member's available balance in cents. This represents the amount
    available for trading.")."""
    from cli.commands.preflight import kalshi_balance

    async def read() -> int:
        return kalshi_balance(await rest.get_balance())
    return read


def poly_fetcher(rest: Any, signature_type: int) -> Fetcher:
    """Polymarket's pUSD collateral, `GET /balance-allowance?asset_type=COLLATERAL` (a PolymarketRest), parsed by
    `arb preflight`'s parser (`balance`: an integer string of 1e-6 pUSD, py_clob_client_v2 / rs-clob-client)."""
    from cli.commands.preflight import poly_balance

    async def read() -> int:
        return poly_balance(await rest.get_balance_allowance(signature_type))
    return read


def _fetchers(closers: list[Any]) -> dict[str, Fetcher]:
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


def attach(service: Any, closers: list[Any], kafka: KafkaSettings, settings: ExecutorSettings, *, paper: bool) -> Admission:
    """Give a built service (executor/run.py build) its admission checks, reusing the markets and ticks readers
    build() started. Paper mode has no venue balance: the limits apply, the balance check does not."""
    from executor.paper import LatestTicks

    markets = next((c for c in closers if isinstance(c, MarketsCache)), None)
    if markets is None:
        markets = MarketsCache(kafka).start()
        closers.append(markets)
    ticks = next((c for c in closers if isinstance(c, LatestTicks)), None)

    def live_tick(market: str) -> int | None:
        tick = ticks.ticks.get(market) if ticks is not None else None
        return int(tick["tick_size"]) if tick and tick.get("tick_size") else None

    balances = None
    if not paper:
        balances = Balances(_fetchers(closers), refresh_s=settings.balance_refresh_s, max_age_s=max(60.0, 5.0 * settings.balance_refresh_s))
    admission = Admission(limits_from(settings, load(DetectorSettings)), markets.get, live_tick=live_tick if ticks is not None else None,
                          balances=balances)
    service.admission = admission
    closers.insert(0, admission)  # its balance timer stops before the REST clients it reads with close
    return admission
