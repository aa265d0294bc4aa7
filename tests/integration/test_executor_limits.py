"""The executor's own hard limits and balance check (issue 26), against the Kalshi simulator and Kafka.

The rig is test_executor_kalshi.py's (intra-Kalshi A-YES + B-YES), plus the game's pairing on `markets` and
the admission `arb execute` attaches (executor/admission.py). Ground truth for "nothing was sent" is the
simulator's order log.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from core import codec
from core.config import Secret
from core.fees import taker_fee
from core.kafka import make_producer
from core.settings import KafkaSettings
from core.topics import topic_name
from core.units import now_us
from executor.admission import Admission, attach
from executor.run import build
from executor.service import ExecutorService
from executor.settings import ExecutorSettings
from simulators.runner import Simulator
from simulators.settings import SimSettings
from tests.kafka_helpers import eventually, read_records
from venues.kalshi.settings import KalshiSettings
from venues.polymarket.eip712 import address_of

pytestmark = pytest.mark.integration
KALSHI_FEE = {"model": "KALSHI_QUADRATIC", "rate_ppm": 70_000, "multiplier_ppm": 1_000_000, "exponent": 1}
POLY_FEE = {"model": "POLYMARKET_POWER", "rate_ppm": 30_000, "multiplier_ppm": 1_000_000, "exponent": 1}


@dataclass
class Rig:
    sim: Simulator
    kafka: KafkaSettings
    service: ExecutorService
    admission: Admission
    game: Any
    a: str
    b: str


def _pairing(sim: Simulator, game: Any) -> dict[str, Any]:
    books = []
    for code in (game.away, game.home):
        ticker = game.kalshi_markets[code]
        books.append({"venue": "KALSHI", "market": ticker, "event": "EV", "tick_size": sim.world.kalshi_markets[ticker].tick, "min_size": 100,
                      "fee": KALSHI_FEE, "seconds_delay": 0, "neg_risk": False, "exchange_version": 0, "exchange_index": -1,
                      "instruments": [{"market": ticker, "side": "YES", "label": code, "pays_on": [code]}]})
    return {"game_id": game.game_id, "league": game.league, "game_date": game.date, "start_ts": None, "away": game.away, "home": game.home,
            "outcomes": [game.away, game.home], "updated_ts": 0, "books": books}


@pytest.fixture
async def rig(topics: KafkaSettings, tmp_path: Path) -> AsyncIterator[Rig]:
    async with Simulator(SimSettings(games=2, updates_per_s=0, arb_rate_per_min=0, autostart=False, kalshi_tier="unlimited",
                                     kalshi_balance="15.00")) as sim:
        key = tmp_path / "kalshi.pem"
        assert sim.kalshi_private_key is not None
        key.write_bytes(sim.kalshi_private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        game = next(g for g in sim.world.games.values() if not g.draw_possible)
        a, b = game.kalshi_markets[game.away], game.kalshi_markets[game.home]
        p = make_producer(topics)
        p.produce(topic_name("markets", topics), key=game.game_id, value=codec.encode("MarketPairing", _pairing(sim, game)))
        assert p.flush(10) == 0
        kalshi = KalshiSettings(rest_url=sim.kalshi_url, ws_url=sim.kalshi_ws_url, key_id=sim.settings.kalshi_key_id,
                                private_key_file=str(key), tier="unlimited")
        settings = ExecutorSettings(recovery_window_ms=500, lookup_grace_ms=500, max_orders_per_s=10_000,
                                    max_contracts_per_order=1000, max_contracts_per_signal=2000, balance_refresh_s=3600)
        service, closers = build(topics, settings, kalshi=kalshi)
        admission = attach(service, closers, topics, settings, paper=False)
        task = asyncio.create_task(service.run())
        await eventually(service.ready, 30)
        await eventually(lambda: admission.pairing_of(game.game_id) is not None, 20)
        try:
            yield Rig(sim, topics, service, admission, game, a, b)
        finally:
            service.stop()
            await asyncio.wait_for(task, 30)
            for c in closers:
                await c.aclose() if hasattr(c, "aclose") else c.stop()


def signal(rig: Rig, sid: str, size: int = 1000, prices: tuple[int, int] = (4000, 5000), **over: Any) -> dict[str, Any]:
    """A signal whose fees, cost and edge are what its legs add up to (the detector's arithmetic)."""
    t = now_us()
    legs: list[dict[str, Any]] = [{"venue": "KALSHI", "market": m, "book": m, "side": "YES", "limit_price": p, "size": size,
             "expected_fee": taker_fee(KALSHI_FEE, p, size), "pays_on": [o]}
            for m, p, o in ((rig.a, prices[0], rig.game.away), (rig.b, prices[1], rig.game.home))]
    cost = sum(prices) * size + sum(leg["expected_fee"] for leg in legs)
    return {"signal_id": sid, "game_id": rig.game.game_id, "legs": legs, "size": size, "cost": cost, "edge": 10_000 * size - cost,
            "event_ts": t, "deadline_ts": t + 5_000_000, "input_tick_ids": ["t1", "t2"], "input_received_ts": [t, t], "detected_ts": t, **over}


def send(rig: Rig, *signals: dict[str, Any]) -> None:
    p = make_producer(rig.kafka)
    for s in signals:
        p.produce(topic_name("signals", rig.kafka), key=s["game_id"], value=codec.encode("Signal", s))
    assert p.flush(10) == 0


async def outcomes(rig: Rig, n: int, timeout: float = 30) -> dict[str, dict[str, Any]]:
    msgs = await asyncio.to_thread(read_records, rig.kafka, topic_name("outcomes", rig.kafka), n, timeout)
    return {(rec := codec.decode(m.value() or b"", "Outcome"))["signal_id"]: rec for m in msgs}


def sent(rig: Rig) -> list[str]:
    return [r.client_order_id for r in rig.sim.world.orderlog.query(venue="KALSHI") if r.account != "admin"]


def books(rig: Rig) -> None:
    w = rig.sim.world
    w.set_book("KALSHI", rig.a, bids=[(3800, 5000)], asks=[(4000, 5000)])
    w.set_book("KALSHI", rig.b, bids=[(4800, 5000)], asks=[(5000, 5000)])


async def test_signals_over_the_hard_limits_are_rejected_with_the_reason_and_never_sent(rig: Rig) -> None:
    books(rig)
    good = signal(rig, "lim-good")
    off_tick = signal(rig, "lim-tick", prices=(4050, 5000))
    outside = signal(rig, "lim-zero", prices=(0, 5000))
    inflated = signal(rig, "lim-size", size=1500)  # the cap per order is 10 contracts
    cheap = {**signal(rig, "lim-cost"), "cost": good["cost"] - 10_000}  # claims a cent less than its legs cost
    unfeed = signal(rig, "lim-fee")
    unfeed["legs"][0]["expected_fee"] = 0
    unfeed["cost"] = sum(leg["limit_price"] * leg["size"] + leg["expected_fee"] for leg in unfeed["legs"])
    unfeed["edge"] = 10_000 * 1000 - unfeed["cost"]
    thin = signal(rig, "lim-edge", prices=(4500, 5400))  # 1 cent before fees: the fees eat it
    send(rig, inflated, off_tick, outside, cheap, unfeed, thin, good)
    out = await outcomes(rig, 7)
    assert out["lim-good"]["state"] == "FILLED"
    expect = {"lim-size": "contracts per order over the cap 10.00", "lim-tick": "off the market's tick 0.0100",
              "lim-zero": "not strictly inside (0, 1)", "lim-cost": "does not match its legs", "lim-fee": "below the fee module's",
              "lim-edge": "recomputed edge"}
    for sid, words in expect.items():
        assert out[sid]["state"] == "REJECTED" and words in (out[sid]["reason"] or ""), (sid, out[sid])
    assert sorted(sent(rig)) == ["lim-good:0:0", "lim-good:1:0"]


async def test_a_signal_the_balance_cannot_cover_is_rejected_with_the_reason(rig: Rig) -> None:
    # 15 USD on Kalshi; each signal needs ~9.1 USD (10 + 10 contracts at 0.40 and 0.50, fees): the first fills, and
    # the balance read after its fill (or its hold while that read is under way) leaves too little for the second.
    books(rig)
    send(rig, signal(rig, "bal-1"), signal(rig, "bal-2"))
    out = await outcomes(rig, 2)
    assert out["bal-1"]["state"] == "FILLED"
    assert out["bal-2"]["state"] == "REJECTED"
    assert (out["bal-2"]["reason"] or "").startswith("insufficient KALSHI balance: need 9.")
    assert sorted(sent(rig)) == ["bal-1:0:0", "bal-1:1:0"]
    balances = rig.admission.balances
    assert balances is not None
    acct = rig.sim.world.kalshi_account(rig.sim.settings.kalshi_key_id)
    await eventually(lambda: balances.available.get("KALSHI") == acct.balance and not balances.in_flight(), 10)  # refreshed after the fill
    assert acct.balance < 15_000_000 - 9_000_000


@pytest.fixture
async def cross(topics: KafkaSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[dict[str, Any]]:
    """test_executor_cross_venue.py's rig (Kalshi away YES + the Polymarket home token) with 3 pUSD on Polymarket."""
    key = secrets.token_bytes(32)
    l2 = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    settings = SimSettings(games=2, updates_per_s=0, arb_rate_per_min=0, autostart=False, kalshi_tier="unlimited", poly_address=address_of(key),
                           poly_api_key="limits-key", poly_secret=Secret(l2), poly_passphrase=Secret("pp-limits"), poly_balance="3.00")
    async with Simulator(settings) as sim:
        pem = tmp_path / "kalshi.pem"
        assert sim.kalshi_private_key is not None
        pem.write_bytes(sim.kalshi_private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        for env, value in {"ARB_POLY_CLOB_URL": sim.poly_clob_url, "ARB_POLY_API_KEY": "limits-key", "ARB_POLY_PRIVATE_KEY": key.hex(),
                           "ARB_POLY_API_SECRET": l2, "ARB_POLY_PASSPHRASE": "pp-limits"}.items():
            monkeypatch.setenv(env, value)
        game = next(g for g in sim.world.games.values() if not g.draw_possible)
        pm = game.poly_markets[0]
        away_tok, home_tok = pm.token_ids
        pairing = _pairing(sim, game)
        pairing["books"] = [pairing["books"][0], {
            "venue": "POLYMARKET", "market": pm.condition_id, "event": pm.slug, "tick_size": pm.tick, "min_size": 500, "fee": POLY_FEE,
            "seconds_delay": 0, "neg_risk": False, "exchange_version": 2, "exchange_index": 0,
            "instruments": [{"market": away_tok, "side": "YES", "label": game.away, "pays_on": [game.away]},
                            {"market": home_tok, "side": "YES", "label": game.home, "pays_on": [game.home]}]}]
        p = make_producer(topics)
        p.produce(topic_name("markets", topics), key=game.game_id, value=codec.encode("MarketPairing", pairing))
        assert p.flush(10) == 0
        kalshi = KalshiSettings(rest_url=sim.kalshi_url, ws_url=sim.kalshi_ws_url, key_id=sim.settings.kalshi_key_id, private_key_file=str(pem),
                                tier="unlimited")
        es = ExecutorSettings(recovery_window_ms=500, lookup_grace_ms=500, balance_refresh_s=3600)
        service, closers = build(topics, es, kalshi=kalshi)
        assert "POLYMARKET" in service.clients
        admission = attach(service, closers, topics, es, paper=False)
        task = asyncio.create_task(service.run())
        await eventually(service.ready, 30)
        await eventually(lambda: admission.pairing_of(game.game_id) is not None, 20)
        try:
            yield {"sim": sim, "kafka": topics, "game": game, "kalshi": game.kalshi_markets[game.away], "pm": pm, "home_tok": home_tok}
        finally:
            service.stop()
            await asyncio.wait_for(task, 30)
            for c in closers:
                await c.aclose() if hasattr(c, "aclose") else c.stop()


async def test_a_polymarket_leg_over_the_pusd_balance_is_rejected_before_either_leg_is_sent(cross: dict[str, Any]) -> None:
    g, size, k_price, p_price = cross["game"], 1000, 4000, 5000
    legs = [{"venue": "KALSHI", "market": cross["kalshi"], "book": cross["kalshi"], "side": "YES", "limit_price": k_price, "size": size,
             "expected_fee": taker_fee(KALSHI_FEE, k_price, size), "pays_on": [g.away]},
            {"venue": "POLYMARKET", "market": cross["home_tok"], "book": cross["pm"].condition_id, "side": "YES", "limit_price": p_price,
             "size": size, "expected_fee": taker_fee(POLY_FEE, p_price, size), "pays_on": [g.home]}]
    cost = (k_price + p_price) * size + sum(leg["expected_fee"] for leg in legs)
    t = now_us()
    sig = {"signal_id": "bal-poly", "game_id": g.game_id, "legs": legs, "size": size, "cost": cost, "edge": 10_000 * size - cost, "event_ts": t,
           "deadline_ts": t + 5_000_000, "input_tick_ids": ["a", "b"], "input_received_ts": [t, t], "detected_ts": t}
    p = make_producer(cross["kafka"])
    p.produce(topic_name("signals", cross["kafka"]), key=g.game_id, value=codec.encode("Signal", sig))
    assert p.flush(10) == 0
    msgs = await asyncio.to_thread(read_records, cross["kafka"], topic_name("outcomes", cross["kafka"]), 1, 30)
    out = codec.decode(msgs[0].value() or b"", "Outcome")
    assert out["state"] == "REJECTED", out
    assert (out["reason"] or "").startswith("insufficient POLYMARKET balance: need 5.") and (out["reason"] or "").endswith("have 3.000000 USD")
    mine = [r for v in ("KALSHI", "POLYMARKET") for r in cross["sim"].world.orderlog.query(venue=v) if r.account not in ("admin", "mm", "arb", "flow")]
    assert mine == []
