"""Assemble the executor from settings: venue clients, breakers, control reader, group risk state, risk gate."""

from __future__ import annotations

import asyncio
import logging
import signal as signals
import socket
from typing import Protocol, runtime_checkable

from core import metrics
from core.config import load
from core.control import ControlState, control_record, publish
from core.settings import KafkaSettings
from core.topics import partitions
from core.units import now_us
from executor.breaker import CircuitBreaker
from executor.group_risk import GroupRisk
from executor.kalshi_transport import KalshiTransport
from executor.risk import RiskGate
from executor.service import ExecutorService
from executor.settings import ExecutorSettings
from executor.settlement import Settler
from executor.venue_client import RetryingVenueClient, VenueClient
from schemas.records import BookRef, Signal
from venues.kalshi.rest import KalshiRest, tier_buckets
from venues.kalshi.settings import KalshiSettings

log = logging.getLogger(__name__)


@runtime_checkable
class AsyncClosable(Protocol):
    async def aclose(self) -> None: ...


@runtime_checkable
class Stoppable(Protocol):
    def stop(self) -> None: ...


def _publish_breaker(kafka: KafkaSettings, breaker: CircuitBreaker) -> None:
    log.warning("circuit breaker %s is %s", breaker.venue, breaker.state, extra={"venue": breaker.venue})
    metrics.BREAKER_STATE.labels(breaker.venue).set(metrics.BREAKER_LEVEL.get(breaker.state, 2))
    if breaker.state == "open":
        metrics.BREAKER_TRIPS.labels(breaker.venue).inc()
    try:
        publish(kafka, control_record(f"breaker:{breaker.venue}", "BREAKER", breaker.state != "closed",
                                      reason=f"breaker {breaker.state}", source="executor", value=breaker.snapshot()), timeout_s=2.0)
    except Exception as exc:  # state still enforced locally; publishing is for operators
        log.warning("could not publish breaker state: %s", exc)


def _polymarket_client(kafka: KafkaSettings, settings: ExecutorSettings, closers: list[object]) -> RetryingVenueClient | None:
    """The live Polymarket client when credentials are configured (ARB_POLY_API_KEY and a private key), else None.
    The wallet (maker and signer per signature type; the EOA for POLY_ADDRESS) comes from
    executor.polymarket_transport.wallet_from_settings, which refuses (ValueError) a wallet the venue would refuse."""
    from core.markets_cache import MarketsCache
    from executor.paper import LatestTicks
    from executor.polymarket_transport import PolymarketTransport, wallet_from_settings
    from venues.polymarket.auth import ApiCreds
    from venues.polymarket.rest import PolymarketRest
    from venues.polymarket.settings import PolymarketSettings

    ps = load(PolymarketSettings)
    try:
        wallet = wallet_from_settings(ps)
    except ValueError as exc:  # a setting the venue would refuse (the message names it): `arb` says one line, exit 2
        from core.config import ConfigError

        raise ConfigError(str(exc)) from None
    if wallet is None:
        return None
    rest = PolymarketRest(ps.clob_url, wallet.address, ApiCreds(ps.api_key, ps.api_secret, ps.passphrase), timeout_s=settings.http_timeout_ms / 1000)
    markets = MarketsCache(kafka).start()
    ticks = LatestTicks(kafka).start()  # the live tick of each token (the feed updates a Tick's tick_size on tick_size_change)
    closers += [rest, markets, ticks]

    def book_of(ref: str) -> BookRef | None:
        """The Polymarket book of a condition id, or of one of its token ids (recovered intents know only the token)."""
        for pairing in list(markets.pairings.values()):
            for book in pairing.books:
                if book.venue == "POLYMARKET" and (book.market == ref or any(i.market == ref for i in book.instruments)):
                    return book
        return None

    def live_tick(token: str) -> int | None:
        """tick_size of the token's latest Tick; None before the first one is read (0 = unknown, too)."""
        tick = ticks.ticks.get(token)
        return tick.tick_size if tick is not None and tick.venue == "POLYMARKET" and tick.tick_size else None

    breaker = CircuitBreaker("POLYMARKET", settings.breaker_threshold, settings.breaker_cooldown_ms / 1000)
    return RetryingVenueClient(PolymarketTransport(rest, wallet, book_of, live_tick=live_tick), breaker,
                               lookup_grace_s=settings.lookup_grace_ms / 1000,
                               send_timeout_s=settings.http_timeout_ms / 1000)


def build(kafka: KafkaSettings, settings: ExecutorSettings, *, paper: bool = False,
          kalshi: KalshiSettings | None = None, extra_clients: dict[str, VenueClient] | None = None) -> tuple[ExecutorService, list[object]]:
    """The service plus the resources to close after it stops."""
    breakers: dict[str, CircuitBreaker] = {}
    clients: dict[str, VenueClient] = dict(extra_clients or {})
    closers: list[object] = []
    kalshi = kalshi or load(KalshiSettings)
    if paper:
        # Paper mode never builds a live client: every venue is the fill model over the latest ticks.
        from core.markets_cache import MarketsCache
        from executor.paper import LatestTicks, PaperTransport

        ticks = LatestTicks(kafka).start()
        markets = MarketsCache(kafka).start()
        closers += [ticks, markets]
        for venue in ("KALSHI", "POLYMARKET"):
            breaker = CircuitBreaker(venue, settings.breaker_threshold, settings.breaker_cooldown_ms / 1000)
            clients[venue] = RetryingVenueClient(PaperTransport(venue, ticks, markets, settings.paper_latency_ms), breaker,
                                                 lookup_grace_s=settings.lookup_grace_ms / 1000,
                                                 send_timeout_s=settings.paper_latency_ms / 1000)
    elif "KALSHI" not in clients and kalshi.key_id:
        read_b, write_b = tier_buckets(kalshi.tier)
        rest = KalshiRest(kalshi.rest_url, kalshi.key_id, kalshi.load_private_key(), timeout_s=settings.http_timeout_ms / 1000,
                          read_bucket=read_b, write_bucket=write_b)
        closers.append(rest)
        breaker = CircuitBreaker("KALSHI", settings.breaker_threshold, settings.breaker_cooldown_ms / 1000)
        breaker.listeners.append(lambda b: _publish_breaker(kafka, b))
        breakers["KALSHI"] = breaker
        clients["KALSHI"] = RetryingVenueClient(KalshiTransport(rest), breaker, lookup_grace_s=settings.lookup_grace_ms / 1000,
                               send_timeout_s=settings.http_timeout_ms / 1000)
    if not paper and "POLYMARKET" not in clients:
        poly = _polymarket_client(kafka, settings, closers)
        if poly is not None:
            breakers["POLYMARKET"] = poly.breaker
            poly.breaker.listeners.append(lambda b: _publish_breaker(kafka, b))
            clients["POLYMARKET"] = poly
    for venue, client in clients.items():
        if isinstance(client, RetryingVenueClient):
            breakers.setdefault(venue, client.breaker)
    control = ControlState(kafka).start()
    closers.append(control)
    risk = _group_risk(kafka, settings, paper, closers)
    gate = RiskGate(settings, breakers, control, now_us, risk=risk, partitions=partitions("signals", kafka))

    def check(signal: Signal) -> str | None:
        missing = sorted({leg.venue for leg in signal.legs} - clients.keys())
        if missing:
            return f"no client configured for {', '.join(missing)}"
        return gate.check(signal)

    service = ExecutorService(
        kafka, clients, gate=check, settler=Settler(unwind_steps=settings.unwind_steps, max_unwind_loss=settings.unwind_max_loss, unwind_ttl_us=settings.unwind_ttl_ms * 1000,
                                                    complete_first=settings.complete_first),
        paper=paper, recovery_window_us=settings.recovery_window_ms * 1000, pending_timeout_us=settings.pending_timeout_ms * 1000,
        dedup_horizon_us=settings.dedup_horizon_s * 1_000_000,
        sequential=settings.leg_mode == "sequential", on_outcome=gate.on_outcome,
        instance_id=settings.instance_id.replace("{hostname}", socket.gethostname()) or None,
    )
    service.control = control
    service.on_recovered = gate.on_recovered
    return service, closers


def _group_risk(kafka: KafkaSettings, settings: ExecutorSettings, paper: bool, closers: list[object]) -> GroupRisk:
    """The group's risk state (executor/group_risk.py), loaded before the executor consumes any signal: build()
    waits up to ARB_EXEC_RISK_LOAD_TIMEOUT_S for it (like the control reader, in a thread before the event loop
    runs); a state still loading, or a reader that failed, makes the gate reject every signal with the reason."""
    from core.markets_cache import MarketsCache

    markets = MarketsCache(kafka).start()  # the pairings: what a game's holdings are sure to pay
    risk = GroupRisk(kafka, settings.day_timezone, pairings=lambda: markets.pairings, paper=paper,
                     lookback_s=settings.risk_lookback_h * 3600)
    closers += [markets, risk]
    risk.start(wait_s=settings.risk_load_timeout_s)
    if not risk.wait_loaded(0):
        log.error("risk state not loaded after %d s (%s): signals are rejected until it is", settings.risk_load_timeout_s, risk.error)
    return risk


async def run_forever(service: ExecutorService, closers: list[object]) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signals.SIGINT, signals.SIGTERM):
        loop.add_signal_handler(sig, service.stop)
    try:
        await service.run()
    finally:
        for c in closers:
            if isinstance(c, AsyncClosable):  # (a runtime-checkable Protocol: what hasattr(c, "aclose") says)
                await c.aclose()
            elif isinstance(c, Stoppable):
                c.stop()
