"""Issue 26: two executors in one consumer group share one venue balance (executor/balances.py, executor/admission.py).

Each executor may use floor((balance + its recent spending) x owned / P) - its recent spending - its holds, owned =
the `signals` partitions it owns. Against the Kalshi simulator (one account both executors trade with; ground
truth: its order log) and real Kafka: a balance that funds three and a half signals, three signals on every
partition at once. Without the split each executor sees the whole balance and the two together send orders
the account cannot fund (the simulator refuses them, `insufficient_balance`, leaving one-sided legs).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from core import codec
from core.config import load
from core.fees import taker_fee
from core.kafka import make_producer
from core.partitioning import partition_for
from core.settings import KafkaSettings
from core.topics import topic_name
from core.units import now_us
from executor.admission import Admission, attach, limits_from
from executor.limits import check_signal
from executor.run import build
from executor.service import ExecutorService
from executor.settings import ExecutorSettings
from processors.settings import DetectorSettings
from schemas.records import MarketPairing, Signal, from_dict
from simulators.runner import Simulator
from simulators.settings import SimSettings
from tests.integration.test_executor_limits import KALSHI_FEE, _pairing
from tests.kafka_helpers import eventually, read_records
from venues.kalshi.settings import KalshiSettings

pytestmark = pytest.mark.integration

SETTINGS = ExecutorSettings(recovery_window_ms=500, lookup_grace_ms=500, max_orders_per_s=10_000, max_contracts_per_order=1000,
                            max_contracts_per_signal=2000, balance_refresh_s=3600)
Run = tuple[ExecutorService, list[Any], Admission, "asyncio.Task[None]"]


def _games(n_partitions: int) -> list[str]:
    """One synthetic game id per signals partition."""
    by_p: dict[int, str] = {}
    for g in (f"bal-game-{i}" for i in range(1000)):
        by_p.setdefault(partition_for(g, n_partitions), g)
    return [by_p[p] for p in range(n_partitions)]


def _signal(game_id: str, sid: str, a: str, b: str, outcomes: tuple[str, str]) -> dict[str, Any]:
    """10 + 10 contracts at 0.40 and 0.50 (about 9.1 USD at worst), fees and cost as the detector adds them up."""
    t, size = now_us(), 1000
    legs: list[dict[str, Any]] = [{"venue": "KALSHI", "market": m, "book": m, "side": "YES", "limit_price": p, "size": size,
                                   "expected_fee": taker_fee(KALSHI_FEE, p, size), "pays_on": [o]}
                                  for m, p, o in ((a, 4000, outcomes[0]), (b, 5000, outcomes[1]))]
    cost = 9000 * size + sum(leg["expected_fee"] for leg in legs)
    return {"signal_id": sid, "game_id": game_id, "legs": legs, "size": size, "cost": cost, "edge": 10_000 * size - cost, "event_ts": t,
            "deadline_ts": t + 60_000_000, "input_tick_ids": ["t1", "t2"], "input_received_ts": [t, t], "detected_ts": t}


@pytest.fixture
async def sim(tmp_path: Path) -> AsyncIterator[tuple[Simulator, Any, KalshiSettings]]:
    async with Simulator(SimSettings(games=2, updates_per_s=0, arb_rate_per_min=0, autostart=False, kalshi_tier="unlimited")) as sim:
        assert sim.kalshi_private_key is not None
        key = tmp_path / "k.pem"
        key.write_bytes(sim.kalshi_private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                             serialization.NoEncryption()))
        game = next(g for g in sim.world.games.values() if not g.draw_possible)
        sim.world.set_book("KALSHI", game.kalshi_markets[game.away], bids=[(3800, 10**6)], asks=[(4000, 10**6)])
        sim.world.set_book("KALSHI", game.kalshi_markets[game.home], bids=[(4800, 10**6)], asks=[(5000, 10**6)])
        yield sim, game, KalshiSettings(rest_url=sim.kalshi_url, key_id=sim.settings.kalshi_key_id, private_key_file=str(key), tier="unlimited")


async def _start(topics: KafkaSettings, kalshi: KalshiSettings) -> Run:
    service, closers = await asyncio.to_thread(build, topics, SETTINGS, kalshi=kalshi)
    admission = attach(service, closers, topics, SETTINGS, paper=False)
    return service, closers, admission, asyncio.create_task(service.run())


async def _stop(run: Run) -> None:
    run[0].stop()
    await asyncio.wait_for(run[3], 30)
    for c in run[1]:
        await c.aclose() if hasattr(c, "aclose") else c.stop()


async def test_two_executors_never_send_more_than_the_shared_balance(topics: KafkaSettings, sim: Any) -> None:
    sim_, game, kalshi = sim
    a, b = game.kalshi_markets[game.away], game.kalshi_markets[game.home]
    games = _games(topics.partitions)
    pairings = {g: {**_pairing(sim_, game), "game_id": g} for g in games}
    p = make_producer(topics)
    for g, pairing in pairings.items():
        p.produce(topic_name("markets", topics), key=g, value=codec.encode("MarketPairing", pairing))
    assert p.flush(10) == 0
    sigs = [_signal(g, f"{g}-{i}", a, b, (game.away, game.home)) for i in range(3) for g in games]
    need = check_signal(from_dict(Signal, sigs[0]), from_dict(MarketPairing, pairings[games[0]]),
                        limits_from(SETTINGS, load(DetectorSettings))).venue_cost["KALSHI"]
    assert 9_000_000 < need < 9_500_000
    balance = 3 * need + need // 2  # funds three and a half signals; 36 arrive at once
    account = sim_.world.kalshi_account(kalshi.key_id)
    account.balance = balance

    one = await _start(topics, kalshi)
    two = await _start(topics, kalshi)
    try:
        await eventually(lambda: one[0].ready() and two[0].ready() and len(one[0].workers) + len(two[0].workers) == topics.partitions
                         and len(one[0].workers) > 0 and len(two[0].workers) > 0, 60)
        await eventually(lambda: all(r[2].pairing_of(g) is not None for r in (one, two) for g in games), 20)
        assert one[2].balances is not None and one[2].balances.available == {"KALSHI": balance}
        p = make_producer(topics)
        for s in sigs:
            p.produce(topic_name("signals", topics), key=s["game_id"], value=codec.encode("Signal", s))
        assert p.flush(10) == 0
        msgs = await asyncio.to_thread(read_records, topics, topic_name("outcomes", topics), len(sigs), 90)
    finally:
        await _stop(one)
        await _stop(two)
    outcomes = {(o := codec.decode(m.value() or b"", "Outcome"))["signal_id"]: o for m in msgs}
    assert set(outcomes) == {s["signal_id"] for s in sigs}
    traded = [o for o in outcomes.values() if o["state"] != "REJECTED"]
    rejected = [o for o in outcomes.values() if o["state"] == "REJECTED"]
    # Ground truth, the simulator's log of what both executors asked for with the one account.
    mine = [r for r in sim_.world.orderlog.query(venue="KALSHI") if r.account == kalshi.key_id and r.kind == "create"]
    refused = [(r.client_order_id, r.reason) for r in mine if "insufficient" in r.reason]
    assert refused == [], f"orders the account could not fund: {refused}"
    assert 2 <= len(traded) and all(o["state"] == "FILLED" for o in traded), traded
    assert len(traded) * need <= balance  # what was admitted, at its worst case, fits the one balance
    asked = sum(r.price * r.size for r in mine)  # every order sent, at its limit price
    assert asked <= balance and account.balance >= 0
    assert all((o["reason"] or "").startswith("insufficient KALSHI balance") for o in rejected), rejected
    assert any(f"of {topics.partitions} signals partitions)" in (o["reason"] or "") for o in rejected), rejected
