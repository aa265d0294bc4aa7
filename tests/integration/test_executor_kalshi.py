"""The executor against the Kalshi simulator and Kafka (intra-Kalshi pairs A-YES + B-YES).

Ground truth for "executed exactly once" is the simulator's order log.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from core import codec
from core.control import KILL_SWITCH, control_record, publish
from core.kafka import make_producer
from core.settings import KafkaSettings
from core.topics import topic_name
from core.units import now_us
from executor.run import build
from executor.service import ExecutorService
from executor.settings import ExecutorSettings
from simulators.runner import Simulator
from simulators.settings import SimSettings
from tests.kafka_helpers import eventually, read_records
from venues.kalshi.settings import KalshiSettings

pytestmark = pytest.mark.integration


@dataclass
class Rig:
    sim: Simulator
    kafka: KafkaSettings
    service: ExecutorService
    game: Any
    a: str
    b: str


@pytest.fixture
async def rig(topics: KafkaSettings, tmp_path: Path) -> AsyncIterator[Rig]:
    async with Simulator(SimSettings(games=1, updates_per_s=0, arb_rate_per_min=0, autostart=False, kalshi_tier="unlimited")) as sim:
        key = tmp_path / "kalshi.pem"
        assert sim.kalshi_private_key is not None
        key.write_bytes(sim.kalshi_private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        game = next(iter(sim.world.games.values()))
        a, b = game.kalshi_markets[game.away], game.kalshi_markets[game.home]
        kalshi = KalshiSettings(rest_url=sim.kalshi_url, ws_url=sim.kalshi_ws_url, key_id=sim.settings.kalshi_key_id,
                                private_key_file=str(key), tier="unlimited")
        settings = ExecutorSettings(breaker_threshold=3, breaker_cooldown_ms=500, recovery_window_ms=500, lookup_grace_ms=500)
        service, closers = build(topics, settings, kalshi=kalshi)
        task = asyncio.create_task(service.run())
        await eventually(service.ready, 30)
        try:
            yield Rig(sim, topics, service, game, a, b)
        finally:
            service.stop()
            await asyncio.wait_for(task, 30)
            for c in closers:
                await c.aclose() if hasattr(c, "aclose") else c.stop()


def signal(rig: Rig, sid: str, size: int = 1000, prices: tuple[int, int] = (4500, 5000), ttl_ms: int = 3000) -> dict[str, Any]:
    t = now_us()
    legs = [{"venue": "KALSHI", "market": m, "book": m, "side": "YES", "limit_price": p, "size": size, "expected_fee": 0,
             "pays_on": [o]} for m, p, o in ((rig.a, prices[0], rig.game.away), (rig.b, prices[1], rig.game.home))]
    return {"signal_id": sid, "game_id": rig.game.game_id, "legs": legs, "size": size, "cost": (prices[0] + prices[1]) * size,
            "edge": (10000 - prices[0] - prices[1]) * size, "event_ts": t, "deadline_ts": t + ttl_ms * 1000,
            "input_tick_ids": ["t1", "t2"], "input_received_ts": [t, t], "detected_ts": t}


def send(rig: Rig, *signals: dict[str, Any]) -> None:
    p = make_producer(rig.kafka)
    for s in signals:
        p.produce(topic_name("signals", rig.kafka), key=s["game_id"], value=codec.encode("Signal", s))
    assert p.flush(10) == 0


async def outcomes(rig: Rig, n: int, timeout: float = 30) -> dict[str, dict[str, Any]]:
    msgs = await asyncio.to_thread(read_records, rig.kafka, topic_name("outcomes", rig.kafka), n, timeout)
    out: dict[str, dict[str, Any]] = {}
    for m in msgs:
        rec = codec.decode(m.value(), "Outcome")
        out.setdefault(rec["signal_id"], rec)  # first terminal outcome wins
    return out


def executions(rig: Rig) -> list[tuple[str, int]]:
    """(client_order_id, filled) for EVERY order request the simulator accepted from us: a re-sent order that
    executed again shows twice (the ground truth; a dict would collapse the copies)."""
    return [(r.client_order_id, r.filled) for r in rig.sim.world.orderlog.query(venue="KALSHI") if r.accepted and r.account != "admin"]


def executed(rig: Rig) -> dict[str, int]:
    """client_order_id -> filled size of every accepted order; fails the test if any order was accepted twice."""
    log = executions(rig)
    twice = sorted(c for c, n in Counter(c for c, _ in log).items() if n > 1)
    assert not twice, f"orders executed more than once: {twice}"
    return dict(log)


async def test_both_legs_fill_once_even_when_the_signal_is_delivered_twice(rig: Rig) -> None:
    w = rig.sim.world
    w.set_book("KALSHI", rig.a, bids=[(4300, 5000)], asks=[(4500, 5000)])
    w.set_book("KALSHI", rig.b, bids=[(4800, 5000)], asks=[(5000, 5000)])
    s = signal(rig, "sig-both")
    send(rig, s, s)  # an at-least-once duplicate
    out = await outcomes(rig, 1)
    assert out["sig-both"]["state"] == "FILLED" and out["sig-both"]["matched_size"] == 1000
    assert out["sig-both"]["locked_profit"] == 10000 * 1000 - (4500 + 5000) * 1000 - out["sig-both"]["fees"]
    await asyncio.sleep(0.5)
    assert sorted(executions(rig)) == [("sig-both:0:0", 1000), ("sig-both:1:0", 1000)]


async def test_one_sided_fill_is_unwound_on_the_leg_that_filled(rig: Rig) -> None:
    w = rig.sim.world
    w.set_book("KALSHI", rig.a, bids=[(4400, 5000)], asks=[(4500, 5000)])
    w.set_book("KALSHI", rig.b, bids=[(4800, 5000)], asks=[(5100, 5000)])  # B too expensive: leg 1 fills nothing
    send(rig, signal(rig, "sig-one", ttl_ms=2000))
    out = await outcomes(rig, 1)
    assert out["sig-one"]["state"] == "UNWOUND"
    orders = executed(rig)
    assert orders["sig-one:0:0"] == 1000 and orders["sig-one:1:0"] == 0
    sells = {k: v for k, v in orders.items() if k.startswith("sig-one:0:") and k != "sig-one:0:0"}
    completes = {k: v for k, v in orders.items() if k.startswith("sig-one:1:") and k != "sig-one:1:0"}
    assert sum(sells.values()) == 1000, (sells, completes)  # the excess was sold on leg 0, the leg that had it
    assert sum(completes.values()) == 0


def three_leg_signal(rig: Rig, sid: str, size: int = 1000, price: int = 3000, ttl_ms: int = 3000) -> dict[str, Any]:
    """A draw league's three-leg cover on Kalshi (issue 29 item 6): away YES + home YES + tie YES."""
    s = signal(rig, sid, size, (price, price), ttl_ms)
    tie = rig.game.kalshi_markets["draw"]
    s["legs"].append({**s["legs"][0], "market": tie, "book": tie, "pays_on": ["draw"]})
    s["cost"], s["edge"] = 3 * price * size, (10000 - 3 * price) * size
    s["input_tick_ids"], s["input_received_ts"] = ["t1", "t2", "t3"], [*s["input_received_ts"], s["event_ts"]]
    return s


async def test_a_three_leg_cover_fills_every_leg_once(rig: Rig) -> None:
    assert "draw" in rig.game.kalshi_markets, "the rig's game must be in a draw league"
    w = rig.sim.world
    for m in (rig.a, rig.b, rig.game.kalshi_markets["draw"]):
        w.set_book("KALSHI", m, bids=[(2800, 5000)], asks=[(3000, 5000)])
    s = three_leg_signal(rig, "sig-three")
    send(rig, s, s)  # an at-least-once duplicate
    out = await outcomes(rig, 1)
    assert out["sig-three"]["state"] == "FILLED" and out["sig-three"]["matched_size"] == 1000
    await asyncio.sleep(0.5)
    assert sorted(executions(rig)) == [("sig-three:0:0", 1000), ("sig-three:1:0", 1000), ("sig-three:2:0", 1000)]


async def test_a_three_leg_cover_with_one_leg_unfilled_is_unwound_on_the_two_that_filled(rig: Rig) -> None:
    w = rig.sim.world
    tie = rig.game.kalshi_markets["draw"]
    w.set_book("KALSHI", rig.a, bids=[(2900, 5000)], asks=[(3000, 5000)])
    w.set_book("KALSHI", rig.b, bids=[(2900, 5000)], asks=[(3000, 5000)])
    w.set_book("KALSHI", tie, bids=[(2900, 5000)], asks=[(3500, 5000)])  # the tie is too dear: leg 2 fills nothing
    send(rig, three_leg_signal(rig, "sig-3u", ttl_ms=1500))
    out = await outcomes(rig, 1)
    assert out["sig-3u"]["state"] == "UNWOUND", out
    orders = executed(rig)
    assert orders["sig-3u:0:0"] == 1000 and orders["sig-3u:1:0"] == 1000 and orders["sig-3u:2:0"] == 0
    for leg in (0, 1):  # each filled leg sold its own excess
        assert sum(v for k, v in orders.items() if k.startswith(f"sig-3u:{leg}:") and k != f"sig-3u:{leg}:0") == 1000, orders
    assert sum(v for k, v in orders.items() if k.startswith("sig-3u:2:") and k != "sig-3u:2:0") == 0  # the completion found nothing


async def test_kill_switch_blocks_orders_until_resume(rig: Rig) -> None:
    w = rig.sim.world
    w.set_book("KALSHI", rig.a, bids=[(4300, 5000)], asks=[(4500, 5000)])
    w.set_book("KALSHI", rig.b, bids=[(4800, 5000)], asks=[(5000, 5000)])
    publish(rig.kafka, control_record(KILL_SWITCH, "KILL_SWITCH", True, reason="test", source="test"))
    await eventually(lambda: rig.service.control.kill_switch() is not None)
    send(rig, signal(rig, "sig-killed"))
    out = await outcomes(rig, 1)
    assert out["sig-killed"]["state"] == "REJECTED" and "kill switch" in out["sig-killed"]["reason"]
    assert executed(rig) == {}
    publish(rig.kafka, control_record(KILL_SWITCH, "KILL_SWITCH", False, reason="test", source="test"))
    await eventually(lambda: rig.service.control.kill_switch() is None)
    send(rig, signal(rig, "sig-after"))
    out = await outcomes(rig, 2)
    assert out["sig-after"]["state"] == "FILLED"


async def test_expired_signal_sends_nothing(rig: Rig) -> None:
    s = replace_deadline(signal(rig, "sig-old"), now_us() - 1_000_000)
    send(rig, s)
    out = await outcomes(rig, 1)
    assert out["sig-old"]["state"] == "EXPIRED"
    assert executed(rig) == {}


def replace_deadline(s: dict[str, Any], deadline: int) -> dict[str, Any]:
    return {**s, "deadline_ts": deadline}



# ---- ambiguous venue answers (issue 24; design.md "Ambiguous venue answers") ------------------------------


async def test_an_order_that_executed_behind_a_500_is_found_by_lookup_and_never_sent_again(rig: Rig) -> None:
    """Defect 1: the venue executes the order, answers 500, and lists it only 400 ms later. The old client looked
    up once, found nothing and sent the same client_order_id again: the IOC executed twice."""
    w = rig.sim.world
    w.set_book("KALSHI", rig.a, bids=[(4300, 5000)], asks=[(4500, 5000)])
    w.set_book("KALSHI", rig.b, bids=[(4800, 5000)], asks=[(5000, 5000)])
    w.faults["KALSHI"].update({"next_accept_then_5xx": 1, "lookup_lag_ms": 400})
    send(rig, signal(rig, "amb-500"))
    out = await outcomes(rig, 1)
    assert out["amb-500"]["state"] == "FILLED", out
    assert sorted(executions(rig)) == [("amb-500:0:0", 1000), ("amb-500:1:0", 1000)]  # each leg executed exactly once
    assert [r.fault for r in rig.sim.world.orderlog.query(venue="KALSHI") if r.fault] == ["accept_then_5xx"]


async def test_an_order_whose_answer_is_lost_is_found_by_lookup(rig: Rig) -> None:
    """The venue executes the order and the answer never comes (the client times out): same rule."""
    w = rig.sim.world
    w.set_book("KALSHI", rig.a, bids=[(4300, 5000)], asks=[(4500, 5000)])
    w.set_book("KALSHI", rig.b, bids=[(4800, 5000)], asks=[(5000, 5000)])
    w.faults["KALSHI"].update({"next_accept_then_timeout": 1, "timeout_hold_ms": 30_000})
    send(rig, signal(rig, "amb-lost", ttl_ms=1000))
    out = await outcomes(rig, 1, timeout=40)
    assert out["amb-lost"]["state"] == "FILLED", out
    assert sorted(executions(rig)) == [("amb-lost:0:0", 1000), ("amb-lost:1:0", 1000)]


async def test_a_401_is_a_rejection_that_leaves_no_leg_one_sided(rig: Rig) -> None:
    """Defect 5: a 401 is a definite "not accepted" (it used to become UNKNOWN through the catch-all, freezing
    the filled sibling); the policy completes or unwinds, and the breaker does not count it."""
    w = rig.sim.world
    w.set_book("KALSHI", rig.a, bids=[(4400, 5000)], asks=[(4500, 5000)])
    w.set_book("KALSHI", rig.b, bids=[(4800, 5000)], asks=[(5000, 5000)])
    w.faults["KALSHI"].update({"next_401": 1})
    send(rig, signal(rig, "amb-401"))
    out = await outcomes(rig, 1)
    assert out["amb-401"]["state"] in ("COMPLETED", "UNWOUND"), out
    nets = {0: 0, 1: 0}
    for r in rig.sim.world.orderlog.query(venue="KALSHI"):
        if r.accepted and r.account != "admin" and r.client_order_id.startswith("amb-401:"):
            leg = int(r.client_order_id.split(":")[1])
            nets[leg] += r.filled if r.side == "buy" else -r.filled
    assert nets[0] == nets[1], nets  # hedged: no leg left one-sided
    assert rig.service.clients["KALSHI"].breaker.failures == 0  # type: ignore[attr-defined]


async def test_an_order_whose_state_cannot_be_established_is_unknown_and_alerted(rig: Rig) -> None:
    """Defect 5 / deliverable "UNKNOWN is a real alert": the venue executes leg orders and then fails every
    request (answers lost, lookups 5xx). The outcome is UNKNOWN with its reason, the known filled leg is not
    bought again, and the alert is on `control` (`arb status` shows it) and in the metric."""
    from core import metrics
    from core.control import ControlState

    w = rig.sim.world
    w.set_book("KALSHI", rig.a, bids=[(4300, 5000)], asks=[(4500, 5000)])
    w.set_book("KALSHI", rig.b, bids=[(4800, 5000)], asks=[(5000, 5000)])
    before = metrics.UNHEDGED.labels("KALSHI")._value.get()
    w.faults["KALSHI"].update({"accept_then_timeout": 1.0, "timeout_hold_ms": 30_000})
    send(rig, signal(rig, "amb-unknown", ttl_ms=3000))
    await eventually(lambda: len([r for r in w.orderlog.query(venue="KALSHI") if r.accepted and r.account != "admin"]) == 2, 20)
    w.faults["KALSHI"].update({"accept_then_timeout": 0.0, "p5xx": 1.0})  # from now on every request fails, lookups too
    out = await outcomes(rig, 1, timeout=60)
    w.faults["KALSHI"].update({"p5xx": 0.0})
    assert out["amb-unknown"]["state"] == "UNKNOWN", out
    assert "amb-unknown:0:0" in out["amb-unknown"]["reason"] and "amb-unknown:1:0" in out["amb-unknown"]["reason"]
    assert sorted(executions(rig)) == [("amb-unknown:0:0", 1000), ("amb-unknown:1:0", 1000)]  # nothing sent twice
    assert metrics.UNHEDGED.labels("KALSHI")._value.get() - before == 2000  # both legs may be held: neither is known
    control = ControlState(rig.kafka).start(wait_s=10)
    try:
        await eventually(lambda: "alert:KALSHI" in control.records, 10)
        alert = control.records["alert:KALSHI"]
    finally:
        control.stop()
    assert alert.kind == "ALERT" and "amb-unknown" in (alert.value or "")
