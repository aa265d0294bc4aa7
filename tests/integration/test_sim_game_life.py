"""A simulated game's life seen through the venue endpoints a client uses at the real venues: it trades, ends
(trading stops, orders are refused, a replacement is listed), resolves and settles.

Real shapes followed (cited in simulators/lifecycle.py): Kalshi KD getting_started/market_lifecycle.md (statuses,
status filters, MARKET_INACTIVE after close), api-reference/market/get-market.md (`result`,
`settlement_value_dollars`, `settlement_ts`), api-reference/portfolio/get-settlements.md; Polymarket
tests/resources/polymarket/gamma_market_sports_market_money_line.json (a resolved Gamma market) and
ws_market_resolved_msg.json (the WS event). Where the venue's answer is not documented (an order on a closed
Polymarket market) every reading the simulator offers is run.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from py_clob_client_v2.clob_types import CreateOrderOptions, OrderArgsV2
from py_clob_client_v2.order_builder.builder import OrderBuilder
from py_clob_client_v2.order_utils.model.order_data_v2 import order_to_json_v2
from py_clob_client_v2.signer import Signer

from core.config import Secret
from simulators.catalogue import SimGame
from simulators.runner import Simulator
from simulators.settings import SimSettings

pytestmark = pytest.mark.integration
TIMEOUT = 5.0
S = 1_000_000
KEY_ID = "life-key"
POLY_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"  # a well-known throwaway test key
POLY_ADDRESS = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8"
API_KEY = "11111111-2222-4333-8444-555555555555"
SECRET = base64.urlsafe_b64encode(b"k" * 32).decode()
PASSPHRASE = "test-passphrase"


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def settings(tmp_path: Path, key: rsa.RSAPrivateKey, **kw: Any) -> SimSettings:
    pem = tmp_path / "kalshi_pub.pem"
    pem.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    base: dict[str, Any] = {
        "games": 3, "updates_per_s": 0.0, "arb_rate_per_min": 0.0, "clock": "virtual", "clock_start_us": time.time_ns() // 1000,
        "game_duration_s": 600.0, "first_game_after_s": 300.0, "game_spacing_s": 300.0, "resolve_delay_s": 60.0,
        "kalshi_settlement_timer_s": 30, "kalshi_key_id": KEY_ID, "kalshi_public_key": pem, "kalshi_tier": "unlimited",
        "poly_address": POLY_ADDRESS, "poly_api_key": API_KEY, "poly_secret": Secret(SECRET), "poly_passphrase": Secret(PASSPHRASE)}
    return SimSettings(**{**base, **kw})


class Venues:
    """Plain HTTP clients of the simulated venues (Kalshi RSA-PSS, Polymarket L2 HMAC) and the admin clock."""

    def __init__(self, sim: Simulator, key: rsa.RSAPrivateKey) -> None:
        self.sim, self.key = sim, key
        self.http = httpx.AsyncClient(timeout=TIMEOUT)

    async def kalshi(self, method: str, path: str, body: Any = None, **params: Any) -> httpx.Response:
        full = "/trade-api/v2" + path
        ts = str(int(time.time() * 1000))
        sig = self.key.sign((ts + method + full).encode(), padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256())
        headers = {"KALSHI-ACCESS-KEY": KEY_ID, "KALSHI-ACCESS-TIMESTAMP": ts, "KALSHI-ACCESS-SIGNATURE": base64.b64encode(sig).decode()}
        base = self.sim.kalshi_url.removesuffix("/trade-api/v2")
        return await self.http.request(method, base + full, json=body, params=params or None, headers=headers)

    async def kalshi_order(self, ticker: str, side: str, price: str, count: str, tif: str) -> httpx.Response:
        return await self.kalshi("POST", "/portfolio/events/orders", {"ticker": ticker, "side": side, "count": count, "price": price,
                                                                      "time_in_force": tif, "self_trade_prevention_type": "taker_at_cross"})

    async def market(self, ticker: str) -> dict[str, Any]:
        r = await self.kalshi("GET", f"/markets/{ticker}")
        assert r.status_code == 200, r.text
        return dict(r.json()["market"])

    async def gamma(self, path: str, params: Any = None) -> Any:
        r = await self.http.get(self.sim.gamma_url + path, params=params)
        assert r.status_code == 200, r.text
        return r.json()

    async def poly_order(self, token: str, price: float, tick: str, neg_risk: bool) -> httpx.Response:
        order = OrderBuilder(Signer(POLY_KEY, 137)).build_order(OrderArgsV2(token_id=token, price=price, size=10, side="BUY"),
                                                                CreateOrderOptions(tick_size=tick, neg_risk=neg_risk))
        body = json.dumps(order_to_json_v2(order, API_KEY, "GTC"), separators=(",", ":")).encode()
        ts = str(int(time.time()))
        sig = base64.urlsafe_b64encode(hmac.new(base64.urlsafe_b64decode(SECRET), (ts + "POST/order").encode() + body, hashlib.sha256).digest())
        headers = {"POLY_ADDRESS": POLY_ADDRESS, "POLY_SIGNATURE": sig.decode(), "POLY_TIMESTAMP": ts, "POLY_API_KEY": API_KEY,
                   "POLY_PASSPHRASE": PASSPHRASE}
        return await self.http.post(self.sim.poly_clob_url + "/order", content=body, headers=headers)

    async def poly_get(self, path: str) -> httpx.Response:
        ts = str(int(time.time()))
        sig = base64.urlsafe_b64encode(hmac.new(base64.urlsafe_b64decode(SECRET), (ts + "GET" + path).encode(), hashlib.sha256).digest())
        return await self.http.get(self.sim.poly_clob_url + path, headers={
            "POLY_ADDRESS": POLY_ADDRESS, "POLY_SIGNATURE": sig.decode(), "POLY_TIMESTAMP": ts, "POLY_API_KEY": API_KEY,
            "POLY_PASSPHRASE": PASSPHRASE})

    async def at(self, now_us: int) -> None:
        """Pin the sim clock and run one scenario step: the driver's hook runs the transitions due."""
        assert (await self.http.post(self.sim.admin_url + "/clock", json={"now_us": now_us})).status_code == 200
        assert (await self.http.post(self.sim.admin_url + "/step", json={"n": 1})).status_code == 200

    async def close(self) -> None:
        await self.http.aclose()


@pytest.fixture
async def venues(tmp_path: Path, key: rsa.RSAPrivateKey, request: pytest.FixtureRequest) -> AsyncIterator[Venues]:
    extra: dict[str, Any] = getattr(request, "param", {})
    async with Simulator(settings(tmp_path, key, **extra)) as sim:
        v = Venues(sim, key)
        yield v
        await v.close()


def first(v: Venues) -> SimGame:
    return min(v.sim.world.games.values(), key=lambda g: g.start_ts_us)


async def frames_until(ws: Any, done: Any) -> list[str]:
    """Every text frame up to and including the first for which `done` is true (bounded by TIMEOUT)."""
    out: list[str] = []
    async with asyncio.timeout(TIMEOUT):
        while not out or not done(out[-1]):
            out.append(str(await ws.recv()))
    return out


def iso(ts_us: int) -> str:
    return dt.datetime.fromtimestamp(ts_us / 1e6, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


async def test_kalshi_market_closes_is_determined_then_finalized_and_pays(venues: Venues) -> None:
    v = venues
    g = first(v)
    life = v.sim.world.life.lives[g.game_id]
    ticker = g.kalshi_markets[g.away]
    m = await v.market(ticker)
    assert (m["status"], m["result"]) == ("active", "") and "settlement_value_dollars" not in m
    bought = await v.kalshi_order(ticker, "bid", m["yes_ask_dollars"], "2", "immediate_or_cancel")
    assert bought.status_code == 201 and bought.json()["fill_count"] == "2.00", bought.text
    resting = await v.kalshi_order(ticker, "bid", "0.0100", "1", "good_till_canceled")
    assert resting.status_code == 201
    oid = resting.json()["order_id"]

    await v.at(life.end_us)
    m = await v.market(ticker)
    assert m["status"] == "closed" and m["close_time"] == iso(life.end_us) and m["result"] == ""
    assert (await v.kalshi("GET", f"/portfolio/orders/{oid}")).json()["order"]["status"] == "canceled"  # cancelled at the close
    refused = await v.kalshi_order(ticker, "bid", "0.5000", "1", "immediate_or_cancel")
    assert refused.status_code == 400 and refused.json()["code"] == "market_inactive"
    assert (await v.kalshi("DELETE", f"/portfolio/events/orders/{oid}")).json()["code"] == "market_inactive"
    # Status filters map as documented: open = active; closed = past close_time, not finalized; settled = finalized.
    open_ = {x["ticker"] for x in (await v.kalshi("GET", "/markets", status="open")).json()["markets"]}
    closed = {x["ticker"] for x in (await v.kalshi("GET", "/markets", status="closed")).json()["markets"]}
    assert ticker not in open_ and set(g.kalshi_markets.values()) == closed
    new = v.sim.world.games[life.replaced_by]
    assert set(new.kalshi_markets.values()) <= open_
    events = {e["event_ticker"] for e in (await v.kalshi("GET", "/events", status="open")).json()["events"]}
    assert g.kalshi_event not in events and new.kalshi_event in events

    await v.at(life.determine_us)
    m = await v.market(ticker)
    won = life.winner == g.away
    assert (m["status"], m["result"], m["settlement_value_dollars"]) == ("determined", "yes" if won else "no", "1.0000" if won else "0.0000")
    assert "settlement_ts" not in m and m["settlement_timer_seconds"] == 30
    assert (await v.kalshi("GET", "/portfolio/settlements")).json()["settlements"] == []
    balance = (await v.kalshi("GET", "/portfolio/balance")).json()["balance_dollars"]

    await v.at(life.finalize_us)
    m = await v.market(ticker)
    assert m["status"] == "finalized" and m["settlement_ts"] == iso(life.finalize_us)
    assert ticker in {x["ticker"] for x in (await v.kalshi("GET", "/markets", status="settled")).json()["markets"]}
    (st,) = (await v.kalshi("GET", "/portfolio/settlements", ticker=ticker)).json()["settlements"]
    assert st["market_result"] == m["result"] and st["yes_count_fp"] == "2.00" and st["no_count_fp"] == "0.00"
    assert st["revenue"] == (200 if won else 0) and st["value"] == (100 if won else 0) and st["settled_time"] == m["settlement_ts"]
    assert st["event_ticker"] == g.kalshi_event and set(st) >= {"yes_total_cost_dollars", "no_total_cost_dollars", "fee_cost", "exchange_index"}
    after = (await v.kalshi("GET", "/portfolio/balance")).json()["balance_dollars"]
    assert float(after) - float(balance) == pytest.approx(2.0 if won else 0.0)
    resolution = pytest.importorskip("producers.discovery.resolution")  # engineer S2's parser reads the same payload
    res = resolution.kalshi_resolution(m)
    assert res is not None and res.payout == (10_000 if won else 0)


@pytest.mark.parametrize("venues", [{"poly_closed_order": "not_ready"}, {"poly_closed_order": "no_orderbook"}], indirect=True,
                         ids=["not_ready", "no_orderbook"])
async def test_polymarket_market_stops_accepting_orders_then_resolves(venues: Venues) -> None:
    v = venues
    g = first(v)
    life = v.sim.world.life.lives[g.game_id]
    pm = g.poly_markets[0]
    tick = {100: "0.01", 50: "0.005", 25: "0.0025", 10: "0.001"}[pm.tick]
    (mk,) = await v.gamma("/markets", {"condition_ids": pm.condition_id})
    assert (mk["acceptingOrders"], mk["closed"], mk["active"]) == (True, False, True)
    async with websockets.connect(v.sim.poly_ws_url) as custom, websockets.connect(v.sim.poly_ws_url) as plain:
        for ws, flag in ((custom, True), (plain, False)):
            await ws.send(json.dumps({"type": "market", "assets_ids": list(pm.token_ids), "initial_dump": False,
                                      "custom_feature_enabled": flag}))

        await v.at(life.end_us)
        (mk,) = await v.gamma("/markets", {"condition_ids": pm.condition_id})
        assert (mk["acceptingOrders"], mk["closed"]) == (False, False)  # ended, not resolved yet
        refused = await v.poly_order(pm.token_ids[0], 0.5, tick, g.draw_possible)
        book = await v.http.get(v.sim.poly_clob_url + "/book", params={"token_id": pm.token_ids[0]})
        if v.sim.settings.poly_closed_order == "not_ready":
            assert refused.status_code == 400 and refused.json()["error"] == "the market is not yet ready to process new orders"
            assert book.status_code == 200 and book.json()["bids"] == [] and book.json()["asks"] == []
        else:
            assert refused.status_code == 400 and refused.json()["error"] == "No orderbook exists for the requested token id"
            assert book.status_code == 404
        assert v.sim.world.orderlog.records[-1].status == "rejected"

        await v.at(life.determine_us)
        cids = [p.condition_id for p in g.poly_markets]
        assert await v.gamma("/markets", [("condition_ids", c) for c in cids]) == []  # closed markets only when asked for
        resolved = await v.gamma("/markets", [("closed", "true")] + [("condition_ids", c) for c in cids])
        assert sorted(x["conditionId"] for x in resolved) == sorted(cids)
        kalshi_yes = {code: v.sim.world.kalshi_markets[t].result == "yes" for code, t in g.kalshi_markets.items()}
        for x, p in zip(sorted(resolved, key=lambda x: cids.index(x["conditionId"])), g.poly_markets, strict=True):
            assert (x["closed"], x["acceptingOrders"], x["active"], x["umaResolutionStatus"]) == (True, False, True, "resolved")
            token0_won = kalshi_yes[p.outcome_code if p.outcome_code is not None else g.away]  # the same winner at both venues
            assert json.loads(x["outcomePrices"]) == (["1", "0"] if token0_won else ["0", "1"]) and x["closedTime"].endswith("+00")
        ours = f"{g.league}-{g.away}-{g.home}-"  # the event's slug (draw leagues: the markets' slugs without their outcome)
        assert not [e for e in await v.gamma("/events", {"closed": "false"}) if e["slug"].startswith(ours)]
        assert [e["closed"] for e in await v.gamma("/events", {"closed": "true"}) if e["slug"].startswith(ours)] == [True]

        frames = await frames_until(custom, lambda f: '"market_resolved"' in f)  # after the price_changes of the close
        msg = json.loads(frames[-1])
        assert msg["event_type"] == "market_resolved" and msg["market"] == pm.condition_id
        assert msg["winning_asset_id"] in pm.token_ids and msg["assets_ids"] == list(pm.token_ids)
        assert msg["winning_outcome"] == pm.outcomes[pm.token_ids.index(msg["winning_asset_id"])]
        await plain.send("PING")  # a client without custom features gets no market_resolved before the PONG
        assert not any("market_resolved" in f for f in await frames_until(plain, lambda f: f == "PONG"))
    resolution = pytest.importorskip("producers.discovery.resolution")  # engineer S2's parser reads the same payload
    payouts = {r.market: r.payout for x in resolved for r in resolution.gamma_resolutions(x)}
    assert payouts[msg["winning_asset_id"]] == 10_000 and sum(payouts.values()) == 10_000 * len(cids)


async def test_a_delayed_polymarket_order_whose_market_closes_meanwhile_is_cancelled(venues: Venues) -> None:
    """Sports markets delay marketable orders (secondsDelay); one still waiting when the game ends never matches."""
    v = venues
    g = first(v)
    pm = g.poly_markets[0]
    tick = {100: "0.01", 50: "0.005", 25: "0.0025", 10: "0.001"}[pm.tick]
    assert (await v.http.post(v.sim.admin_url + "/faults/polymarket", json={"delay_s": 0.5})).status_code == 200
    ask = v.sim.world.poly_books[pm.condition_id].best_ask()
    assert ask is not None
    placed = await v.poly_order(pm.token_ids[0], ask[0] / 10_000, tick, g.draw_possible)
    assert placed.status_code == 200 and placed.json()["status"] == "delayed", placed.text
    await v.at(v.sim.world.life.lives[g.game_id].end_us)
    async with asyncio.timeout(TIMEOUT):
        while (order := (await v.poly_get(f"/data/order/{placed.json()['orderID']}")).json())["status"] == "ORDER_STATUS_LIVE":
            await asyncio.sleep(0.05)
    assert order["status"] == "ORDER_STATUS_CANCELED" and float(order["size_matched"]) == 0

