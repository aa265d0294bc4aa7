"""Discovery reads every fee source the venues publish (issue 29 items 4 and 5).

Kalshi: the series' `fee_type`/`fee_multiplier`, an event's `fee_type_override`/`fee_multiplier_override`
(null = cleared: the series' own value), `GET /series/fee_changes` (upcoming changes) and a market's
`fee_waiver_expiration_time` (docs api-reference/events/get-events.md, get-event-fee-changes.md,
exchange/get-series-fee-changes.md, market/get-markets.md; openapi 3.28.0).

Polymarket: each market's fee curve from the CLOB, `GET /clob-markets/{condition_id}` -> `fd: {r, e, to}`, as
the official client reads it (py-clob-client-v2 `ClobClient.get_clob_market_info`); served here by a small
aiohttp server in the documented shape (docs.polymarket.com/api-reference/markets/get-clob-market-info).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from producers.discovery import aliases as alias_mod
from producers.discovery import gamma_source, kalshi_source
from producers.discovery.clob_info import clob_fee_params
from producers.discovery.exceptions import UnknownFee
from producers.discovery.gamma_source import GammaDiscovery
from producers.discovery.kalshi_source import KalshiDiscovery
from producers.discovery.model import Rejected, VenueGame
from tests.conftest import FIXTURES

ALIASES = alias_mod.load()
NOW = 1795960800 * 1_000_000  # 2026-11-29 09:00 New York
HORIZON_S = 600.0
EVENT = "KXNFLGAME-26NOV29BUFKC"
SERIES = {"ticker": "KXNFLGAME", "category": "Sports", "fee_type": "quadratic", "fee_multiplier": 1}


def iso(offset_s: float) -> str:
    return dt.datetime.fromtimestamp(NOW / 1e6 + offset_s, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def kalshi_markets(**extra: Any) -> list[dict[str, Any]]:
    return [{"ticker": f"{EVENT}-{code}", "event_ticker": EVENT, "yes_sub_title": name, "status": "active",
             "price_ranges": [{"start": "0.0000", "end": "1.0000", "step": "0.0100"}], **extra}
            for code, name in (("BUF", "Buffalo"), ("KC", "Kansas City"))]


class FakeKalshi:
    """The read endpoints KalshiDiscovery calls, in the documented response shapes."""

    def __init__(self, series: dict[str, Any], event: dict[str, Any] | None, markets: list[dict[str, Any]],
                 changes: list[dict[str, Any]] | None = None) -> None:
        self.series, self.event, self.markets, self.changes = series, event, markets, changes or []
        self.calls: list[str] = []

    async def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        self.calls.append(path)
        if path == "/series":
            return {"series": [self.series]}
        if path == "/series/fee_changes":
            return {"series_fee_change_arr": self.changes}
        raise AssertionError(path)

    async def paged(self, path: str, key: str, params: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        self.calls.append(path)
        assert params["series_ticker"] == self.series["ticker"]
        items = {"/markets": self.markets, "/events": [self.event] if self.event else []}[path]
        for item in items:
            yield item


async def kalshi_game(series: dict[str, Any] = SERIES, event: dict[str, Any] | None = None, markets: list[dict[str, Any]] | None = None,
                      changes: list[dict[str, Any]] | None = None) -> VenueGame | Rejected:
    event = {"event_ticker": EVENT, "series_ticker": series["ticker"], "title": "Buffalo at Kansas City"} if event is None else event
    rest = FakeKalshi(series, event, markets or kalshi_markets(), changes)
    (game,) = await KalshiDiscovery(rest, ALIASES, fee_horizon_s=HORIZON_S, clock=lambda: NOW).fetch()
    assert "/series/fee_changes" in rest.calls and "/events" in rest.calls
    return game


async def kalshi_fees(series: dict[str, Any] = SERIES, event: dict[str, Any] | None = None, markets: list[dict[str, Any]] | None = None,
                      changes: list[dict[str, Any]] | None = None) -> dict[str, int]:
    """Multiplier (ppm) of each Kalshi book of the discovered game."""
    game = await kalshi_game(series, event, markets, changes)
    assert isinstance(game, VenueGame), game
    return {b.market: b.fee["multiplier_ppm"] for b in game.books}


# --- Kalshi (item 4) -------------------------------------------------------------------------------


async def test_an_event_fee_override_wins_over_the_series() -> None:
    ev = {"event_ticker": EVENT, "series_ticker": "KXNFLGAME", "fee_type_override": "quadratic", "fee_multiplier_override": 2}
    assert await kalshi_fees(event=ev) == {f"{EVENT}-BUF": 2_000_000, f"{EVENT}-KC": 2_000_000}


async def test_a_cleared_override_falls_back_to_the_series_own_multiplier() -> None:
    ev = {"event_ticker": EVENT, "series_ticker": "KXNFLGAME", "fee_type_override": None, "fee_multiplier_override": None}
    assert set((await kalshi_fees({**SERIES, "fee_multiplier": 0.5}, ev)).values()) == {500_000}
    fee = kalshi_source.fee_params({**SERIES, "fee_multiplier": 0.5}, ev)
    assert isinstance(fee, dict) and fee["multiplier_ppm"] == 500_000  # not 1.0


async def test_an_override_to_an_unsupported_fee_type_refuses_the_event() -> None:
    ev = {"event_ticker": EVENT, "series_ticker": "KXNFLGAME", "fee_type_override": "flat", "fee_multiplier_override": 1}
    r = await kalshi_game(event=ev)
    assert isinstance(r, Rejected) and "flat" in r.reason


async def test_a_series_without_fee_fields_is_refused_not_defaulted() -> None:
    r = await kalshi_game({k: v for k, v in SERIES.items() if k != "fee_multiplier"})
    assert isinstance(r, Rejected) and "fee_multiplier" in r.reason


async def test_an_event_missing_from_the_events_listing_is_refused() -> None:
    r = await kalshi_game(event={})
    assert isinstance(r, Rejected) and "fee override is unknown" in r.reason


@pytest.mark.parametrize(("expires_in_s", "multiplier"), [
    (86_400, 0),  # waived for a day: no trade fee
    (HORIZON_S / 2, 1_000_000),  # ends before the pairing is surely refreshed: priced as if it had ended
    (-60, 1_000_000),  # expired
])
async def test_a_market_fee_waiver(expires_in_s: float, multiplier: int) -> None:
    fees = await kalshi_fees(markets=kalshi_markets(fee_waiver_expiration_time=iso(expires_in_s)))
    assert fees == {f"{EVENT}-BUF": multiplier, f"{EVENT}-KC": multiplier}


@pytest.mark.parametrize(("change", "multiplier"), [
    ({"fee_type": "quadratic", "fee_multiplier": 1.5, "scheduled_ts": iso(120)}, 1_500_000),  # a rise due soon counts now
    ({"fee_type": "quadratic", "fee_multiplier": 1.5, "scheduled_ts": iso(86_400)}, 1_000_000),  # not yet
    ({"fee_type": "quadratic", "fee_multiplier": 0.5, "scheduled_ts": iso(120)}, 1_000_000),  # a cut waits until it is in force
])
async def test_scheduled_series_fee_changes(change: dict[str, Any], multiplier: int) -> None:
    changes = [{"id": "c1", "series_ticker": "KXNFLGAME", **change}, {"id": "other", "series_ticker": "KXNBAGAME", "fee_type": "quadratic",
                                                                      "fee_multiplier": 9, "scheduled_ts": iso(60)}]
    assert set((await kalshi_fees(changes=changes)).values()) == {multiplier}


async def test_a_scheduled_change_to_an_unsupported_fee_type_refuses_the_event() -> None:
    r = await kalshi_game(changes=[{"id": "c1", "series_ticker": "KXNFLGAME", "fee_type": "flat", "fee_multiplier": 1, "scheduled_ts": iso(60)}])
    assert isinstance(r, Rejected) and "flat" in r.reason


async def test_an_event_override_is_not_changed_by_a_series_change() -> None:
    ev = {"event_ticker": EVENT, "series_ticker": "KXNFLGAME", "fee_type_override": "quadratic", "fee_multiplier_override": 0.25}
    changes = [{"id": "c1", "series_ticker": "KXNFLGAME", "fee_type": "quadratic", "fee_multiplier": 2, "scheduled_ts": iso(60)}]
    assert set((await kalshi_fees(event=ev, changes=changes)).values()) == {250_000}


# --- Polymarket (item 5) ---------------------------------------------------------------------------


def gamma_moneyline(cid: str, tokens: list[str], **market: Any) -> dict[str, Any]:
    """An NFL moneyline event in Gamma's shape, fee fields as the recorded sports_fees_v2 market but no feeSchedule."""
    m = {"conditionId": cid, "question": "Bills vs. Chiefs", "outcomes": '["Buffalo Bills", "Kansas City Chiefs"]',
         "clobTokenIds": json.dumps(tokens), "gameStartTime": "2026-11-29 18:00:00+00", "sportsMarketType": "moneyline", "active": True,
         "closed": False, "acceptingOrders": True, "orderMinSize": 5, "orderPriceMinTickSize": 0.01, "secondsDelay": 1, "negRisk": False,
         "feesEnabled": True, "feeType": "sports_fees_v2", **market}
    return {"id": cid[-4:], "slug": f"nfl-buf-kc-{cid[-4:]}", "seriesSlug": "nfl", "tags": [{"slug": "sports"}], "markets": [m]}


def clob_answer(tokens: list[str], **fd: Any) -> dict[str, Any]:
    """GET /clob-markets/{condition_id} in the documented compact shape."""
    body: dict[str, Any] = {"gst": "2026-11-29T18:00:00Z", "r": {}, "t": [{"t": t, "o": o} for t, o in zip(tokens, ("Bills", "Chiefs"), strict=True)],
                            "mos": 5, "mts": 0.01, "mbf": 1000, "tbf": 1000, "rfqe": False, "ibce": False}
    if fd:
        body["fd"] = fd
    return body


async def discover_polymarket(events: list[dict[str, Any]], clob: dict[str, Any]) -> list[VenueGame | Rejected]:
    """GammaDiscovery against a Gamma /events and a CLOB /clob-markets/{condition_id} server (404 where `clob` has no entry)."""
    async def gamma_events(request: web.Request) -> web.Response:
        return web.json_response(events if request.query.get("offset") == "0" else [])

    async def clob_market(request: web.Request) -> web.Response:
        cid = request.match_info["condition_id"]
        if cid not in clob:
            return web.json_response({"error": "market not found"}, status=404)
        if clob[cid] == "boom":
            return web.json_response({"error": "internal"}, status=500)
        return web.json_response(clob[cid])

    app = web.Application()
    app.router.add_get("/events", gamma_events)
    app.router.add_get("/clob-markets/{condition_id}", clob_market)
    async with TestServer(app) as server:
        base = str(server.make_url("")).rstrip("/")
        async with httpx.AsyncClient(base_url=base) as gamma, httpx.AsyncClient(base_url=base) as clob_http:
            return await GammaDiscovery(gamma, ALIASES, tag_id="1", market_types={"moneyline"}, clob=clob_http).fetch()


CID = "0x" + "c1" * 32
TOKENS = ["7001", "7002"]


async def test_polymarket_fee_comes_from_the_clob_when_gamma_has_no_schedule() -> None:
    (game,) = await discover_polymarket([gamma_moneyline(CID, TOKENS)], {CID: clob_answer(TOKENS, r=0.05, e=1, to=True)})
    assert isinstance(game, VenueGame), game
    assert game.books[0].fee == {"model": "POLYMARKET_POWER", "rate_ppm": 50_000, "multiplier_ppm": 1_000_000, "exponent": 1}  # not 0.03


async def test_the_clob_wins_over_gamma_and_exponents_are_read() -> None:
    ev = gamma_moneyline(CID, TOKENS, feeSchedule={"exponent": 1, "rate": 0.03, "takerOnly": True})
    (game,) = await discover_polymarket([ev], {CID: clob_answer(TOKENS, r=0.02, e=2, to=True)})
    assert isinstance(game, VenueGame) and (game.books[0].fee["rate_ppm"], game.books[0].fee["exponent"]) == (20_000, 2)


@pytest.mark.parametrize(("clob", "why"), [
    ({}, "market not found"),  # the CLOB does not know the market (404)
    ({CID: clob_answer(TOKENS)}, "no fee details"),  # an answer without fd, on a fee-enabled market
    ({CID: clob_answer(TOKENS, r=0.05, e=1.5)}, "exponent"),
    ({CID: clob_answer(["1", "2"], r=0.05, e=1)}, "differ"),  # another market's tokens
])
async def test_a_market_whose_fee_parameters_are_unknown_is_refused(clob: dict[str, Any], why: str) -> None:
    (game,) = await discover_polymarket([gamma_moneyline(CID, TOKENS)], clob)
    assert isinstance(game, Rejected) and why in game.reason, game


async def test_a_fee_free_market_needs_both_sources_to_say_so() -> None:
    (game,) = await discover_polymarket([gamma_moneyline(CID, TOKENS, feesEnabled=False)], {CID: clob_answer(TOKENS)})
    assert isinstance(game, VenueGame) and game.books[0].fee["model"] == "NONE"
    (game,) = await discover_polymarket([gamma_moneyline(CID, TOKENS)], {CID: clob_answer(TOKENS, r=0, e=1)})
    assert isinstance(game, VenueGame) and game.books[0].fee["model"] == "NONE"


async def test_a_clob_failure_makes_the_round_incomplete_rather_than_dropping_games() -> None:
    with pytest.raises(httpx.HTTPStatusError):
        await discover_polymarket([gamma_moneyline(CID, TOKENS)], {CID: "boom"})


def test_offline_parsing_refuses_a_market_without_a_fee_schedule() -> None:
    r = gamma_source.parse_event(gamma_moneyline(CID, TOKENS), ALIASES, {"moneyline"})
    assert isinstance(r, Rejected) and "fee parameters unknown" in r.reason  # no 0.03 default


def test_recorded_sports_fees_v2_market_and_the_documented_clob_answer() -> None:
    m = json.loads((FIXTURES / "polymarket" / "gamma_market_fee_sports.json").read_text())
    assert m["feeType"] == "sports_fees_v2"
    assert gamma_source.gamma_fee_params(m)["rate_ppm"] == 50_000
    doc = {"gst": "2023-11-07T05:31:56Z", "r": {}, "t": [{"t": "71321045679252212594626385532706912750332728571942532289631379312455583992563", "o": "Yes"}],
           "mos": 5, "mts": 0.01, "mbf": 0, "tbf": 0, "rfqe": True, "itode": True, "ibce": True, "fd": {"r": 0.02, "e": 2, "to": True}, "oas": 123}
    fee = clob_fee_params(doc, "0xdoc", [doc["t"][0]["t"]])
    assert fee == {"model": "POLYMARKET_POWER", "rate_ppm": 20_000, "multiplier_ppm": 1_000_000, "exponent": 2}
    broken = copy.deepcopy(doc)
    del broken["t"]
    with pytest.raises(UnknownFee):
        clob_fee_params(broken, "0xdoc", [])


def test_the_retired_default_rate_setting_is_accepted_and_ignored() -> None:
    from cli.settings_index import all_settings
    from core.config import load
    from producers.discovery.settings import DiscoverySettings

    ds = load(DiscoverySettings, env={"ARB_DISCOVER_POLY_DEFAULT_FEE_RATE": "0.03"})
    assert ds.poly_default_fee_rate is None and ds.fee_horizon_s == 600.0
    assert "ARB_DISCOVER_POLY_DEFAULT_FEE_RATE" not in {d.env for d in all_settings()}
