"""Scenario arbitrage windows (taken / expired), the admin API and recorded-frame mode."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from cryptography.hazmat.primitives.asymmetric import rsa

from simulators.catalogue import KALSHI, POLYMARKET
from simulators.engine import BookSide, TimeInForce
from simulators.runner import Simulator
from simulators.settings import SimSettings
from simulators.world import SimWorld
from venues.kalshi import auth

pytestmark = pytest.mark.integration
FIXTURES = Path(__file__).parents[1] / "resources"


def quiet(**kw: Any) -> SimSettings:
    base: dict[str, Any] = {"games": 4, "clock": "virtual", "autostart": False, "updates_per_s": 1000.0, "arb_rate_per_min": 0.0,
                            "kalshi_tier": "unlimited", "seed": 3}
    base.update(kw)
    return SimSettings(**base)


def test_scenario_is_deterministic_and_moves_books() -> None:
    w1, w2 = SimWorld(quiet(arb_rate_per_min=3000.0)), SimWorld(quiet(arb_rate_per_min=3000.0))
    before = {t: b.bids()[:1] + b.asks()[:1] for t, b in w1.kalshi_books.items()}
    w1.scenario.run_steps(3000)
    w2.scenario.run_steps(3000)
    assert {t: (b.bids(), b.asks()) for t, b in w1.kalshi_books.items()} == {t: (b.bids(), b.asks()) for t, b in w2.kalshi_books.items()}
    assert {t: b.bids()[:1] + b.asks()[:1] for t, b in w1.kalshi_books.items()} != before
    reasons = {win.close_reason for win in w1.scenario.windows}
    assert len(w1.scenario.windows) > 10 and "expired" in reasons
    assert w1.now_us() == quiet().clock_start_us + 3000 * 1000  # one virtual ms per step at 1000 steps/s


def test_window_prices_and_taken() -> None:
    w = SimWorld(quiet())
    game = next(g for g in w.games.values() if not g.draw_possible) if any(not g.draw_possible for g in w.games.values()) \
        else next(iter(w.games.values()))
    win = w.scenario.inject(game_id=game.game_id, outcome=game.home, edge=400, size=2000)
    assert win is not None
    assert win.kalshi_yes_ask + win.poly_ask == 10000 - 400 and win.edge == 400
    k_best = w.kalshi_books[win.kalshi_ticker].best_ask()
    assert k_best == (win.kalshi_yes_ask, 2000)
    # take both legs: Kalshi YES at the ask, Polymarket "not outcome" token at its ask
    w.kalshi_account("taker", 10**12)
    r = w.place(KALSHI, win.kalshi_ticker, "taker", BookSide.BUY, win.kalshi_yes_ask, 2000, TimeInForce.IOC)
    assert r.filled == 2000
    pm = w.poly_markets[win.poly_condition_id]
    idx = pm.token_ids.index(win.poly_token_id)
    if idx == 1:  # buying token 1 at p is selling token 0 at 1 - p
        r = w.place(POLYMARKET, pm.condition_id, "taker", BookSide.SELL, 10000 - win.poly_ask, 2000, TimeInForce.IOC)
    else:
        r = w.place(POLYMARKET, pm.condition_id, "taker", BookSide.BUY, win.poly_ask, 2000, TimeInForce.IOC)
    assert r.filled == 2000
    w.scenario.check_windows(w.now_us())
    assert win.close_reason == "taken" and not w.scenario.active
    assert w.kalshi_books[win.kalshi_ticker].best_ask() is not None  # the market maker is back


async def test_admin_inject_expire_set_book_and_faults() -> None:
    async with Simulator(quiet()) as sim, httpx.AsyncClient(base_url=sim.admin_url) as admin:
        games = (await admin.get("/games")).json()["games"]
        gid = games[0]["game_id"]
        win = (await admin.post("/arb", json={"game_id": gid, "edge": "0.0300", "lifetime_ms": 20})).json()
        assert win["edge"] == 300 and win["closed_us"] == 0
        assert (await admin.post("/arb", json={"game_id": gid})).status_code == 409  # one window per game
        await admin.post("/step", json={"n": 30})  # 30 virtual ms > 20 ms lifetime
        wins = (await admin.get("/arb")).json()["windows"]
        assert wins[0]["close_reason"] == "expired"
        ticker = games[0]["kalshi_markets"][games[0]["home"]]
        r = await admin.post("/book", json={"venue": "kalshi", "book_id": ticker, "bids": [["0.1000", "1.00"]], "asks": [["0.9000", "2.00"]]})
        assert r.json() == {"bids": [[1000, 100]], "asks": [[9000, 200]]}
        await admin.post("/step", json={"n": 200})
        book = (await admin.get("/book", params={"venue": "kalshi", "book_id": ticker})).json()
        assert book["bids"] == [[1000, 100]] and book["asks"] == [[9000, 200]]  # held by the admin
        await admin.post("/book/release", json={"venue": "kalshi", "book_id": ticker})
        assert len((await admin.get("/book", params={"venue": "kalshi", "book_id": ticker})).json()["bids"]) == 5
        assert (await admin.post("/faults/kalshi", json={"nope": 1})).status_code == 404
        assert (await admin.post("/faults/mars", json={})).status_code == 400
        assert (await admin.post("/clock", json={"now_us": 5})).json() == {"now_us": 5, "mode": "virtual"}


async def test_recorded_frame_mode_streams_frames_unmodified(tmp_path: Path) -> None:
    demo = (FIXTURES / "kalshi" / "ws_demo_capture.jsonl").read_text().splitlines()
    recorded = [json.dumps(json.loads((FIXTURES / "kalshi" / f).read_text())) for f in ("ws_orderbook_snapshot.json", "ws_orderbook_delta.json")]
    path = tmp_path / "frames.jsonl"
    path.write_text("\n".join(demo + recorded) + "\n")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = tmp_path / "pub.pem"
    pem.write_bytes(auth.public_key_pem(key))
    s = quiet(kalshi_replay=path, kalshi_public_key=pem, kalshi_key_id="k")
    async with Simulator(s) as sim:
        async with websockets.connect(sim.kalshi_ws_url, additional_headers=auth.auth_headers("k", key, "GET", "/trade-api/ws/v2")) as ws:
            await ws.send(json.dumps({"id": 1, "cmd": "subscribe", "params": {"channels": ["orderbook_delta"], "market_tickers": [sorted(sim.world.kalshi_books)[0]]}}))
            got = [await asyncio.wait_for(ws.recv(), 5) for _ in range(4)]
    assert json.loads(got[0])["type"] == "subscribed"
    assert got[1:] == [demo[2], *recorded]  # acks in the file are skipped; data frames byte for byte
