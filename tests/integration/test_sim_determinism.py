"""The same seed yields the same WS messages (virtual clock, stepped scenario); another seed does not."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
import websockets
from cryptography.hazmat.primitives.asymmetric import rsa

from simulators.runner import Simulator
from simulators.settings import SimSettings
from venues.kalshi import auth

pytestmark = pytest.mark.integration
N_MESSAGES = 1000


async def first_messages(seed: int, n: int = N_MESSAGES) -> list[Any]:
    s = SimSettings(seed=seed, games=6, clock="virtual", clock_start_us=1_796_000_000_000_000, autostart=False,
                    updates_per_s=1000.0, arb_rate_per_min=600.0, arb_lifetime_ms=50, kalshi_tier="unlimited")
    async with Simulator(s) as sim:
        key = sim.kalshi_private_key
        assert isinstance(key, rsa.RSAPrivateKey)
        tickers = sorted(sim.world.kalshi_books)
        headers = auth.auth_headers(s.kalshi_key_id, key, "GET", "/trade-api/ws/v2")
        out: list[Any] = []
        async with websockets.connect(sim.kalshi_ws_url, additional_headers=headers, max_queue=None) as ws, \
                httpx.AsyncClient(base_url=sim.admin_url) as admin:
            await ws.send(json.dumps({"id": 1, "cmd": "subscribe", "params": {
                "channels": ["orderbook_delta", "ticker", "trade"], "market_tickers": tickers}}))
            async with asyncio.timeout(20):
                while len(out) < n:
                    if len(out) >= 3 + len(tickers):  # acks and snapshots are in: drive the scenario
                        await admin.post("/step", json={"n": 50})
                    while True:
                        try:
                            out.append(json.loads(await asyncio.wait_for(ws.recv(), 0.05)))
                        except TimeoutError:
                            break
                        if len(out) >= n:
                            break
        return out[:n]


async def test_same_seed_same_first_1000_messages() -> None:
    a = await first_messages(5)
    b = await first_messages(5)
    assert len(a) == N_MESSAGES
    kinds = {m["type"] for m in a}
    assert {"subscribed", "orderbook_snapshot", "orderbook_delta", "ticker"} <= kinds
    assert a == b
    c = await first_messages(6, 200)
    assert c != a[:200]
