"""The executor with live clients for both venues against both simulators: a Kalshi YES + Polymarket
token pair fills on both venues once; when the Polymarket leg finds no liquidity, the Kalshi leg is
unwound. Ground truth is the simulator's order log."""

from __future__ import annotations

import asyncio
import base64
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from core import codec
from core.config import Secret
from core.kafka import make_producer
from core.settings import KafkaSettings
from core.topics import topic_name
from core.units import now_us
from executor.run import build
from executor.settings import ExecutorSettings
from simulators.runner import Simulator
from simulators.settings import SimSettings
from tests.kafka_helpers import eventually, read_records
from venues.kalshi.settings import KalshiSettings
from venues.polymarket.eip712 import address_of

pytestmark = pytest.mark.integration
KALSHI_FEE = {"model": "KALSHI_QUADRATIC", "rate_ppm": 70_000, "multiplier_ppm": 1_000_000, "exponent": 1}
POLY_FEE = {"model": "POLYMARKET_POWER", "rate_ppm": 30_000, "multiplier_ppm": 1_000_000, "exponent": 1}


@pytest.fixture
async def rig(topics: KafkaSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[dict[str, Any]]:
    key = secrets.token_bytes(32)
    l2 = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    settings = SimSettings(games=2, updates_per_s=0, arb_rate_per_min=0, autostart=False, kalshi_tier="unlimited", poly_address=address_of(key),
                           poly_api_key="cross-venue-key", poly_secret=Secret(l2), poly_passphrase=Secret("pp-cross"))
    async with Simulator(settings) as sim:
        pem = tmp_path / "kalshi.pem"
        assert sim.kalshi_private_key is not None
        pem.write_bytes(sim.kalshi_private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        for env, value in {"ARB_POLY_CLOB_URL": sim.poly_clob_url, "ARB_POLY_API_KEY": "cross-venue-key", "ARB_POLY_PRIVATE_KEY": key.hex(),
                           "ARB_POLY_API_SECRET": l2, "ARB_POLY_PASSPHRASE": "pp-cross"}.items():
            monkeypatch.setenv(env, value)
        game = next(g for g in sim.world.games.values() if not g.draw_possible)
        pm = game.poly_markets[0]
        away_tok, home_tok = pm.token_ids
        pairing = {"game_id": game.game_id, "league": game.league, "game_date": game.date, "start_ts": None, "away": game.away, "home": game.home,
                   "outcomes": [game.away, game.home], "updated_ts": 0, "books": [
                       {"venue": "POLYMARKET", "market": pm.condition_id, "event": pm.slug, "tick_size": pm.tick, "min_size": 500, "fee": POLY_FEE,
                        "seconds_delay": 0, "neg_risk": False, "exchange_version": 2, "exchange_index": 0,
                        "instruments": [{"market": away_tok, "side": "YES", "label": game.away, "pays_on": [game.away]},
                                        {"market": home_tok, "side": "YES", "label": game.home, "pays_on": [game.home]}]}]}
        p = make_producer(topics)
        p.produce(topic_name("markets", topics), key=game.game_id, value=codec.encode("MarketPairing", pairing))
        assert p.flush(10) == 0
        kalshi = KalshiSettings(rest_url=sim.kalshi_url, ws_url=sim.kalshi_ws_url, key_id=sim.settings.kalshi_key_id, private_key_file=str(pem),
                                tier="unlimited")
        service, closers = build(topics, ExecutorSettings(recovery_window_ms=500, lookup_grace_ms=500), kalshi=kalshi)
        assert "POLYMARKET" in service.clients
        task = asyncio.create_task(service.run())
        await eventually(service.ready, 30)
        try:
            yield {"sim": sim, "kafka": topics, "game": game, "kalshi": game.kalshi_markets[game.away], "pm": pm, "home_tok": home_tok}
        finally:
            service.stop()
            await asyncio.wait_for(task, 30)
            for c in closers:
                await c.aclose() if hasattr(c, "aclose") else c.stop()


def signal(rig: dict[str, Any], sid: str, k_price: int, p_price: int, size: int = 1000) -> dict[str, Any]:
    g = rig["game"]
    t = now_us()
    legs = [{"venue": "KALSHI", "market": rig["kalshi"], "book": rig["kalshi"], "side": "YES", "limit_price": k_price, "size": size,
             "expected_fee": 0, "pays_on": [g.away]},
            {"venue": "POLYMARKET", "market": rig["home_tok"], "book": rig["pm"].condition_id, "side": "YES", "limit_price": p_price, "size": size,
             "expected_fee": 0, "pays_on": [g.home]}]
    return {"signal_id": sid, "game_id": g.game_id, "legs": legs, "size": size, "cost": (k_price + p_price) * size, "edge": 1, "event_ts": t,
            "deadline_ts": t + 3_000_000, "input_tick_ids": ["a", "b"], "input_received_ts": [t, t], "detected_ts": t}


async def run_signal(rig: dict[str, Any], s: dict[str, Any]) -> dict[str, Any]:
    p = make_producer(rig["kafka"])
    p.produce(topic_name("signals", rig["kafka"]), key=s["game_id"], value=codec.encode("Signal", s))
    assert p.flush(10) == 0
    msgs = await asyncio.to_thread(read_records, rig["kafka"], topic_name("outcomes", rig["kafka"]), 1, 30)
    return dict(codec.decode(msgs[0].value(), "Outcome"))


def accepted(rig: dict[str, Any], venue: str) -> list[Any]:
    return [r for r in rig["sim"].world.orderlog.query(venue=venue) if r.accepted and r.account not in ("admin", "mm", "arb")]


async def test_both_venues_fill_once(rig: dict[str, Any]) -> None:
    w = rig["sim"].world
    w.set_book("KALSHI", rig["kalshi"], bids=[(4300, 5000)], asks=[(4500, 5000)])
    w.set_book("POLYMARKET", rig["pm"].condition_id, bids=[(5000, 5000)], asks=[(5600, 5000)])  # home token asks at 1 - 0.50
    out = await run_signal(rig, signal(rig, "x-both", 4500, 5000))
    assert out["state"] == "FILLED" and out["matched_size"] == 1000, out
    k, p = accepted(rig, "KALSHI"), accepted(rig, "POLYMARKET")
    assert [(r.client_order_id, r.filled) for r in k] == [("x-both:0:0", 1000)]
    assert len(p) == 1 and p[0].filled == 1000 and p[0].order_id.startswith("0x")
    assert out["locked_profit"] == 10_000 * 1000 - (4500 + 5000) * 1000 - out["fees"] > 0


async def test_empty_polymarket_leg_unwinds_kalshi(rig: dict[str, Any]) -> None:
    w = rig["sim"].world
    w.set_book("KALSHI", rig["kalshi"], bids=[(4400, 5000)], asks=[(4500, 5000)])
    w.set_book("POLYMARKET", rig["pm"].condition_id, bids=[(4000, 5000)], asks=[(5600, 5000)])  # home token asks at 0.60: above the limit
    out = await run_signal(rig, signal(rig, "x-one", 4500, 5000))
    assert out["state"] in ("UNWOUND", "COMPLETED"), out
    k = {r.client_order_id: r for r in accepted(rig, "KALSHI")}
    assert k["x-one:0:0"].filled == 1000
    sold = sum(r.filled for c, r in k.items() if c.startswith("x-one:0:") and c != "x-one:0:0" and r.side == "sell")
    p_filled = sum(r.filled for r in accepted(rig, "POLYMARKET"))
    assert sold + p_filled == 1000  # the Kalshi excess was sold, or the Polymarket leg completed: never left one-sided


async def test_a_signal_that_cannot_be_prepared_is_a_dead_letter_and_the_partition_goes_on(rig: dict[str, Any]) -> None:
    """Issue 24 defect 4: a signal whose Polymarket market is not on `markets` (prepare() raises) used to end
    the partition's worker while the partition stayed assigned: every later signal of it was never read."""
    w = rig["sim"].world
    w.set_book("KALSHI", rig["kalshi"], bids=[(4300, 5000)], asks=[(4500, 5000)])
    w.set_book("POLYMARKET", rig["pm"].condition_id, bids=[(5000, 5000)], asks=[(5600, 5000)])
    bad = signal(rig, "x-bad", 4500, 5000)
    bad["legs"][1]["book"] = "0x" + "ee" * 32  # not on `markets`
    good = signal(rig, "x-good", 4500, 5000)
    p = make_producer(rig["kafka"])
    for s in (bad, good):  # same game: same partition, in this order
        p.produce(topic_name("signals", rig["kafka"]), key=s["game_id"], value=codec.encode("Signal", s))
    assert p.flush(10) == 0
    msgs = await asyncio.to_thread(read_records, rig["kafka"], topic_name("outcomes", rig["kafka"]), 2, 30)
    out = {o["signal_id"]: o for o in (codec.decode(m.value(), "Outcome") for m in msgs)}
    assert out["x-bad"]["state"] == "REJECTED" and "unknown Polymarket market" in out["x-bad"]["reason"]
    assert out["x-good"]["state"] == "FILLED"
    assert [r.client_order_id for r in accepted(rig, "KALSHI")] == ["x-good:0:0"]  # nothing of the bad signal was sent
    dlq = await asyncio.to_thread(read_records, rig["kafka"], topic_name("dlq", rig["kafka"]), 1, 10)
    assert len(dlq) == 1


async def test_a_delayed_polymarket_order_is_pending_then_settled_when_it_matches(rig: dict[str, Any]) -> None:
    """Defect 2: the Polymarket leg is `delayed` 3 s (longer than the market's stated secondsDelay + 2 s the old
    transport waited). It used to be read as 0 filled: the Kalshi leg was unwound while the Polymarket order
    matched later (one-sided). Now: a PENDING Outcome first, then FILLED once the order matches."""
    w = rig["sim"].world
    w.set_book("KALSHI", rig["kalshi"], bids=[(4300, 5000)], asks=[(4500, 5000)])
    w.set_book("POLYMARKET", rig["pm"].condition_id, bids=[(5000, 5000)], asks=[(5600, 5000)])
    w.faults["POLYMARKET"].update({"delay_s": 3})
    p = make_producer(rig["kafka"])
    s = signal(rig, "x-delayed", 4500, 5000)
    p.produce(topic_name("signals", rig["kafka"]), key=s["game_id"], value=codec.encode("Signal", s))
    assert p.flush(10) == 0
    msgs = await asyncio.to_thread(read_records, rig["kafka"], topic_name("outcomes", rig["kafka"]), 2, 40)
    states = [codec.decode(m.value(), "Outcome")["state"] for m in msgs]
    assert states == ["PENDING", "FILLED"], states
    k, pm = accepted(rig, "KALSHI"), accepted(rig, "POLYMARKET")
    assert [(r.client_order_id, r.filled) for r in k] == [("x-delayed:0:0", 1000)]  # nothing unwound
    assert len(pm) == 1 and pm[0].filled == 1000
    fills = await asyncio.to_thread(read_records, rig["kafka"], topic_name("fills", rig["kafka"]), 2, 10)
    assert sorted(codec.decode(m.value(), "Fill")["venue"] for m in fills) == ["KALSHI", "POLYMARKET"]


async def test_a_polymarket_leg_left_one_sided_is_unwound_with_signed_steps(rig: dict[str, Any]) -> None:
    """Issue 24 defect 3: completion and unwind steps are orders like the base legs. A Polymarket step used to be
    sent unsigned (rejected locally as "order not signed"), leaving the Polymarket leg one-sided."""
    w = rig["sim"].world
    w.set_book("KALSHI", rig["kalshi"], bids=[(4300, 5000)], asks=[(4700, 5000)])  # above the Kalshi limit: leg 0 fills nothing
    w.set_book("POLYMARKET", rig["pm"].condition_id, bids=[(5000, 5000)], asks=[(5100, 5000)])  # home token: ask 0.50, bid 0.49
    out = await run_signal(rig, signal(rig, "x-poly-one", 4500, 5000))
    assert out["state"] in ("UNWOUND", "COMPLETED"), out
    pm = accepted(rig, "POLYMARKET")
    bought = sum(r.filled for r in pm if r.side == "buy")
    sold = sum(r.filled for r in pm if r.side == "sell")
    k_filled = sum(r.filled for r in accepted(rig, "KALSHI"))
    assert bought >= 1000 and bought - sold == k_filled, (bought, sold, k_filled)  # hedged: nothing left one-sided
    assert out["state"] == "COMPLETED" or sold > 0
