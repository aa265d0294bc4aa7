"""How a venue resolved a market, read from its own payloads (producers/discovery/resolution.py), and the
lookups that ask the venues (kalshi_source / gamma_source `fetch_resolutions`).

Polymarket: the recorded Gamma moneyline market tests/resources/polymarket/gamma_market_sports_market_money_line.json
(NautilusTrader test data, see PROVENANCE.md): closed, `umaResolutionStatus: "resolved"`, outcomePrices ["1", "0"].
Kalshi: no recorded finalized market was found in public test data (only hand-made ones); the market objects
below follow the documented schema, KD api-reference/market/get-market.md (openapi 3.5.0): `status` enum
initialized/inactive/active/closed/determined/disputed/amended/finalized, `result` "yes"/"no"/"",
`settlement_value_dollars` (4-decimal string, "only filled after determination"), `settlement_ts` (date-time).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from core import codec
from producers.discovery import gamma_source, kalshi_source
from producers.discovery.resolution import Resolution, gamma_resolutions, kalshi_resolution, parse_time_us, settlement_record

FIX = Path(__file__).resolve().parents[1] / "resources"
GAMMA = json.loads((FIX / "polymarket" / "gamma_market_sports_market_money_line.json").read_text())
TOKENS = json.loads(GAMMA["clobTokenIds"])
CLOSED_US = parse_time_us("2026-04-05T19:37:33Z")

# Documented Kalshi market shape (KD get-market.md), fields that matter here.
KALSHI: dict[str, Any] = {"ticker": "KXNFLGAME-26NOV29BUFKC-BUF", "event_ticker": "KXNFLGAME-26NOV29BUFKC", "market_type": "binary",
                          "status": "finalized", "result": "yes", "settlement_value_dollars": "1.0000",
                          "settlement_ts": "2026-11-30T01:12:00Z", "settlement_timer_seconds": 1800, "expiration_value": ""}


def test_recorded_gamma_market_resolves_each_token() -> None:
    res = gamma_resolutions(GAMMA)
    assert [(r.market, r.payout) for r in res] == [(TOKENS[0], 10_000), (TOKENS[1], 0)]  # outcome i <-> token i
    assert {r.book for r in res} == {GAMMA["conditionId"]} and {r.venue for r in res} == {"POLYMARKET"}
    assert all(r.resolved_ts == CLOSED_US for r in res)  # closedTime "2026-04-05 19:37:33+00"
    assert "umaResolutionStatus=resolved" in res[0].source and '["1", "0"]' in res[0].source


@pytest.mark.parametrize("patch", [{"umaResolutionStatus": "proposed"}, {"umaResolutionStatus": "disputed"}, {"closed": False},
                                   {"umaResolutionStatus": None}])
def test_gamma_market_not_final_yet(patch: dict[str, Any]) -> None:
    assert gamma_resolutions({**GAMMA, **patch}) == []


def test_gamma_fifty_fifty_and_v2_tokens_and_uma_end_date() -> None:
    v2 = {**GAMMA, "outcomePrices": '["0.5", "0.5"]', "version": "v2", "positionIds": ["11", "22"], "closedTime": None}
    res = gamma_resolutions(v2)
    assert [(r.market, r.payout) for r in res] == [("11", 5000), ("22", 5000)]
    assert res[0].resolved_ts == CLOSED_US  # umaEndDate "2026-04-05T19:37:33Z" when closedTime is missing


@pytest.mark.parametrize("prices", ['["1", "1"]', '["0", "0"]', '["1.5", "-0.5"]', '["0.33333", "0.66667"]', '["1"]'])
def test_gamma_payouts_that_cannot_be_trusted_are_refused(prices: str) -> None:
    with pytest.raises(ValueError):
        gamma_resolutions({**GAMMA, "outcomePrices": prices})


@pytest.mark.parametrize(("patch", "payout"), [({}, 10_000), ({"result": "no", "settlement_value_dollars": "0.0000"}, 0),
                                               ({"status": "settled"}, 10_000),  # GET /markets' filter word for the same state
                                               ({"result": "", "settlement_value_dollars": "0.5000"}, 5000),
                                               ({"settlement_value_dollars": None}, 10_000),  # result alone
                                               ({"settlement_value_dollars": None, "settlement_value": 100}, 10_000)])  # deprecated cents
def test_kalshi_finalized_market(patch: dict[str, Any], payout: int) -> None:
    res = kalshi_resolution({**KALSHI, **patch})
    assert res is not None and (res.venue, res.market, res.book, res.payout) == ("KALSHI", KALSHI["ticker"], KALSHI["ticker"], payout)
    assert res.resolved_ts == parse_time_us("2026-11-30T01:12:00Z")


@pytest.mark.parametrize("status", ["active", "closed", "determined", "disputed", "amended", "inactive", ""])
def test_kalshi_market_not_final_yet(status: str) -> None:
    assert kalshi_resolution({**KALSHI, "status": status}) is None  # determined: can still be disputed or amended


@pytest.mark.parametrize("patch", [{"result": "yes", "settlement_value_dollars": "0.0000"}, {"result": "no", "settlement_value_dollars": "1.0000"},
                                   {"result": "", "settlement_value_dollars": None}, {"settlement_value_dollars": "1.5000"},
                                   {"settlement_value_dollars": "0.12345"}])
def test_kalshi_contradictory_or_unreadable_payload_is_refused(patch: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        kalshi_resolution({**KALSHI, **patch})


def test_settlement_record_encodes_and_falls_back_to_first_seen() -> None:
    res = Resolution("KALSHI", "T", "T", 10_000, "status=finalized", None)
    rec = settlement_record(res, "nfl-20261129-buf-kc", seen_us=111, now_us=222)
    assert rec["resolved_ts"] == 111 and rec["published_ts"] == 222
    assert codec.decode(codec.encode("Settlement", rec), "Settlement") == rec


class FakeKalshiRest:
    def __init__(self, markets: list[dict[str, Any]]) -> None:
        self.markets = markets
        self.calls: list[dict[str, Any]] = []

    async def paged(self, path: str, key: str, params: dict[str, Any]):  # type: ignore[no-untyped-def]
        self.calls.append({"path": path, **params})
        wanted = set(params["tickers"].split(","))
        for m in self.markets:
            if m["ticker"] in wanted:
                yield m


async def test_kalshi_lookup_asks_by_tickers_without_status_and_batches() -> None:
    tickers = [f"KXNFLGAME-26NOV29BUFKC-T{i:03d}" for i in range(120)]
    markets = [{**KALSHI, "ticker": t, "status": "finalized" if i % 2 else "active"} for i, t in enumerate(tickers)]
    markets[1]["settlement_value_dollars"] = "0.0000"  # contradicts result "yes": a problem, not a Resolution
    rest = FakeKalshiRest(markets)
    found, problems = await kalshi_source.fetch_resolutions(rest, tickers)
    assert len(rest.calls) == 3 and all("status" not in c and c["path"] == "/markets" for c in rest.calls)  # any status; 50 per request
    assert len(found) == 59 and len(problems) == 1 and tickers[1] in problems[0]


async def test_gamma_lookup_asks_for_closed_markets_by_condition_id() -> None:
    seen: list[httpx.URL] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        # Gamma leaves closed markets out unless closed=true is asked for (PD list-markets.md: `closed` default false)
        closed = request.url.params.get("closed") == "true"
        asked = request.url.params.get_list("condition_ids")
        return httpx.Response(200, json=[GAMMA] if closed and GAMMA["conditionId"] in asked else [])

    async with httpx.AsyncClient(base_url="http://gamma.test", transport=httpx.MockTransport(handler)) as client:
        found, problems = await gamma_source.fetch_resolutions(client, [GAMMA["conditionId"], "0xother"])
    assert [(r.market, r.payout) for r in found] == [(TOKENS[0], 10_000), (TOKENS[1], 0)] and problems == []
    assert len(seen) == 1 and seen[0].path == "/markets"
