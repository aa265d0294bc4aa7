"""Acceptance tests of the Kalshi simulator, driven by plain httpx / websockets clients.

Signing is implemented here, independently of venues/kalshi/auth.py, so a shared bug can't hide.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest
import websockets
import websockets.exceptions
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from simulators.runner import Simulator
from simulators.settings import SimSettings

pytestmark = pytest.mark.integration
KEY_ID = "test-key-1"
TIMEOUT = 5.0


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def sign_headers(key: rsa.RSAPrivateKey, method: str, path: str, key_id: str = KEY_ID) -> dict[str, str]:
    ts = str(int(time.time() * 1000))
    msg = (ts + method + path.split("?")[0]).encode()
    sig = key.sign(msg, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256())
    return {"KALSHI-ACCESS-KEY": key_id, "KALSHI-ACCESS-TIMESTAMP": ts, "KALSHI-ACCESS-SIGNATURE": base64.b64encode(sig).decode()}


def settings(tmp_path: Path, key: rsa.RSAPrivateKey, **kw: Any) -> SimSettings:
    pem = tmp_path / "kalshi_pub.pem"
    pem.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    base: dict[str, Any] = {"games": 3, "updates_per_s": 0.0, "arb_rate_per_min": 0.0, "kalshi_key_id": KEY_ID,
                            "kalshi_public_key": pem, "kalshi_tier": "unlimited"}
    base.update(kw)
    return SimSettings(**base)


class Client:
    """A minimal signed Kalshi client for tests."""

    def __init__(self, sim: Simulator, key: rsa.RSAPrivateKey) -> None:
        self.sim, self.key = sim, key
        self.http = httpx.AsyncClient(timeout=TIMEOUT)
        self.admin = httpx.AsyncClient(base_url=sim.admin_url, timeout=TIMEOUT)

    async def req(self, method: str, path: str, body: Any = None, signed: bool = True, **params: Any) -> httpx.Response:
        full = "/trade-api/v2" + path
        headers = sign_headers(self.key, method, full) if signed else {}
        base = self.sim.kalshi_url.removesuffix("/trade-api/v2")
        return await self.http.request(method, base + full, json=body, params=params or None, headers=headers)

    async def order(self, ticker: str, side: str, count: str, price: str, tif: str = "immediate_or_cancel", **extra: Any) -> httpx.Response:
        body = {"ticker": ticker, "side": side, "count": count, "price": price, "time_in_force": tif,
                "self_trade_prevention_type": "taker_at_cross", **extra}
        return await self.req("POST", "/portfolio/events/orders", body)

    async def set_book(self, ticker: str, bids: list[list[str]], asks: list[list[str]]) -> None:
        r = await self.admin.post("/book", json={"venue": "kalshi", "book_id": ticker, "bids": bids, "asks": asks})
        assert r.status_code == 200, r.text

    def ws(self, *, key: rsa.RSAPrivateKey | None = None) -> Any:
        return websockets.connect(self.sim.kalshi_ws_url, additional_headers=sign_headers(key or self.key, "GET", "/trade-api/ws/v2"))

    async def close(self) -> None:
        await self.http.aclose()
        await self.admin.aclose()


@pytest.fixture
async def sim(tmp_path: Path, key: rsa.RSAPrivateKey) -> AsyncIterator[Simulator]:
    async with Simulator(settings(tmp_path, key)) as s:
        yield s


@pytest.fixture
async def client(sim: Simulator, key: rsa.RSAPrivateKey) -> AsyncIterator[Client]:
    c = Client(sim, key)
    yield c
    await c.close()


def first_ticker(sim: Simulator) -> str:
    return sorted(sim.world.kalshi_books)[0]


async def recv(ws: Any) -> dict[str, Any]:
    msg: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
    return msg


async def recv_until(ws: Any, pred: Any) -> dict[str, Any]:
    async with asyncio.timeout(TIMEOUT):
        while True:
            m = await recv(ws)
            if pred(m):
                return m


# --- auth --------------------------------------------------------------------------------------------


async def test_bad_signature_is_401_on_rest_and_ws(sim: Simulator, client: Client) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ok = await client.req("GET", "/portfolio/balance")
    assert ok.status_code == 200 and ok.json()["balance_dollars"] == "10000.0000"
    bad = client.http
    url = sim.kalshi_url + "/portfolio/balance"
    assert (await bad.get(url, headers=sign_headers(other, "GET", "/trade-api/v2/portfolio/balance"))).status_code == 401
    assert (await bad.get(url)).status_code == 401  # unsigned private endpoint
    h = sign_headers(client.key, "GET", "/trade-api/v2/portfolio/positions")  # signed for another path
    assert (await bad.get(url, headers=h)).status_code == 401
    assert (await bad.get(sim.kalshi_url + "/markets")).status_code == 200  # market data is public
    with pytest.raises(websockets.exceptions.InvalidStatus) as exc:
        async with client.ws(key=other):
            pass
    assert exc.value.response.status_code == 401
    with pytest.raises(websockets.exceptions.InvalidStatus):
        async with websockets.connect(sim.kalshi_ws_url):
            pass


# --- WS protocol -------------------------------------------------------------------------------------


async def test_ws_error_codes(sim: Simulator, client: Client) -> None:
    t = first_ticker(sim)
    async with client.ws() as ws:
        await ws.send("{not json")
        assert (await recv(ws))["msg"]["code"] == 1
        await ws.send(json.dumps({"id": 2, "cmd": "subscribe_all", "params": {}}))
        m = await recv(ws)
        assert m["id"] == 2 and m["type"] == "error" and m["msg"]["code"] == 5
        cases: list[tuple[dict[str, Any], int]] = [
            ({"cmd": "subscribe"}, 2),
            ({"cmd": "subscribe", "params": {"channels": []}}, 3),
            ({"cmd": "subscribe", "params": {"channels": ["nope"], "market_tickers": [t]}}, 8),
            ({"cmd": "subscribe", "params": {"channels": ["orderbook_delta"]}}, 14),
            ({"cmd": "subscribe", "params": {"channels": ["orderbook_delta"], "market_tickers": ["NOPE-1"]}}, 16),
            ({"cmd": "unsubscribe", "params": {}}, 4),
            ({"cmd": "unsubscribe", "params": {"sids": [99]}}, 7),
            ({"cmd": "update_subscription", "params": {"sids": [1, 2], "action": "add_markets"}}, 12),
        ]
        for i, (cmd, code) in enumerate(cases, start=10):
            await ws.send(json.dumps({"id": i, **cmd}))
            m = await recv(ws)
            assert (m["id"], m["type"], m["msg"]["code"]) == (i, "error", code), (cmd, m)
        await ws.send(json.dumps({"id": 30, "cmd": "subscribe", "params": {"channels": ["ticker"]}}))
        assert (await recv(ws))["type"] == "subscribed"
        await ws.send(json.dumps({"id": 31, "cmd": "subscribe", "params": {"channels": ["ticker"]}}))
        assert (await recv(ws))["msg"]["code"] == 6
        await ws.send(json.dumps({"id": 32, "cmd": "update_subscription", "params": {"sid": 1}}))
        assert (await recv(ws))["msg"]["code"] == 15
        await ws.send(json.dumps({"id": 33, "cmd": "update_subscription", "params": {"sid": 1, "action": "rename"}}))
        assert (await recv(ws))["msg"]["code"] == 13


async def test_subscribe_snapshot_then_deltas_with_seq(sim: Simulator, client: Client) -> None:
    t = first_ticker(sim)
    await client.set_book(t, bids=[["0.4000", "10.00"]], asks=[])  # NO side empty: omitted
    async with client.ws() as ws, client.ws() as ws_yes:
        await ws.send(json.dumps({"id": 1, "cmd": "subscribe", "params": {"channels": ["orderbook_delta", "trade"], "market_tickers": [t]}}))
        subs = [await recv(ws) for _ in range(3)]
        acks = [m for m in subs if m["type"] == "subscribed"]
        assert [(m["id"], m["msg"]["channel"]) for m in acks] == [(1, "orderbook_delta"), (1, "trade")]
        assert len({m["msg"]["sid"] for m in acks}) == 2
        snap = next(m for m in subs if m["type"] == "orderbook_snapshot")
        ob_sid = acks[0]["msg"]["sid"]
        assert snap["sid"] == ob_sid and snap["seq"] == 1
        assert snap["msg"]["yes_dollars_fp"] == [["0.4000", "10.00"]] and "no_dollars_fp" not in snap["msg"]
        await ws_yes.send(json.dumps({"id": 1, "cmd": "subscribe", "params": {"channels": ["orderbook_delta"], "market_tickers": [t],
                                                                           "use_yes_price": True}}))
        await recv_until(ws_yes, lambda m: m["type"] == "orderbook_snapshot")
        # a resting ask at 0.55 (YES) shows as a NO bid at 0.45, or 0.55 with use_yes_price
        r = await client.order(t, "ask", "7.00", "0.5500", tif="good_till_canceled", client_order_id="rest-1")
        assert r.status_code == 201, r.text
        d = await recv_until(ws, lambda m: m["type"] == "orderbook_delta")
        assert (d["seq"], d["msg"]["side"], d["msg"]["price_dollars"], d["msg"]["delta_fp"]) == (2, "no", "0.4500", "7.00")
        assert isinstance(d["msg"]["ts_ms"], int)
        d2 = await recv_until(ws_yes, lambda m: m["type"] == "orderbook_delta")
        assert (d2["msg"]["side"], d2["msg"]["price_dollars"]) == ("no", "0.5500")
        # a crossing bid takes 3: negative delta, then a trade message (sid, no seq)
        r = await client.order(t, "bid", "3.00", "0.5500")
        assert r.status_code == 201 and r.json()["fill_count"] == "3.00"
        d = await recv_until(ws, lambda m: m["type"] == "orderbook_delta")
        assert (d["seq"], d["msg"]["delta_fp"]) == (3, "-3.00")
        tr = await recv_until(ws, lambda m: m["type"] == "trade")
        assert tr["msg"]["yes_price_dollars"] == "0.5500" and tr["msg"]["count_fp"] == "3.00" and tr["msg"]["taker_side"] == "yes"
        assert "seq" not in tr


async def test_update_subscription_and_get_snapshot(sim: Simulator, client: Client) -> None:
    t1, t2 = sorted(sim.world.kalshi_books)[:2]
    async with client.ws() as ws:
        await ws.send(json.dumps({"id": 1, "cmd": "subscribe", "params": {"channels": ["orderbook_delta"], "market_tickers": [t1]}}))
        sid = (await recv(ws))["msg"]["sid"]
        assert (await recv(ws))["seq"] == 1
        await ws.send(json.dumps({"id": 2, "cmd": "update_subscription", "params": {"sids": [sid], "market_tickers": [t2], "action": "add_markets"}}))
        ok = await recv(ws)
        assert (ok["type"], ok["id"], ok["sid"], ok["seq"], ok["msg"]["market_tickers"]) == ("ok", 2, sid, 2, sorted([t1, t2]))
        snap = await recv(ws)
        assert (snap["type"], snap["seq"], snap["msg"]["market_ticker"]) == ("orderbook_snapshot", 3, t2)
        await ws.send(json.dumps({"id": 3, "cmd": "update_subscription", "params": {"sid": sid, "market_tickers": [t1], "action": "get_snapshot"}}))
        ok = await recv(ws)
        snap = await recv(ws)
        assert (ok["type"], ok["seq"]) == ("ok", 4) and (snap["type"], snap["seq"], snap["msg"]["market_ticker"]) == ("orderbook_snapshot", 5, t1)
        await ws.send(json.dumps({"id": 4, "cmd": "update_subscription", "params": {"sid": sid, "market_tickers": [t1], "action": "delete_markets"}}))
        ok = await recv(ws)
        assert ok["msg"]["market_tickers"] == [t2] and ok["seq"] == 6
        await ws.send(json.dumps({"id": 5, "cmd": "unsubscribe", "params": {"sids": [sid]}}))
        m = await recv(ws)
        assert (m["type"], m["sid"], m["seq"]) == ("unsubscribed", sid, 7)


async def test_seq_skip_fault_is_visible(sim: Simulator, client: Client) -> None:
    t = first_ticker(sim)
    async with client.ws() as ws:
        await ws.send(json.dumps({"id": 1, "cmd": "subscribe", "params": {"channels": ["orderbook_delta"], "market_tickers": [t]}}))
        await recv(ws)
        snap = await recv(ws)
        r = await client.admin.post("/faults/kalshi", json={"seq_skip": 1})
        assert r.status_code == 200 and r.json()["seq_skip"] == 1
        await client.order(t, "bid", "1.00", "0.0100", tif="good_till_canceled")
        await client.order(t, "bid", "1.00", "0.0200", tif="good_till_canceled")
        d1 = await recv_until(ws, lambda m: m["type"] == "orderbook_delta")
        d2 = await recv_until(ws, lambda m: m["type"] == "orderbook_delta")
        assert d1["seq"] == snap["seq"] + 2  # the gap a client must detect
        assert d2["seq"] == d1["seq"] + 1


async def test_terminal_error_ends_subscription_and_disconnect(sim: Simulator, client: Client) -> None:
    t = first_ticker(sim)
    async with client.ws() as ws:
        await ws.send(json.dumps({"id": 1, "cmd": "subscribe", "params": {"channels": ["orderbook_delta"], "market_tickers": [t]}}))
        sid = (await recv(ws))["msg"]["sid"]
        await recv(ws)
        r = await client.admin.post("/faults/kalshi/ws_error", json={"code": 10})
        assert r.json()["sent"] == 1
        err = await recv(ws)
        assert (err["type"], err["sid"], err["msg"]["code"]) == ("error", sid, 10)
        await ws.send(json.dumps({"id": 2, "cmd": "unsubscribe", "params": {"sids": [sid]}}))
        assert (await recv(ws))["msg"]["code"] == 7  # the subscription is gone
        await ws.send(json.dumps({"id": 3, "cmd": "subscribe", "params": {"channels": ["orderbook_delta"], "market_tickers": [t]}}))
        assert (await recv(ws))["type"] == "subscribed"
        assert (await client.admin.post("/faults/kalshi/disconnect")).json()["dropped"] == 1
        with pytest.raises(websockets.exceptions.ConnectionClosed):
            async with asyncio.timeout(TIMEOUT):
                while True:
                    await ws.recv()


async def test_ping_frames_carry_heartbeat(tmp_path: Path, key: rsa.RSAPrivateKey) -> None:
    async with Simulator(settings(tmp_path, key, kalshi_ping_interval_s=0.1)) as sim:
        async with aiohttp.ClientSession() as session, session.ws_connect(
                sim.kalshi_ws_url, headers=sign_headers(key, "GET", "/trade-api/ws/v2"), autoping=False) as ws:
            msg = await ws.receive(timeout=TIMEOUT)
            assert msg.type == aiohttp.WSMsgType.PING and msg.data == b"heartbeat"
            await ws.pong(msg.data)


# --- REST orders -------------------------------------------------------------------------------------


async def test_ioc_against_thin_book_fills_partially_and_cancels_rest(sim: Simulator, client: Client) -> None:
    t = first_ticker(sim)
    await client.set_book(t, bids=[["0.3000", "50.00"]], asks=[["0.4500", "10.00"], ["0.4600", "5.00"], ["0.5000", "100.00"]])
    r = await client.order(t, "bid", "40.00", "0.4600", client_order_id="ioc-1")
    assert r.status_code == 201
    body = r.json()
    assert body["fill_count"] == "15.00" and body["remaining_count"] == "0.00" and body["client_order_id"] == "ioc-1"
    assert body["average_fill_price"] == "0.453333"  # (10 x 0.45 + 5 x 0.46) / 15
    assert "status" not in body and "type" not in body  # V2 answers are lightweight
    book = (await client.admin.get("/book", params={"venue": "kalshi", "book_id": t})).json()
    assert book["asks"] == [[5000, 10000]] and book["bids"] == [[3000, 5000]]  # nothing of the IOC rests
    order = (await client.req("GET", f"/portfolio/orders/{body['order_id']}")).json()["order"]
    assert (order["status"], order["fill_count_fp"], order["remaining_count_fp"]) == ("canceled", "15.00", "0.00")
    log = (await client.admin.get("/orders", params={"venue": "kalshi"})).json()["orders"]
    rec = next(o for o in log if o["order_id"] == body["order_id"])
    assert [(f["price"], f["size"]) for f in rec["fills"]] == [(4500, 1000), (4600, 500)] and rec["status"] == "canceled"
    pos = (await client.req("GET", "/portfolio/positions")).json()["market_positions"]
    assert pos[0]["ticker"] == t and pos[0]["position_fp"] == "15.00"
    # FOK for more than the book holds: nothing
    r = await client.order(t, "bid", "500.00", "0.5000", tif="fill_or_kill")
    assert r.status_code == 201 and r.json()["fill_count"] == "0.00"


async def test_duplicate_client_order_id_409_only_while_open(sim: Simulator, client: Client) -> None:
    t = first_ticker(sim)
    await client.set_book(t, bids=[], asks=[["0.6000", "100.00"]])
    r1 = await client.order(t, "bid", "5.00", "0.2000", tif="good_till_canceled", client_order_id="dup-1")
    assert r1.status_code == 201
    r2 = await client.order(t, "bid", "5.00", "0.2000", tif="good_till_canceled", client_order_id="dup-1")
    assert r2.status_code == 409 and {"code", "message"} <= set(r2.json())
    cancel = await client.req("DELETE", f"/portfolio/events/orders/{r1.json()['order_id']}")
    assert cancel.status_code == 200 and cancel.json()["reduced_by"] == "5.00"
    r3 = await client.order(t, "bid", "5.00", "0.2000", tif="good_till_canceled", client_order_id="dup-1")
    assert r3.status_code == 201  # the first is no longer open
    # a re-sent IOC executes twice: the venue doesn't stop it, the ground-truth log shows both
    a = await client.order(t, "bid", "2.00", "0.6000", client_order_id="ioc-twice")
    b = await client.order(t, "bid", "2.00", "0.6000", client_order_id="ioc-twice")
    assert a.status_code == b.status_code == 201 and a.json()["fill_count"] == b.json()["fill_count"] == "2.00"
    log = (await client.admin.get("/orders", params={"venue": "kalshi"})).json()["orders"]
    assert [(o["kind"], o["http_status"]) for o in log if o["client_order_id"] == "dup-1"] == [
        ("create", 201), ("create", 409), ("cancel", 200), ("create", 201)]
    assert sum(o["filled"] for o in log if o["client_order_id"] == "ioc-twice") == 400


async def test_duplicate_mode_always(tmp_path: Path, key: rsa.RSAPrivateKey) -> None:
    async with Simulator(settings(tmp_path, key, kalshi_duplicate_coid="always")) as sim:
        c = Client(sim, key)
        t = first_ticker(sim)
        await c.set_book(t, bids=[], asks=[["0.6000", "100.00"]])
        assert (await c.order(t, "bid", "2.00", "0.6000", client_order_id="x")).status_code == 201
        assert (await c.order(t, "bid", "2.00", "0.6000", client_order_id="x")).status_code == 409
        await c.close()


async def test_order_validation_and_legacy_endpoint(sim: Simulator, client: Client) -> None:
    t = first_ticker(sim)
    r = await client.order(t, "bid", "1.00", "0.5000", expiration_time=int(time.time()) + 60)
    assert r.status_code == 400 and "expiration_time" in r.json()["message"]
    assert (await client.order(t, "bid", "1.00", "0.5000", tif="good_till_canceled", expiration_time=int(time.time()) + 60)).status_code == 201
    assert (await client.order(t, "buy", "1.00", "0.5000")).status_code == 400
    assert (await client.order(t, "bid", "1.00", "0.50001")).status_code == 400
    assert (await client.order(t, "bid", "1.00", "1.0000")).status_code == 400
    assert (await client.order("NOPE-1", "bid", "1.00", "0.5000")).status_code == 404
    assert (await client.order(t, "bid", "1.00", "0.5000", client_order_id="bad id!")).status_code == 400
    assert (await client.order(t, "bid", "100000.00", "0.9900")).status_code == 400  # insufficient balance
    r = await client.req("POST", "/portfolio/orders", {"ticker": t, "side": "yes", "action": "buy", "count": 1, "yes_price": 50, "type": "limit"})
    assert r.status_code == 400 and "V2" in r.json()["message"]
    base = sim.kalshi_url.removesuffix("/trade-api/v2")
    raw = await client.http.post(base + "/trade-api/v2/portfolio/events/orders", content=b"{oops",
                                 headers=sign_headers(client.key, "POST", "/trade-api/v2/portfolio/events/orders"))
    assert raw.status_code == 400
    log = (await client.admin.get("/orders", params={"venue": "kalshi"})).json()["orders"]
    assert [o["http_status"] for o in log] == [400, 201, 400, 400, 400, 404, 400, 400, 400, 400]


async def test_batch_create_items_fail_individually(sim: Simulator, client: Client) -> None:
    t = first_ticker(sim)
    body = {"orders": [
        {"ticker": t, "side": "bid", "count": "1.00", "price": "0.1000", "time_in_force": "good_till_canceled",
         "self_trade_prevention_type": "taker_at_cross", "client_order_id": "b1"},
        {"ticker": t, "side": "bid", "count": "1.00", "price": "0.1000", "time_in_force": "immediate_or_cancel",
         "self_trade_prevention_type": "taker_at_cross", "client_order_id": "b2", "expiration_time": 5},
    ]}
    r = await client.req("POST", "/portfolio/events/orders/batched", body)
    assert r.status_code == 201
    items = r.json()["orders"]
    assert items[0]["error"] is None and items[0]["client_order_id"] == "b1"
    assert items[1]["error"]["code"] == "invalid_parameters"
    listed = (await client.req("GET", "/portfolio/orders", ticker=t, status="resting")).json()["orders"]
    assert [o["client_order_id"] for o in listed] == ["b1"]
    assert (await client.req("GET", "/portfolio/orders", ticker=t, min_ts=int(time.time()) + 3600)).json()["orders"] == []


async def test_http_faults_and_rate_limit(tmp_path: Path, key: rsa.RSAPrivateKey) -> None:
    async with Simulator(settings(tmp_path, key, kalshi_tier="basic")) as sim:
        c = Client(sim, key)
        await c.admin.post("/faults/kalshi", json={"next_429": 1, "next_5xx": 1})
        r = await c.req("GET", "/portfolio/balance")
        assert r.status_code == 429 and "retry-after" not in r.headers and r.json() == {"error": "too many requests"}
        assert (await c.req("GET", "/portfolio/balance")).status_code == 503
        assert (await c.req("GET", "/portfolio/balance")).status_code == 200
        # Basic: write bucket of 100 tokens, 10 per call -> the 11th immediate order is refused
        t = first_ticker(sim)
        codes = [(await c.order(t, "bid", "1.00", "0.0100", tif="good_till_canceled")).status_code for _ in range(12)]
        assert codes[:10] == [201] * 10 and codes[10:] == [429, 429]
        log = (await c.admin.get("/orders")).json()["orders"]
        assert [o["http_status"] for o in log][-2:] == [429, 429]  # refused order requests are in the ground truth
        await c.close()


async def test_discovery_paging_and_mve_filter(sim: Simulator, client: Client) -> None:
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, "mve_filter": "exclude"}
        if cursor:
            params["cursor"] = cursor
        page = (await client.req("GET", "/markets", signed=False, **params)).json()
        seen += [m["ticker"] for m in page["markets"]]
        cursor = page["cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(sim.world.kalshi_books)
    only = (await client.req("GET", "/markets", signed=False, mve_filter="only")).json()["markets"]
    assert only and all("mve_collection_ticker" in m for m in only)
    game = next(iter(sim.world.games.values()))
    ev = (await client.req("GET", "/events", signed=False, series_ticker=game.kalshi_series, with_nested_markets="true")).json()
    assert any(e["event_ticker"] == game.kalshi_event and {m["ticker"] for m in e["markets"]} == set(game.kalshi_markets.values())
               for e in ev["events"])
    book = (await client.req("GET", f"/markets/{first_ticker(sim)}/orderbook", signed=False)).json()["orderbook_fp"]
    assert book["yes_dollars"] == sorted(book["yes_dollars"]) and book["no_dollars"] == sorted(book["no_dollars"])


async def test_ticker_channel_and_silence_fault(sim: Simulator, client: Client) -> None:
    t = first_ticker(sim)
    await client.set_book(t, bids=[["0.4000", "10.00"]], asks=[["0.6000", "10.00"]])
    async with client.ws() as ws:
        await ws.send(json.dumps({"id": 1, "cmd": "subscribe", "params": {"channels": ["ticker"], "market_tickers": [t],
                                                                       "send_initial_snapshot": True}}))
        assert (await recv(ws))["type"] == "subscribed"
        first = await recv(ws)
        assert first["type"] == "ticker" and (first["msg"]["yes_bid_dollars"], first["msg"]["yes_ask_dollars"]) == ("0.4000", "0.6000")
        await client.order(t, "bid", "1.00", "0.4500", tif="good_till_canceled")
        m = await recv_until(ws, lambda m: m["type"] == "ticker")
        assert m["msg"]["yes_bid_dollars"] == "0.4500" and "seq" not in m
        # silence: the socket stays open but delivers nothing
        await client.admin.post("/faults/kalshi", json={"silence": True})
        await client.order(t, "bid", "1.00", "0.4600", tif="good_till_canceled")
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(ws.recv(), 0.3)
        await client.admin.post("/faults/kalshi", json={"silence": False})
        await client.order(t, "bid", "1.00", "0.4700", tif="good_till_canceled")
        m = await recv_until(ws, lambda m: m["type"] == "ticker")
        assert m["msg"]["yes_bid_dollars"] == "0.4700"


async def test_latency_fault_delays_rest(sim: Simulator, client: Client) -> None:
    await client.admin.post("/faults/kalshi", json={"latency_ms": 200})
    t0 = time.monotonic()
    assert (await client.req("GET", "/portfolio/balance")).status_code == 200
    assert time.monotonic() - t0 >= 0.19
    await client.admin.delete("/faults/kalshi")
    t0 = time.monotonic()
    await client.req("GET", "/portfolio/balance")
    assert time.monotonic() - t0 < 0.19
