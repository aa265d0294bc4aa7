"""Acceptance tests of the Polymarket simulator, driven by plain httpx / websockets clients.

Orders are built and signed with the official py_clob_client_v2 (not our signer) and the L2 HMAC is
computed here by hand, so a bug shared with venues/polymarket/* can't hide.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import websockets
from py_clob_client_v2.clob_types import CreateOrderOptions, OrderArgsV2
from py_clob_client_v2.order_builder.builder import OrderBuilder
from py_clob_client_v2.order_utils.model.order_data_v2 import order_to_json_v2
from py_clob_client_v2.signer import Signer

from simulators.runner import Simulator
from simulators.settings import SimSettings

pytestmark = pytest.mark.integration
KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"  # a well-known throwaway test key
ADDRESS = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8"
API_KEY = "11111111-2222-4333-8444-555555555555"
SECRET = base64.urlsafe_b64encode(b"k" * 32).decode()
PASSPHRASE = "test-passphrase"


def settings(**kw: Any) -> SimSettings:
    from core.config import Secret

    base: dict[str, Any] = {"games": 2, "updates_per_s": 0.0, "arb_rate_per_min": 0.0, "poly_address": ADDRESS, "poly_api_key": API_KEY,
                            "poly_secret": Secret(SECRET), "poly_passphrase": Secret(PASSPHRASE), "poly_ws_idle_s": 3.0}
    base.update(kw)
    return SimSettings(**base)


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(settings()) as s:
        yield s


def l2(method: str, path: str, body: bytes, secret: str = SECRET) -> dict[str, str]:
    ts = str(int(time.time()))
    sig = base64.urlsafe_b64encode(hmac.new(base64.urlsafe_b64decode(secret), (ts + method + path).encode() + body, hashlib.sha256).digest())
    return {"POLY_ADDRESS": ADDRESS, "POLY_SIGNATURE": sig.decode(), "POLY_TIMESTAMP": ts, "POLY_API_KEY": API_KEY, "POLY_PASSPHRASE": PASSPHRASE}


def signed_order(token: str, side: str, price: float, size: float, tick: str, neg_risk: bool, order_type: str = "FAK") -> bytes:
    ob = OrderBuilder(Signer(KEY, 137))
    order = ob.build_order(OrderArgsV2(token_id=token, price=price, size=size, side=side), CreateOrderOptions(tick_size=tick, neg_risk=neg_risk))
    return json.dumps(order_to_json_v2(order, API_KEY, order_type), separators=(",", ":")).encode()


async def post(sim: Simulator, body: bytes, secret: str = SECRET) -> httpx.Response:
    async with httpx.AsyncClient(timeout=5) as c:
        return await c.post(sim.poly_clob_url + "/order", content=body, headers=l2("POST", "/order", body, secret))


def moneyline(sim: Simulator) -> tuple[Any, Any]:
    game = next(g for g in sim.world.games.values() if not g.draw_possible)
    return game, game.poly_markets[0]


def tick_text(tick: int) -> str:
    return {1000: "0.1", 100: "0.01", 50: "0.005", 25: "0.0025", 10: "0.001", 1: "0.0001"}[tick]


async def test_bad_hmac_is_401_and_logged(sim: Simulator) -> None:
    _, pm = moneyline(sim)
    body = signed_order(pm.token_ids[0], "BUY", 0.5, 10, tick_text(pm.tick), False)
    r = await post(sim, body, secret=base64.urlsafe_b64encode(b"x" * 32).decode())
    assert r.status_code == 401
    log = sim.world.orderlog.query(venue="POLYMARKET")
    assert log and log[-1].http_status == 401 and not log[-1].accepted


async def test_fak_against_thin_book_fills_partially_then_resend_is_duplicated(sim: Simulator) -> None:
    _, pm = moneyline(sim)
    sim.world.set_book("POLYMARKET", pm.condition_id, bids=[(4000, 1000)], asks=[(5000, 700)])  # 7 shares at 0.50
    body = signed_order(pm.token_ids[0], "BUY", 0.5, 20, tick_text(pm.tick), False)
    r = await post(sim, body)
    assert r.status_code == 200, r.text
    ans = r.json()
    assert ans["status"] == "matched" and ans["success"] is True
    assert ans["takingAmount"] == "7.000000" and ans["makingAmount"] == "3.500000"  # 7 shares for 3.50 pUSD, the rest cancelled
    assert sim.world.poly_books[pm.condition_id].best_ask() is None
    again = await post(sim, body)
    assert again.status_code == 400 and "INVALID_ORDER_DUPLICATED" in again.text
    accepted = [r for r in sim.world.orderlog.query(venue="POLYMARKET") if r.accepted]
    assert len(accepted) == 1 and accepted[0].order_id == ans["orderID"] and accepted[0].filled == 700


async def test_buy_matched_at_better_prices_gets_more_shares(sim: Simulator) -> None:
    _, pm = moneyline(sim)
    sim.world.set_book("POLYMARKET", pm.condition_id, bids=[], asks=[(4000, 10_000)])
    ans = (await post(sim, signed_order(pm.token_ids[0], "BUY", 0.5, 10, tick_text(pm.tick), False))).json()
    # 5.00 pUSD at a 0.50 limit matched at 0.40: 12.5 shares, not 10 (pitfalls.md)
    assert ans["makingAmount"] == "5.000000" and ans["takingAmount"] == "12.500000"


async def test_token_one_trades_against_the_complement_book(sim: Simulator) -> None:
    _, pm = moneyline(sim)
    sim.world.set_book("POLYMARKET", pm.condition_id, bids=[(6000, 1000)], asks=[(6500, 1000)])  # token 1 asks at 0.40
    ans = (await post(sim, signed_order(pm.token_ids[1], "BUY", 0.4, 10, tick_text(pm.tick), False))).json()
    assert ans["status"] == "matched" and ans["takingAmount"] == "10.000000" and ans["makingAmount"] == "4.000000"
    async with httpx.AsyncClient(timeout=5) as c:
        pos = (await c.get(sim.poly_clob_url + "/positions", params={"user": ADDRESS})).json()["data"]
    assert [(p["token_id"], p["size_fp"]) for p in pos] == [(pm.token_ids[1], "10.00")]


async def test_tick_min_size_and_balance_errors(sim: Simulator) -> None:
    _, pm = moneyline(sim)
    finer = {1000: 0.05, 100: 0.505, 50: 0.5025, 25: 0.50125, 10: 0.5005, 1: 0.50005}[pm.tick]
    r = await post(sim, signed_order(pm.token_ids[0], "BUY", 0.5, 1, tick_text(pm.tick), False))
    assert r.status_code == 400 and "INVALID_ORDER_MIN_SIZE" in r.text
    if pm.tick > 1:  # an order priced finer than the market's tick (signed with a finer tick config)
        r = await post(sim, signed_order(pm.token_ids[0], "BUY", finer, 10, "0.0001" if pm.tick != 1000 else "0.01", False))
        assert r.status_code == 400 and "INVALID_ORDER_MIN_TICK_SIZE" in r.text
    r = await post(sim, signed_order(pm.token_ids[0], "SELL", 0.5, 10, tick_text(pm.tick), False))
    assert r.status_code == 400 and "NOT_ENOUGH_BALANCE" in r.text  # no shares to sell


async def test_delayed_order_executes_after_seconds_delay() -> None:
    async with Simulator(settings(poly_seconds_delay=1)) as sim:
        _, pm = moneyline(sim)
        sim.world.set_book("POLYMARKET", pm.condition_id, bids=[], asks=[(5000, 1000)])
        ans = (await post(sim, signed_order(pm.token_ids[0], "BUY", 0.5, 10, tick_text(pm.tick), False))).json()
        assert ans["status"] == "delayed"
        async with httpx.AsyncClient(timeout=5) as c:
            path = f"/data/order/{ans['orderID']}"
            first = (await c.get(sim.poly_clob_url + path, headers=l2("GET", path, b""))).json()
            assert first["status"] == "ORDER_STATUS_LIVE" and first["size_matched"] == "0.00"
            deadline = time.monotonic() + 5
            while True:
                got = (await c.get(sim.poly_clob_url + path, headers=l2("GET", path, b""))).json()
                if got["status"] != "ORDER_STATUS_LIVE" or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.1)
        assert got["status"] == "ORDER_STATUS_MATCHED" and got["size_matched"] == "10.00"
        rec = next(r for r in sim.world.orderlog.query(venue="POLYMARKET") if r.accepted)
        assert rec.fills and rec.fills[0].ts_us - rec.received_us >= 1_000_000


async def test_cancel_only_mode_is_503_with_retry_after(sim: Simulator) -> None:
    _, pm = moneyline(sim)
    sim.world.faults["POLYMARKET"].update({"cancel_only": True})
    r = await post(sim, signed_order(pm.token_ids[0], "BUY", 0.5, 10, tick_text(pm.tick), False))
    assert r.status_code == 503 and int(r.headers["Retry-After"]) > 0


async def test_ws_dump_is_an_array_best_level_last_then_paired_price_changes(sim: Simulator) -> None:
    _, pm = moneyline(sim)
    sim.world.set_book("POLYMARKET", pm.condition_id, bids=[(4000, 500), (4100, 500)], asks=[(4500, 500), (4600, 500)])
    async with websockets.connect(sim.poly_ws_url) as ws:
        await ws.send(json.dumps({"type": "market", "assets_ids": list(pm.token_ids), "initial_dump": True, "level": 2}))
        dump = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert isinstance(dump, list) and {b["asset_id"] for b in dump} == set(pm.token_ids)
        b0 = next(b for b in dump if b["asset_id"] == pm.token_ids[0])
        assert b0["event_type"] == "book" and b0["bids"][-1]["price"] == "0.41" and b0["asks"][-1]["price"] == "0.45"
        b1 = next(b for b in dump if b["asset_id"] == pm.token_ids[1])
        assert b1["bids"][-1]["price"] == "0.55" and b1["asks"][-1]["price"] == "0.59"  # the complement
        await post(sim, signed_order(pm.token_ids[0], "BUY", 0.45, 5, tick_text(pm.tick), False))
        frames = []
        while not any(isinstance(f, dict) and f.get("event_type") == "price_change" for f in frames):
            frames.append(json.loads(await asyncio.wait_for(ws.recv(), 5)))
        change = next(f for f in frames if f.get("event_type") == "price_change")
        assert {c["asset_id"] for c in change["price_changes"]} == set(pm.token_ids)
        mine = next(c for c in change["price_changes"] if c["asset_id"] == pm.token_ids[0])
        assert mine["side"] == "SELL" and mine["price"] == "0.45" and mine["size"] == "0.00" and mine["best_ask"] == "0.46"
        await ws.send("PING")
        while await asyncio.wait_for(ws.recv(), 5) != "PONG":
            pass


async def test_ws_idle_client_is_dropped(sim: Simulator) -> None:
    _, pm = moneyline(sim)
    async with websockets.connect(sim.poly_ws_url) as ws:
        await ws.send(json.dumps({"type": "market", "assets_ids": [pm.token_ids[0]]}))
        with pytest.raises(websockets.ConnectionClosed):
            while True:
                await asyncio.wait_for(ws.recv(), 10)  # the sim's idle limit is 3 s here


async def test_gamma_encoding(sim: Simulator) -> None:
    async with httpx.AsyncClient(timeout=5) as c:
        events = (await c.get(sim.gamma_url + "/events", params={"active": "true", "closed": "false", "tag_id": "1"})).json()
    assert len(events) == len(sim.world.games)
    m = events[0]["markets"][0]
    assert isinstance(m["outcomes"], str) and isinstance(m["clobTokenIds"], str)
    assert len(json.loads(m["clobTokenIds"])) == 2 and m["sportsMarketType"] == "moneyline"
    assert m["gameStartTime"].endswith("+00") and "feeSchedule" in m and isinstance(m["orderMinSize"], int | float)
