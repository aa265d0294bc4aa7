"""Recovery of each answer class (issue 24): a previous owner of partition 0 left INTENTs (and maybe results)
behind; a new executor fences it, looks every possibly-sent order up (never re-sending), and settles.

- the order executed at the venue, its answer never recorded  -> FILL from the lookup, fills recorded;
- the order never reached the venue                           -> not listed after deadline + grace: never executed;
- a result recorded without its fills (a partial leak)        -> the fills are derived from the result (defect 9);
- the venue cannot be asked (every lookup fails)              -> UNKNOWN, alerted.
Ground truth: the simulator's order log; records: `orders`, `fills`, `outcomes` read back from Kafka."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from core import codec
from core.settings import KafkaSettings
from core.topics import partitions, topic_name
from core.units import now_us
from executor.orders import LegResult, OrderRequest, intent_event, result_event
from executor.recovery_reader import read_partition
from executor.run import build
from executor.settings import ExecutorSettings
from executor.txn import PartitionWriter
from schemas.records import Fill, to_dict
from simulators.runner import Simulator
from simulators.settings import SimSettings
from tests.kafka_helpers import eventually, read_records
from venues.kalshi.rest import KalshiRest
from venues.kalshi.settings import KalshiSettings

pytestmark = pytest.mark.integration
P = 0


@pytest.fixture
async def venue(topics: KafkaSettings, tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    async with Simulator(SimSettings(games=1, updates_per_s=0, arb_rate_per_min=0, autostart=False, kalshi_tier="unlimited")) as sim:
        assert sim.kalshi_private_key is not None
        key = tmp_path / "kalshi.pem"
        key.write_bytes(sim.kalshi_private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        game = next(iter(sim.world.games.values()))
        a, b = game.kalshi_markets[game.away], game.kalshi_markets[game.home]
        sim.world.set_book("KALSHI", a, bids=[(4300, 5000)], asks=[(4500, 5000)])
        sim.world.set_book("KALSHI", b, bids=[(4800, 5000)], asks=[(5000, 5000)])
        kalshi = KalshiSettings(rest_url=sim.kalshi_url, key_id=sim.settings.kalshi_key_id, private_key_file=str(key), tier="unlimited")
        yield {"sim": sim, "kafka": topics, "game": game, "a": a, "b": b, "kalshi": kalshi}


def _legs(v: dict[str, Any], sid: str, deadline_us: int) -> list[OrderRequest]:
    return [OrderRequest(f"{sid}:{i}:0", sid, v["game"].game_id, i, 0, "KALSHI", m, m, "YES", "BUY", p, 1000, deadline_us)
            for i, (m, p) in enumerate(((v["a"], 4500), (v["b"], 5000)))]


async def _previous_owner_left(v: dict[str, Any], intents: list[OrderRequest], results: list[tuple[OrderRequest, LegResult]]) -> None:
    """Committed INTENTs (and results) of partition 0, as an executor killed mid-signal would leave them."""
    w = PartitionWriter(v["kafka"], P)
    await asyncio.to_thread(w.init)
    evs = [intent_event(r, now_us=now_us(), paper=False) for r in intents]
    await asyncio.to_thread(w.commit_intents, evs)
    if results:
        await asyncio.to_thread(w.commit_results, [result_event(r, res, intent_ts=evs[0].intent_ts, paper=False) for r, res in results],
                                [], None, [], None)
    await asyncio.to_thread(w.close)


async def _recover(v: dict[str, Any], n_outcomes: int) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    service, closers = build(v["kafka"], ExecutorSettings(recovery_window_ms=500, lookup_grace_ms=500), kalshi=v["kalshi"])
    task = asyncio.create_task(service.run())
    try:
        await eventually(service.ready, 60)
        msgs = await asyncio.to_thread(read_records, v["kafka"], topic_name("outcomes", v["kafka"]), n_outcomes, 30)
    finally:
        service.stop()
        await asyncio.wait_for(task, 30)
        for c in closers:
            await c.aclose() if hasattr(c, "aclose") else c.stop()
    outcomes = {o["signal_id"]: o for o in (codec.decode(m.value(), "Outcome") for m in msgs)}
    topic = topic_name("fills", v["kafka"])
    fills = []
    for p in range(partitions("fills", v["kafka"])):  # every committed Fill, to the end of each partition
        recs, _ = await asyncio.to_thread(read_partition, v["kafka"], [topic], p)
        fills += [to_dict(r) for r in recs if isinstance(r, Fill)]
    return outcomes, fills


def _accepted(v: dict[str, Any]) -> list[tuple[str, int]]:
    return [(r.client_order_id, r.filled) for r in v["sim"].world.orderlog.query(venue="KALSHI") if r.accepted and r.account != "admin"]


async def test_an_order_that_executed_is_found_and_its_fill_recorded(venue: dict[str, Any]) -> None:
    legs = _legs(venue, "rec-found", now_us() + 2_000_000)
    rest = KalshiRest(venue["kalshi"].rest_url, venue["kalshi"].key_id, venue["kalshi"].load_private_key())
    try:  # both legs reached the venue and executed; the executor died before recording their answers
        for r in legs:
            await rest.create_order(ticker=r.market, side=r.side, action=r.action, price=r.limit_price, count=r.size, client_order_id=r.client_order_id)
    finally:
        await rest.aclose()
    await _previous_owner_left(venue, legs, [])
    outcomes, fills = await _recover(venue, 1)
    assert outcomes["rec-found"]["state"] == "FILLED" and outcomes["rec-found"]["matched_size"] == 1000
    assert sorted(_accepted(venue)) == [("rec-found:0:0", 1000), ("rec-found:1:0", 1000)]  # looked up, never re-sent
    assert sorted((f["client_order_id"], f["size"]) for f in fills) == [("rec-found:0:0", 1000), ("rec-found:1:0", 1000)]


async def test_an_order_the_venue_never_listed_never_executed(venue: dict[str, Any]) -> None:
    legs = _legs(venue, "rec-never", now_us() + 300_000)
    await _previous_owner_left(venue, legs, [])  # killed between the INTENT commit and the sends
    outcomes, fills = await _recover(venue, 1)
    assert outcomes["rec-never"]["state"] == "NOT_FILLED", outcomes
    assert _accepted(venue) == [] and fills == []


async def test_a_result_recorded_without_its_fills_gets_them(venue: dict[str, Any]) -> None:
    """Defect 9: leg 0's FILL result landed without its Fill records; leg 1 was never answered."""
    legs = _legs(venue, "rec-leak", now_us() + 2_000_000)
    rest = KalshiRest(venue["kalshi"].rest_url, venue["kalshi"].key_id, venue["kalshi"].load_private_key())
    try:
        acks = [await rest.create_order(ticker=r.market, side=r.side, action=r.action, price=r.limit_price, count=r.size,
                                        client_order_id=r.client_order_id) for r in legs]
    finally:
        await rest.aclose()
    first = LegResult("FILL", filled=acks[0].filled, fill_cost=acks[0].fill_cost, fee=acks[0].fee, venue_order_id=acks[0].order_id)
    await _previous_owner_left(venue, legs, [(legs[0], first)])
    outcomes, fills = await _recover(venue, 1)
    assert outcomes["rec-leak"]["state"] == "FILLED"
    assert sorted((f["client_order_id"], f["size"]) for f in fills) == [("rec-leak:0:0", 1000), ("rec-leak:1:0", 1000)]
    assert len(_accepted(venue)) == 2


async def test_a_venue_that_cannot_be_asked_makes_it_unknown(venue: dict[str, Any]) -> None:
    legs = _legs(venue, "rec-unknown", now_us() + 300_000)
    await _previous_owner_left(venue, legs, [])
    venue["sim"].world.faults["KALSHI"].update({"p5xx": 1.0})  # every lookup fails
    try:
        outcomes, _ = await _recover(venue, 1)
    finally:
        venue["sim"].world.faults["KALSHI"].update({"p5xx": 0.0})
    assert outcomes["rec-unknown"]["state"] == "UNKNOWN" and "rec-unknown:0:0" in outcomes["rec-unknown"]["reason"]
    assert _accepted(venue) == []
