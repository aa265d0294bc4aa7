"""The simulators produce every ambiguous venue answer of design.md "Ambiguous venue answers", over 127.0.0.1.

Each fault is set through the admin API (as a chaos run would) and each test shows both sides: what really happened
at the venue (the ground-truth order log, balances) and what the client got. Kalshi requests are signed here and
Polymarket orders built with the official py_clob_client_v2, independently of venues/*/auth.py.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from py_clob_client_v2.client import ClobClient
from py_clob_client_v2.clob_types import CreateOrderOptions, OrderArgsV2
from py_clob_client_v2.order_builder.builder import OrderBuilder
from py_clob_client_v2.order_utils.model.order_data_v2 import order_to_json_v2
from py_clob_client_v2.signer import Signer

from core.config import Secret
from simulators.runner import Simulator
from simulators.settings import SimSettings

pytestmark = pytest.mark.integration
KEY_ID = "ambiguous-key"
POLY_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"  # a well-known throwaway test key
ADDRESS = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8"
API_KEY = "11111111-2222-4333-8444-555555555555"
SECRET = base64.urlsafe_b64encode(b"k" * 32).decode()
PASSPHRASE = "test-passphrase"
ORDERS = "/trade-api/v2/portfolio/events/orders"


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def settings(tmp_path: Path, key: rsa.RSAPrivateKey, **kw: Any) -> SimSettings:
    pem = tmp_path / "kalshi_pub.pem"
    pem.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    base: dict[str, Any] = {"games": 2, "updates_per_s": 0.0, "arb_rate_per_min": 0.0, "kalshi_key_id": KEY_ID, "kalshi_public_key": pem,
                            "kalshi_tier": "unlimited", "poly_address": ADDRESS, "poly_api_key": API_KEY, "poly_secret": Secret(SECRET),
                            "poly_passphrase": Secret(PASSPHRASE)}
    return SimSettings(**(base | kw))


@pytest.fixture
async def sim(tmp_path: Path, key: rsa.RSAPrivateKey) -> AsyncIterator[Simulator]:
    async with Simulator(settings(tmp_path, key)) as s:
        yield s


@pytest.fixture
async def vsim(tmp_path: Path, key: rsa.RSAPrivateKey) -> AsyncIterator[Simulator]:
    """A simulator on a virtual clock that only moves when pinned (POST /clock)."""
    async with Simulator(settings(tmp_path, key, clock="virtual", autostart=False)) as s:
        yield s


# --- clients -------------------------------------------------------------------------------------------------------


async def admin(sim: Simulator, method: str, path: str, body: Any = None, **params: Any) -> Any:
    async with httpx.AsyncClient(timeout=5) as c:
        r = await c.request(method, sim.admin_url + path, json=body, params=params or None)
    assert r.status_code == 200, r.text
    return r.json()


async def set_faults(sim: Simulator, venue: str, **values: Any) -> None:
    await admin(sim, "POST", f"/faults/{venue}", values)


async def truth(sim: Simulator, venue: str) -> list[dict[str, Any]]:
    """The ground-truth order log of a venue, as a checker reads it."""
    orders: list[dict[str, Any]] = (await admin(sim, "GET", "/orders", venue=venue))["orders"]
    return orders


async def balance(sim: Simulator, venue: str, account: str) -> int:
    accounts = await admin(sim, "GET", "/accounts", venue=venue)
    value: int = accounts[venue][account]["balance"]
    return value


def kalshi_headers(key: rsa.RSAPrivateKey, method: str, path: str, ts_ms: int | None = None) -> dict[str, str]:
    ts = str(int(time.time() * 1000) if ts_ms is None else ts_ms)
    sig = key.sign((ts + method + path).encode(), padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256())
    return {"KALSHI-ACCESS-KEY": KEY_ID, "KALSHI-ACCESS-TIMESTAMP": ts, "KALSHI-ACCESS-SIGNATURE": base64.b64encode(sig).decode()}


async def kalshi(sim: Simulator, key: rsa.RSAPrivateKey, method: str, path: str, body: Any = None, *, timeout: float = 5,
                 ts_ms: int | None = None) -> httpx.Response:
    base = sim.kalshi_url.removesuffix("/trade-api/v2")
    async with httpx.AsyncClient(timeout=timeout) as c:
        return await c.request(method, base + path, json=body, headers=kalshi_headers(key, method, path.split("?")[0], ts_ms))


def ioc(ticker: str, count: str = "2.00", price: str = "0.5000", **extra: Any) -> dict[str, Any]:
    return {"ticker": ticker, "side": "bid", "count": count, "price": price, "time_in_force": "immediate_or_cancel",
            "self_trade_prevention_type": "taker_at_cross", **extra}


async def kalshi_book(sim: Simulator) -> str:
    """A Kalshi market with 10 YES contracts offered at 0.50 and nothing else."""
    ticker = sorted(sim.world.kalshi_books)[0]
    await admin(sim, "POST", "/book", {"venue": "kalshi", "book_id": ticker, "bids": [], "asks": [["0.5000", "10.00"]]})
    return ticker


def l2(method: str, path: str, body: bytes, ts: int | None = None) -> dict[str, str]:
    stamp = str(int(time.time()) if ts is None else ts)
    sig = base64.urlsafe_b64encode(hmac.new(base64.urlsafe_b64decode(SECRET), (stamp + method + path).encode() + body, hashlib.sha256).digest())
    return {"POLY_ADDRESS": ADDRESS, "POLY_SIGNATURE": sig.decode(), "POLY_TIMESTAMP": stamp, "POLY_API_KEY": API_KEY, "POLY_PASSPHRASE": PASSPHRASE}


def poly_market(sim: Simulator) -> Any:
    return next(g for g in sim.world.games.values() if not g.draw_possible).poly_markets[0]


def tick_text(tick: int) -> str:
    return {1000: "0.1", 100: "0.01", 50: "0.005", 25: "0.0025", 10: "0.001", 1: "0.0001"}[tick]


def signed_order(pm: Any, price: float = 0.5, size: float = 10) -> bytes:
    """A FAK BUY of token 0, built and signed by the official client."""
    ob = OrderBuilder(Signer(POLY_KEY, 137))
    order = ob.build_order(OrderArgsV2(token_id=pm.token_ids[0], price=price, size=size, side="BUY"),
                           CreateOrderOptions(tick_size=tick_text(pm.tick), neg_risk=False))
    return json.dumps(order_to_json_v2(order, API_KEY, "FAK"), separators=(",", ":")).encode()


async def poly_post(sim: Simulator, body: bytes, *, timeout: float = 5, ts: int | None = None) -> httpx.Response:
    async with httpx.AsyncClient(timeout=timeout) as c:
        return await c.post(sim.poly_clob_url + "/order", content=body, headers=l2("POST", "/order", body, ts))


async def poly_get(sim: Simulator, path: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=5) as c:
        return await c.get(sim.poly_clob_url + path, headers=l2("GET", path.split("?")[0], b""))


async def poly_book(sim: Simulator, asks: list[list[str]] | None = None) -> Any:
    """The first moneyline market with 10 token-0 shares offered at 0.50 (or `asks`) and nothing else."""
    pm = poly_market(sim)
    await admin(sim, "POST", "/book", {"venue": "polymarket", "book_id": pm.condition_id, "bids": [], "asks": asks or [["0.5000", "10.00"]]})
    return pm


async def until(pred: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


# --- accept_then_5xx -----------------------------------------------------------------------------------------------


async def test_kalshi_accept_then_5xx_executes_then_answers_500(sim: Simulator, key: rsa.RSAPrivateKey) -> None:
    ticker = await kalshi_book(sim)
    before = await balance(sim, "kalshi", KEY_ID)
    await set_faults(sim, "kalshi", next_accept_then_5xx=1)
    r = await kalshi(sim, key, "POST", ORDERS, ioc(ticker, client_order_id="k5xx-1"))
    assert r.status_code == 500 and r.json() == {"code": "internal_server_error", "message": "simulated server error", "details": ""}
    [rec] = [o for o in await truth(sim, "KALSHI") if o["client_order_id"] == "k5xx-1"]
    assert (rec["accepted"], rec["status"], rec["filled"], rec["http_status"], rec["fault"]) == (True, "executed", 200, 500, "accept_then_5xx")
    assert len(rec["fills"]) == 1 and rec["fills"][0]["price"] == 5000 and rec["fills"][0]["is_taker"]
    assert before - await balance(sim, "kalshi", KEY_ID) == 1_000_000 + rec["fees"]  # 2 x $0.50 + fee: it executed
    found = await kalshi(sim, key, "GET", f"/trade-api/v2/portfolio/orders/{rec['order_id']}")  # a lookup finds it
    assert found.status_code == 200 and found.json()["order"]["fill_count_fp"] == "2.00"
    nxt = await kalshi(sim, key, "POST", ORDERS, ioc(ticker, client_order_id="k5xx-2"))  # the counter is spent
    assert nxt.status_code == 201 and nxt.json()["fill_count"] == "2.00"


async def test_kalshi_batched_create_accept_then_5xx_marks_every_executed_order(sim: Simulator, key: rsa.RSAPrivateKey) -> None:
    ticker = await kalshi_book(sim)
    await set_faults(sim, "kalshi", accept_then_5xx=1.0)
    body = {"orders": [ioc(ticker, client_order_id="kb-1"), ioc(ticker, count="0.50", client_order_id="kb-bad")]}
    r = await kalshi(sim, key, "POST", ORDERS + "/batched", body)
    assert r.status_code == 500
    recs = {o["client_order_id"]: o for o in await truth(sim, "KALSHI")}
    assert (recs["kb-1"]["status"], recs["kb-1"]["filled"], recs["kb-1"]["fault"], recs["kb-1"]["http_status"]) == ("executed", 200, "accept_then_5xx", 500)
    assert (recs["kb-bad"]["accepted"], recs["kb-bad"]["fault"], recs["kb-bad"]["http_status"]) == (False, "", 400)  # refused: no fault


async def test_poly_accept_then_5xx_executes_then_answers_500_without_retry_after(sim: Simulator) -> None:
    pm = await poly_book(sim)
    before = await balance(sim, "polymarket", ADDRESS)
    await set_faults(sim, "polymarket", next_accept_then_5xx=1, retry_after_s=3)
    body = signed_order(pm)
    r = await poly_post(sim, body)
    assert r.status_code == 500 and r.json() == {"error": "internal error"} and "Retry-After" not in r.headers
    [rec] = [o for o in await truth(sim, "POLYMARKET") if o["accepted"]]
    assert (rec["status"], rec["filled"], rec["http_status"], rec["fault"]) == ("executed", 1000, 500, "accept_then_5xx")
    assert before - await balance(sim, "polymarket", ADDRESS) == 5_000_000 + rec["fees"]
    got = await poly_get(sim, f"/data/order/{rec['order_id']}")  # a lookup finds it
    assert got.status_code == 200 and got.json()["status"] == "ORDER_STATUS_MATCHED" and got.json()["size_matched"] == "10.00"
    again = await poly_post(sim, body)  # the same signed order again: the venue knows it
    assert again.status_code == 400 and "INVALID_ORDER_DUPLICATED" in again.text


# --- accept_then_timeout -------------------------------------------------------------------------------------------


async def test_kalshi_accept_then_timeout_executes_and_a_resent_ioc_executes_again(sim: Simulator, key: rsa.RSAPrivateKey) -> None:
    assert SimSettings().kalshi_duplicate_coid == "open"  # the venue's rule: 409 only while the first order is open
    ticker = await kalshi_book(sim)
    before = await balance(sim, "kalshi", KEY_ID)
    await set_faults(sim, "kalshi", next_accept_then_timeout=1)  # held 30 s by default; the client gives up first
    t0 = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        await kalshi(sim, key, "POST", ORDERS, ioc(ticker, client_order_id="twice"), timeout=0.5)
    assert time.monotonic() - t0 < 2
    await until(lambda: sim.world.faults.held == 0, 2)  # the hold ends when the client leaves
    [rec] = [o for o in await truth(sim, "KALSHI") if o["client_order_id"] == "twice"]
    assert (rec["accepted"], rec["status"], rec["filled"], rec["http_status"], rec["fault"]) == (True, "executed", 200, 0, "accept_then_timeout")
    # a client that re-sends the IOC (the unsafe retry) executes it again: the venue's 409 is only for open orders
    r = await kalshi(sim, key, "POST", ORDERS, ioc(ticker, client_order_id="twice"))
    assert r.status_code == 201 and r.json()["fill_count"] == "2.00"
    twice = [o for o in await truth(sim, "KALSHI") if o["client_order_id"] == "twice"]
    assert [(o["status"], o["filled"], o["http_status"]) for o in twice] == [("executed", 200, 0), ("executed", 200, 201)]
    assert before - await balance(sim, "kalshi", KEY_ID) == 2 * 1_000_000 + sum(o["fees"] for o in twice)
    listed = await kalshi(sim, key, "GET", "/trade-api/v2/portfolio/orders")
    assert sorted(o["order_id"] for o in listed.json()["orders"]) == sorted(o["order_id"] for o in twice)


async def test_kalshi_held_answer_ends_in_a_closed_connection(sim: Simulator, key: rsa.RSAPrivateKey) -> None:
    ticker = await kalshi_book(sim)
    await set_faults(sim, "kalshi", next_accept_then_timeout=1, timeout_hold_ms=200)
    t0 = time.monotonic()
    with pytest.raises(httpx.RemoteProtocolError):  # no status line at all: the connection closed unanswered
        await kalshi(sim, key, "POST", ORDERS, ioc(ticker, client_order_id="held"), timeout=5)
    assert 0.15 < time.monotonic() - t0 < 2
    [rec] = [o for o in await truth(sim, "KALSHI") if o["client_order_id"] == "held"]
    assert (rec["status"], rec["filled"], rec["http_status"], rec["fault"]) == ("executed", 200, 0, "accept_then_timeout")


async def test_poly_accept_then_timeout_executes_and_the_answer_is_lost(sim: Simulator) -> None:
    pm = await poly_book(sim)
    before = await balance(sim, "polymarket", ADDRESS)
    await set_faults(sim, "polymarket", accept_then_timeout=1.0)
    with pytest.raises(httpx.ReadTimeout):
        await poly_post(sim, signed_order(pm), timeout=0.5)
    await until(lambda: sim.world.faults.held == 0, 2)
    [rec] = [o for o in await truth(sim, "POLYMARKET") if o["accepted"]]
    assert (rec["status"], rec["filled"], rec["http_status"], rec["fault"]) == ("executed", 1000, 0, "accept_then_timeout")
    assert before - await balance(sim, "polymarket", ADDRESS) == 5_000_000 + rec["fees"]
    got = await poly_get(sim, f"/data/order/{rec['order_id']}")
    assert got.status_code == 200 and got.json()["status"] == "ORDER_STATUS_MATCHED"


async def test_held_answers_do_not_delay_shutdown(tmp_path: Path, key: rsa.RSAPrivateKey) -> None:
    sim = await Simulator(settings(tmp_path, key)).start()
    try:
        ticker, pm = await kalshi_book(sim), await poly_book(sim)
        await set_faults(sim, "kalshi", next_accept_then_timeout=1)  # 30 s holds, clients that would wait 30 s
        await set_faults(sim, "polymarket", next_accept_then_timeout=1)
        calls = [asyncio.create_task(kalshi(sim, key, "POST", ORDERS, ioc(ticker), timeout=30)),
                 asyncio.create_task(poly_post(sim, signed_order(pm), timeout=30))]
        await until(lambda: sim.world.faults.held == 2)
    finally:
        t0 = time.monotonic()
        await sim.stop()
        stopped_in = time.monotonic() - t0
    assert stopped_in < 0.9  # below aiohttp's own 1 s shutdown timeout: the holds were released, not cancelled
    for call in calls:
        with pytest.raises(httpx.TransportError):  # closed unanswered
            await call
    assert [o.fault for o in sim.world.orderlog.query() if o.accepted] == ["accept_then_timeout"] * 2


# --- lookup_lag_ms ---------------------------------------------------------------------------------------------------


async def test_kalshi_lookup_lag_hides_an_executed_order_until_the_lag_has_passed(vsim: Simulator, key: rsa.RSAPrivateKey) -> None:
    sim = vsim
    ticker = await kalshi_book(sim)
    await set_faults(sim, "kalshi", lookup_lag_ms=1500)
    r = await kalshi(sim, key, "POST", ORDERS, ioc(ticker, client_order_id="lagged"))
    assert r.status_code == 201 and r.json()["fill_count"] == "2.00"  # a normal answer
    [rec] = [o for o in await truth(sim, "KALSHI") if o["client_order_id"] == "lagged"]
    assert rec["status"] == "executed" and rec["visible_us"] == rec["received_us"] + 1_500_000
    one = f"/trade-api/v2/portfolio/orders/{rec['order_id']}"

    async def seen() -> tuple[int, list[str], list[str]]:
        got = await kalshi(sim, key, "GET", one)
        listed = (await kalshi(sim, key, "GET", "/trade-api/v2/portfolio/orders")).json()["orders"]
        fills = (await kalshi(sim, key, "GET", "/trade-api/v2/portfolio/fills")).json()["fills"]
        return got.status_code, [o["order_id"] for o in listed], [f["order_id"] for f in fills]

    assert await seen() == (404, [], [])  # as if it did not exist
    await admin(sim, "POST", "/clock", {"now_us": rec["visible_us"] - 1})
    assert await seen() == (404, [], [])
    await admin(sim, "POST", "/clock", {"now_us": rec["visible_us"]})
    assert await seen() == (200, [rec["order_id"]], [rec["order_id"]])


async def test_poly_lookup_lag_hides_an_executed_order_until_the_lag_has_passed(vsim: Simulator) -> None:
    sim = vsim
    pm = await poly_book(sim)
    await set_faults(sim, "polymarket", lookup_lag_ms=800)
    r = await poly_post(sim, signed_order(pm))
    assert r.status_code == 200 and r.json()["status"] == "matched"
    oid = r.json()["orderID"]
    [rec] = [o for o in await truth(sim, "POLYMARKET") if o["accepted"]]
    assert rec["order_id"] == oid and rec["filled"] == 1000 and rec["visible_us"] == rec["received_us"] + 800_000
    assert (await poly_get(sim, f"/data/order/{oid}")).status_code == 404
    assert (await poly_get(sim, f"/data/trades?id={oid}")).json()["data"] == []
    await admin(sim, "POST", "/clock", {"now_us": rec["visible_us"]})
    got = await poly_get(sim, f"/data/order/{oid}")
    assert got.status_code == 200 and got.json()["status"] == "ORDER_STATUS_MATCHED"
    assert [t["taker_order_id"] for t in (await poly_get(sim, f"/data/trades?id={oid}")).json()["data"]] == [oid]


# --- delay_s (Polymarket sports delay, switched through the admin API) ---------------------------------------------


async def test_poly_delay_s_switches_the_sports_delay_on_and_off(sim: Simulator) -> None:
    assert sim.settings.poly_seconds_delay == 0
    pm = await poly_book(sim, asks=[["0.5000", "100.00"]])
    await set_faults(sim, "polymarket", delay_s=0.3)
    r = await poly_post(sim, signed_order(pm))
    assert r.status_code == 200 and r.json()["status"] == "delayed"
    oid = r.json()["orderID"]
    first = (await poly_get(sim, f"/data/order/{oid}")).json()
    assert first["status"] == "ORDER_STATUS_LIVE" and first["size_matched"] == "0.00"
    rec = next(o for o in sim.world.orderlog.records if o.order_id == oid)
    assert rec.status == "delayed" and not rec.fills
    await until(lambda: rec.status != "delayed")
    got = (await poly_get(sim, f"/data/order/{oid}")).json()
    assert got["status"] == "ORDER_STATUS_MATCHED" and got["size_matched"] == "10.00"
    [logged] = [o for o in await truth(sim, "POLYMARKET") if o["order_id"] == oid]
    assert logged["status"] == "executed" and logged["filled"] == 1000 and logged["fees"] > 0 and logged["fault"] == ""
    assert [f["size"] for f in logged["fills"]] == [1000] and logged["fills"][0]["ts_us"] - logged["received_us"] >= 300_000
    await set_faults(sim, "polymarket", delay_s=0)  # off
    assert (await poly_post(sim, signed_order(pm))).json()["status"] == "matched"
    await set_faults(sim, "polymarket", delay_s=None)  # back to the world setting (0 here)
    assert (await poly_post(sim, signed_order(pm))).json()["status"] == "matched"


async def test_poly_delayed_order_whose_answer_was_a_500_still_matches_later(sim: Simulator) -> None:
    pm = await poly_book(sim)
    await set_faults(sim, "polymarket", delay_s=0.2, next_accept_then_5xx=1)
    r = await poly_post(sim, signed_order(pm))
    assert r.status_code == 500
    rec = next(o for o in sim.world.orderlog.records if o.accepted)
    assert (rec.status, rec.fault, rec.http_status) == ("delayed", "accept_then_5xx", 500)
    await until(lambda: rec.status != "delayed")
    assert rec.status == "executed" and rec.filled == 1000 and len(rec.fills) == 1
    got = (await poly_get(sim, f"/data/order/{rec.order_id}")).json()
    assert got["status"] == "ORDER_STATUS_MATCHED" and got["size_matched"] == "10.00"


async def test_poly_price_improved_buy_records_every_fill_with_its_fee(sim: Simulator) -> None:
    pm = await poly_book(sim, asks=[["0.4000", "100.00"]])
    r = (await poly_post(sim, signed_order(pm))).json()
    assert r["takingAmount"] == "12.500000"  # 5 pUSD at 0.40: 12.5 shares
    [rec] = [o for o in await truth(sim, "POLYMARKET") if o["accepted"]]
    assert rec["filled"] == 1250 == sum(f["size"] for f in rec["fills"]) and len(rec["fills"]) == len(r["tradeIDs"]) == 2
    assert rec["fees"] == sum(f["fee"] for f in rec["fills"]) and all(f["fee"] > 0 for f in rec["fills"])
    assert rec["fill_cost"] == sum(f["price"] * f["size"] for f in rec["fills"])


# --- 401: next_401 / p401 and a skewed clock -------------------------------------------------------------------------


async def test_kalshi_next_401_refuses_the_order_and_executes_nothing(sim: Simulator, key: rsa.RSAPrivateKey) -> None:
    ticker = await kalshi_book(sim)
    before = await balance(sim, "kalshi", KEY_ID)
    await set_faults(sim, "kalshi", next_401=1)
    r = await kalshi(sim, key, "POST", ORDERS, ioc(ticker, client_order_id="k401"))
    assert r.status_code == 401 and r.json() == {"code": "authentication_error", "message": "authentication failed", "details": ""}
    [rec] = [o for o in await truth(sim, "KALSHI") if o["client_order_id"] == "k401"]
    assert (rec["accepted"], rec["status"], rec["http_status"], rec["fault"], rec["fills"]) == (False, "rejected", 401, "401", [])
    assert await balance(sim, "kalshi", KEY_ID) == before and sim.world.kalshi_books[ticker].best_ask() == (5000, 1000)
    assert (await kalshi(sim, key, "GET", "/trade-api/v2/portfolio/balance")).status_code == 200  # only order requests
    assert (await kalshi(sim, key, "POST", ORDERS, ioc(ticker, client_order_id="k401"))).status_code == 201


async def test_kalshi_skewed_timestamp_is_401_and_executes_nothing(sim: Simulator, key: rsa.RSAPrivateKey) -> None:
    ticker = await kalshi_book(sim)
    stale = int(time.time() * 1000) - 45_000  # inside the signature check's 60 s, outside the venue's 30 s
    r = await kalshi(sim, key, "POST", ORDERS, ioc(ticker, client_order_id="stale"), ts_ms=stale)
    assert r.status_code == 401
    assert r.json() == {"code": "authentication_error", "message": "timestamp outside the allowed window", "details": ""}
    [rec] = [o for o in await truth(sim, "KALSHI") if o["client_order_id"] == "stale"]
    assert (rec["accepted"], rec["http_status"], rec["fault"]) == (False, 401, "clock_skew")
    assert (await kalshi(sim, key, "GET", "/trade-api/v2/portfolio/balance", ts_ms=stale)).status_code == 401
    await set_faults(sim, "kalshi", max_clock_skew_s=50)
    assert (await kalshi(sim, key, "POST", ORDERS, ioc(ticker, client_order_id="stale-ok"), ts_ms=int(time.time() * 1000) - 45_000)).status_code == 201
    await set_faults(sim, "kalshi", max_clock_skew_s=30, clock_offset_s=120)  # the venue clock two minutes ahead
    r = await kalshi(sim, key, "POST", ORDERS, ioc(ticker, client_order_id="correct-client"))
    assert r.status_code == 401 and r.json()["message"] == "timestamp outside the allowed window"
    assert [o["filled"] for o in await truth(sim, "KALSHI") if o["accepted"]] == [200]  # only "stale-ok" executed


async def test_poly_next_401_and_skewed_timestamp_refuse_the_order(sim: Simulator) -> None:
    pm = await poly_book(sim)
    before = await balance(sim, "polymarket", ADDRESS)
    await set_faults(sim, "polymarket", next_401=1)
    r = await poly_post(sim, signed_order(pm))
    assert r.status_code == 401 and r.json() == {"error": "Unauthorized/Invalid api key"}
    stale = int(time.time()) - 100
    ok = await poly_post(sim, signed_order(pm, size=5), ts=stale)  # within the default 300 s window
    assert ok.status_code == 200 and ok.json()["status"] == "matched"
    await set_faults(sim, "polymarket", max_clock_skew_s=60)
    r = await poly_post(sim, signed_order(pm, size=5), ts=int(time.time()) - 100)
    assert r.status_code == 401 and "invalid timestamp" in r.json()["error"]
    await set_faults(sim, "polymarket", max_clock_skew_s=300, clock_offset_s=-400)  # the venue clock behind
    assert (await poly_post(sim, signed_order(pm, size=5))).status_code == 401
    log = await truth(sim, "POLYMARKET")
    assert [(o["accepted"], o["http_status"], o["fault"]) for o in log] == [(False, 401, "401"), (True, 200, ""), (False, 401, "clock_skew"),
                                                                            (False, 401, "clock_skew")]
    assert before - await balance(sim, "polymarket", ADDRESS) == 2_500_000 + log[1]["fees"]  # only the 5 shares at 0.50


# --- GET /clob-markets/{condition_id} ----------------------------------------------------------------------------


async def test_clob_markets_serves_what_the_official_client_reads(sim: Simulator) -> None:
    pm = poly_market(sim)
    got = await poly_get(sim, f"/clob-markets/{pm.condition_id}")
    assert got.status_code == 200
    info = got.json()
    assert info["c"] == pm.condition_id and [t["t"] for t in info["t"]] == list(pm.token_ids) and [t["o"] for t in info["t"]] == list(pm.outcomes)
    assert info["fd"] == {"r": 0.03, "e": 1, "to": True} and info["nr"] is False and info["mts"] == pm.tick / 10_000
    draw = next(g for g in sim.world.games.values() if g.draw_possible) if any(g.draw_possible for g in sim.world.games.values()) else None
    if draw is not None:
        assert (await poly_get(sim, f"/clob-markets/{draw.poly_markets[0].condition_id}")).json()["nr"] is True
    assert (await poly_get(sim, "/clob-markets/0x" + "0" * 64)).status_code == 404

    def official() -> tuple[str, bool, float]:
        client = ClobClient(sim.poly_clob_url, 137)
        client.get_clob_market_info(pm.condition_id)
        return client.get_tick_size(pm.token_ids[1]), client.get_neg_risk(pm.token_ids[0]), client.get_fee_exponent(pm.token_ids[0])

    assert await asyncio.to_thread(official) == (tick_text(pm.tick), False, 1)
