"""Two executors in one group; one is stopped and restarted mid-stream. The simulator's order log (ground
truth) must show no leg executed twice, and every signal must end with exactly one terminal outcome."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from core import codec
from core.settings import KafkaSettings
from core.topics import topic_name
from executor.ledger import TERMINAL
from executor.run import build
from executor.settings import ExecutorSettings
from tests.integration.test_executor_kalshi import Rig, executed, send, signal
from tests.kafka_helpers import eventually, read_records
from venues.kalshi.settings import KalshiSettings
from venues.sim.runner import Simulator
from venues.sim.settings import SimSettings

pytestmark = pytest.mark.integration

N = 40


async def test_stop_and_restart_one_of_two_executors(topics: KafkaSettings, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from cryptography.hazmat.primitives import serialization

    caplog.set_level(logging.DEBUG)
    async with Simulator(SimSettings(games=1, updates_per_s=0, arb_rate_per_min=0, autostart=False, kalshi_tier="unlimited")) as sim:
        assert sim.kalshi_private_key is not None
        key_pem = sim.kalshi_private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        key = tmp_path / "k.pem"
        key.write_bytes(key_pem)
        game = next(iter(sim.world.games.values()))
        a, b = game.kalshi_markets[game.away], game.kalshi_markets[game.home]
        sim.world.set_book("KALSHI", a, bids=[(4300, 10**7)], asks=[(4500, 10**7)])
        sim.world.set_book("KALSHI", b, bids=[(4800, 10**7)], asks=[(5000, 10**7)])
        kalshi = KalshiSettings(rest_url=sim.kalshi_url, key_id=sim.settings.kalshi_key_id, private_key_file=str(key), tier="unlimited")
        settings = ExecutorSettings(recovery_window_ms=500, lookup_grace_ms=500, max_orders_per_s=10_000)

        def start() -> tuple:
            service, closers = build(topics, settings, kalshi=kalshi)
            return service, closers, asyncio.create_task(service.run())

        async def stop(x: tuple) -> None:
            x[0].stop()
            await asyncio.wait_for(x[2], 30)
            for c in x[1]:
                await c.aclose() if hasattr(c, "aclose") else c.stop()

        one, two = start(), start()
        await eventually(lambda: one[0].ready() and two[0].ready(), 30)
        rig = Rig(sim, topics, one[0], game, a, b)
        sigs = [signal(rig, f"rb-{i:03d}", size=100, ttl_ms=20_000) for i in range(N)]
        send(rig, *sigs[: N // 2])
        await eventually(lambda: len(executed(rig)) >= 10, 30)
        await stop(one)  # its partitions move to `two` mid-stream
        send(rig, *sigs[N // 2 :])
        one = start()
        msgs = await asyncio.to_thread(read_records, topics, topic_name("outcomes", topics), N, 60)
        await stop(one)
        await stop(two)

    outcomes: dict[str, list[str]] = {}
    for m in msgs:
        rec = codec.decode(m.value(), "Outcome")
        outcomes.setdefault(rec["signal_id"], []).append(rec["state"])
    assert set(outcomes) == {s["signal_id"] for s in sigs}
    assert all(sum(st in TERMINAL for st in states) == 1 for states in outcomes.values()), outcomes  # exactly one outcome each
    # Ground truth: every client_order_id reached the venue at most once.
    log = [r.client_order_id for r in sim.world.orderlog.query(venue="KALSHI") if r.accepted and r.account != "admin"]
    assert len(log) == len(set(log)), "a leg was executed twice"
    from collections import Counter
    firsts = Counter(states[0] for states in outcomes.values())
    assert firsts["FILLED"] == N, firsts  # deep books, long deadlines: every signal fills
    # Secrets never reach the logs: the Kalshi private key, in any of its lines.
    text = "\n".join(r.getMessage() for r in caplog.records)
    body_lines = [ln for ln in key_pem.decode().splitlines() if ln and not ln.startswith("-----")]
    assert not any(ln in text for ln in body_lines)
