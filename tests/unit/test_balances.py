"""Per-venue balances and the admission that uses them (issue 26): executor/balances.py, executor/admission.py."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from executor.admission import Admission
from executor.balances import Balances, insufficient
from executor.limits import Limits
from schemas.records import Outcome
from tests.factories import tick_record
from tests.unit.test_limits import CROSS, P, make

LIM = Limits(10_000, 30_000, 10_000, 50, 200, 3)


def test_insufficient_names_the_venue_what_is_needed_and_what_is_left() -> None:
    assert insufficient({"KALSHI": 5_000_000}, {"KALSHI": 10_000_000}, {}) is None
    assert insufficient({"KALSHI": 5_000_000}, {"KALSHI": 10_000_000}, {"KALSHI": 6_000_000}) == \
        "insufficient KALSHI balance: need 5.000000 USD, have 4.000000 USD"
    assert insufficient({"POLYMARKET": 1}, {"POLYMARKET": None}, {}) == "POLYMARKET balance unknown (not read yet or unreadable)"
    assert insufficient({"POLYMARKET": 1}, {}, {}) is not None  # never read: fail closed


class Venue:
    """A fake balance endpoint: the balance, and how many reads it answered."""

    def __init__(self, balance: int) -> None:
        self.balance = balance
        self.reads = 0
        self.fail: Exception | None = None

    async def __call__(self) -> int:
        self.reads += 1
        if self.fail is not None:
            raise self.fail
        return self.balance


async def test_holds_count_until_a_read_after_the_outcome() -> None:
    k = Venue(10_000_000)
    b = Balances({"KALSHI": k}, refresh_s=3600)
    await b.start()
    try:
        assert b.reserve("s1", {"KALSHI": 6_000_000}) is None
        assert b.reserve("s2", {"KALSHI": 6_000_000}) == "insufficient KALSHI balance: need 6.000000 USD, have 4.000000 USD"
        await b.refresh()  # a read racing the order: its figure may not show the fill yet, the hold stays
        assert b.in_flight() == {"KALSHI": 6_000_000}
        k.balance = 4_000_000  # the fill landed
        b.release("s1")  # the outcome: a read is asked for, and the hold goes with it
        for _ in range(100):
            if not b.in_flight():
                break
            await asyncio.sleep(0.01)
        assert b.in_flight() == {} and b.available["KALSHI"] == 4_000_000 and k.reads == 3
        assert b.reserve("s3", {"KALSHI": 4_000_000}) is None
    finally:
        await b.aclose()


async def test_a_failed_read_keeps_the_hold_and_the_last_figure_until_it_is_too_old() -> None:
    now = [0.0]
    k = Venue(10_000_000)
    b = Balances({"KALSHI": k}, refresh_s=3600, max_age_s=60, clock=lambda: now[0])
    await b.refresh()
    b.reserve("s1", {"KALSHI": 1_000_000})
    b.release("s1")
    k.fail = RuntimeError("503")
    await b.refresh()
    assert b.in_flight() == {"KALSHI": 1_000_000} and "503" in b.errors["KALSHI"]
    assert b.reserve("s2", {"KALSHI": 1_000_000}) is None
    now[0] = 61.0
    assert b.reserve("s3", {"KALSHI": 1}) == "KALSHI balance unknown (not read yet or unreadable)"


async def test_the_refresh_timer_reads_again_without_any_signal() -> None:
    k = Venue(1)
    b = Balances({"KALSHI": k}, refresh_s=0.02)
    await b.start()
    try:
        for _ in range(200):
            if k.reads >= 3:
                break
            await asyncio.sleep(0.01)
        assert k.reads >= 3
    finally:
        await b.aclose()


async def test_admission_rejects_what_the_balance_cannot_cover_and_releases_on_the_outcome() -> None:
    k, poly = Venue(100_000_000), Venue(1_000_000)  # 1 USD of pUSD: the Polymarket leg (10 at 0.50) costs ~5.08 USD
    adm = Admission(LIM, {P.game_id: P}.get, balances=Balances({"KALSHI": k, "POLYMARKET": poly}, refresh_s=3600))
    try:
        sig = make(CROSS)
        assert adm.limits(sig) is None
        got = await adm.reserve(sig)
        assert got is not None and got.startswith("insufficient POLYMARKET balance: need 5.07") and got.endswith("have 1.000000 USD")
        poly.balance = 100_000_000
        await adm.balances.refresh()  # type: ignore[union-attr]
        assert adm.limits(sig) is None and await adm.reserve(sig) is None
        assert set(adm.balances.in_flight()) == {"KALSHI", "POLYMARKET"}  # type: ignore[union-attr]
        adm.on_outcome(Outcome(signal_id=sig.signal_id, game_id=sig.game_id, state="FILLED", matched_size=1000, cost=0, fees=0,
                               locked_profit=0, paper=False, ts=1))
        await adm.balances.refresh()  # type: ignore[union-attr]
        assert adm.balances.in_flight() == {}  # type: ignore[union-attr]
    finally:
        await adm.aclose()


async def test_paper_admission_checks_limits_only() -> None:
    adm = Admission(LIM, {P.game_id: P}.get)
    sig = make(CROSS)
    assert adm.limits(sig) is None and await adm.reserve(sig) is None
    assert adm.limits(make(CROSS, cost=1)) is not None


async def test_the_venue_fetchers_read_each_venues_balance_fields() -> None:
    import httpx

    from core.config import Secret
    from executor.admission import kalshi_fetcher, poly_fetcher
    from tests.unit.test_kalshi_auth import NT_KEY_PEM
    from venues.kalshi import auth
    from venues.kalshi.rest import KalshiRest
    from venues.polymarket.auth import ApiCreds
    from venues.polymarket.rest import PolymarketRest

    seen: list[str] = []
    # Kalshi: a live answer carries both forms (venues/kalshi/rest.py `kalshi_balance`); older docs only `balance` in
    # cents (docs.kalshi.com python-sdk/models/GetBalanceResponse). Polymarket: `balance` in 1e-6 pUSD, a string.
    answers: dict[str, list[dict[str, Any]]] = {"/trade-api/v2/portfolio/balance": [{"balance": 31647, "balance_dollars": "316.4766", "portfolio_value": 0},
                                                    {"balance": 31647, "portfolio_value": 0}],
               "/balance-allowance": [{"balance": "1234567", "allowances": {}}]}

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.url.path}?{request.url.query.decode()}")
        return httpx.Response(200, json=answers[request.url.path].pop(0))

    transport = httpx.MockTransport(handler)
    kalshi = KalshiRest("http://kalshi.test/trade-api/v2", "key", auth.load_private_key(NT_KEY_PEM), transport=transport)
    poly = PolymarketRest("http://clob.test", "0x" + "11" * 20, ApiCreds("k", Secret("AAAA"), Secret("p")), transport=transport)
    try:
        assert await kalshi_fetcher(kalshi)() == 316_476_600
        assert await kalshi_fetcher(kalshi)() == 316_470_000
        assert await poly_fetcher(poly, 2)() == 1_234_567
    finally:
        await kalshi.aclose()
        await poly.aclose()
    assert seen[-1] == "/balance-allowance?asset_type=COLLATERAL&signature_type=2"


def test_attach_in_paper_mode_checks_limits_on_the_readers_build_made_and_no_balance() -> None:
    from core.markets_cache import MarketsCache
    from core.settings import KafkaSettings
    from executor.admission import attach
    from executor.paper import LatestTicks
    from executor.settings import ExecutorSettings

    class Service:
        admission: Any = None

    kafka = KafkaSettings(bootstrap="127.0.0.1:1")
    markets, ticks = MarketsCache(kafka), LatestTicks(kafka)  # never started: nothing is read here
    markets.pairings[P.game_id] = P
    closers: list[Any] = [ticks, markets]
    service = Service()
    adm = attach(service, closers, kafka, ExecutorSettings(), paper=True)
    assert service.admission is adm and adm.balances is None and closers[0] is adm and len(closers) == 3  # no reader of its own
    sig = make([("K-BUF", "YES", 4000), ("TOK-KC", "YES", 5010)])
    assert adm.limits(sig) is None
    ticks.ticks["TOK-KC"] = replace(tick_record("TOK-KC", venue="POLYMARKET"), tick_size=100)  # the feed saw a tick_size_change
    assert "off the market's tick" in (adm.limits(sig) or "")


async def test_a_failed_read_is_retried_soon_not_after_the_refresh_interval() -> None:
    # A venue answering 5xx at start-up left its balance unknown until the next 30 s refresh: every signal meanwhile
    # was rejected, also after the venue recovered (seen in `arb bench chaos --scenario venue-5xx-burst`).
    import asyncio

    from executor.balances import Balances

    answers = [RuntimeError("503"), 5_000_000]

    async def read() -> int:
        a = answers.pop(0) if len(answers) > 1 else answers[0]
        if isinstance(a, Exception):
            raise a
        return a

    b = Balances({"KALSHI": read}, refresh_s=30.0, retry_s=0.05)
    await b.start()
    assert b.current() == {"KALSHI": None}
    for _ in range(100):
        if b.current() == {"KALSHI": 5_000_000}:
            break
        await asyncio.sleep(0.01)
    await b.aclose()
    assert b.current() == {"KALSHI": 5_000_000}
