"""An executor resuming at a committed offset that points into a batch of signals executes the rest of it
and nothing before it (tests/integration/test_broker_conformance.py checks the broker side of this)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import TopicPartition
from cryptography.hazmat.primitives import serialization

from core import codec
from core.kafka import make_consumer, make_producer
from core.settings import KafkaSettings
from core.topics import topic_name
from executor.run import build
from executor.service import ExecutorService
from executor.settings import ExecutorSettings
from simulators.runner import Simulator
from simulators.settings import SimSettings
from tests.integration.test_executor_kalshi import Rig, executed, executions, outcomes, send, signal
from tests.kafka_helpers import eventually, read_records
from venues.kalshi.settings import KalshiSettings

pytestmark = pytest.mark.integration

N, COMMITTED = 10, 4


async def test_resuming_inside_a_batch_executes_the_rest_and_nothing_before(topics: KafkaSettings, tmp_path: Path) -> None:
    async with Simulator(SimSettings(games=1, updates_per_s=0, arb_rate_per_min=0, autostart=False, kalshi_tier="unlimited")) as sim:
        assert sim.kalshi_private_key is not None
        key = tmp_path / "kalshi.pem"
        key.write_bytes(sim.kalshi_private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        game = next(iter(sim.world.games.values()))
        a, b = game.kalshi_markets[game.away], game.kalshi_markets[game.home]
        sim.world.set_book("KALSHI", a, bids=[(4300, 10**7)], asks=[(4500, 10**7)])
        sim.world.set_book("KALSHI", b, bids=[(4800, 10**7)], asks=[(5000, 10**7)])
        kalshi = KalshiSettings(rest_url=sim.kalshi_url, key_id=sim.settings.kalshi_key_id, private_key_file=str(key), tier="unlimited")
        service, closers = build(topics, ExecutorSettings(recovery_window_ms=500, lookup_grace_ms=500, max_orders_per_s=10_000), kalshi=kalshi)
        rig = Rig(sim, topics, service, game, a, b)

        # N signals of one game in ONE batch (a long linger, then flush sends them together) ...
        sigs = [signal(rig, f"resume-{i:02d}", size=100, ttl_ms=30_000) for i in range(N)]
        topic = topic_name("signals", topics)
        producer = make_producer(topics, **{"linger.ms": 5000})
        for s in sigs:
            producer.produce(topic, key=s["game_id"], value=codec.encode("Signal", s))
        assert producer.flush(15) == 0
        records = await asyncio.to_thread(read_records, topics, topic, N)
        partition = records[0].partition()
        assert [m.offset() for m in records] == list(range(N))
        # ... and the group's committed offset inside it, as if signals 0..3 had been executed.
        group = make_consumer(topics, service.group_id)
        try:
            group.commit(offsets=[TopicPartition(topic, partition, COMMITTED)], asynchronous=False)
        finally:
            group.close()

        task = asyncio.create_task(service.run())
        try:
            await eventually(service.ready, 30)
            out = await outcomes(rig, N - COMMITTED, timeout=30)
            assert set(out) == {s["signal_id"] for s in sigs[COMMITTED:]}
            assert all(o["state"] == "FILLED" for o in out.values())
            assert service.stats.signals == N - COMMITTED  # 0..3 were never delivered again
            assert len(executions(rig)) == 2 * (N - COMMITTED)  # two legs each, every one executed once (copies count)
            assert len(executed(rig)) == 2 * (N - COMMITTED)
        finally:
            service.stop()
            await asyncio.wait_for(task, 30)
            for c in closers:
                await c.aclose() if hasattr(c, "aclose") else c.stop()


async def test_a_restarted_executor_recovers_from_its_checkpoint_not_from_the_beginning(topics: KafkaSettings, tmp_path: Path) -> None:
    """Issue 24 defect 7: every results commit stores, with the consumed offset, where recovery must start. A
    restarted executor reads only what follows the oldest open signal, plus the dedup horizon: a signal
    delivered again inside the horizon is recognised and never executed twice."""
    async with Simulator(SimSettings(games=1, updates_per_s=0, arb_rate_per_min=0, autostart=False, kalshi_tier="unlimited")) as sim:
        assert sim.kalshi_private_key is not None
        key = tmp_path / "kalshi.pem"
        key.write_bytes(sim.kalshi_private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        game = next(iter(sim.world.games.values()))
        a, b = game.kalshi_markets[game.away], game.kalshi_markets[game.home]
        sim.world.set_book("KALSHI", a, bids=[(4300, 10**7)], asks=[(4500, 10**7)])
        sim.world.set_book("KALSHI", b, bids=[(4800, 10**7)], asks=[(5000, 10**7)])
        kalshi = KalshiSettings(rest_url=sim.kalshi_url, key_id=sim.settings.kalshi_key_id, private_key_file=str(key), tier="unlimited")

        async def run_until(horizon_s: int, done: Callable[[ExecutorService], bool], *to_send: dict[str, Any]) -> ExecutorService:
            settings = ExecutorSettings(recovery_window_ms=500, lookup_grace_ms=500, max_orders_per_s=10_000, dedup_horizon_s=horizon_s)
            service, closers = build(topics, settings, kalshi=kalshi)
            task = asyncio.create_task(service.run())
            try:
                await eventually(service.ready, 30)
                send(Rig(sim, topics, service, game, a, b), *to_send)
                await eventually(lambda: done(service), 30)
                return service
            finally:
                service.stop()
                await asyncio.wait_for(task, 30)
                for c in closers:
                    await c.aclose() if hasattr(c, "aclose") else c.stop()

        rig = Rig(sim, topics, None, game, a, b)  # type: ignore[arg-type]
        first = [signal(rig, f"cp-{i:02d}", size=100, ttl_ms=60_000) for i in range(N)]
        one = await run_until(600, lambda s: s.stats.executed == N, *first)
        assert one.stats.recovery_records == 0
        # No horizon: only the checkpoint bounds the read; the last signal, delivered again, is still recognised.
        two = await run_until(0, lambda s: s.stats.executed == 1 and s.stats.skipped_duplicate == 1, first[-1], signal(rig, "cp-new", size=100, ttl_ms=60_000))
        assert 0 < two.stats.recovery_records < 2 * N, two.stats  # a few records, not the history (2 intents + 2 results + 1 outcome each)
        # With the horizon, the oldest signal delivered again is recognised too (without it, it would execute again).
        three = await run_until(600, lambda s: s.stats.skipped_duplicate == 1, first[0])
        assert three.stats.recovery_records >= 5 * N and three.stats.executed == 0
        assert len(executed(rig)) == 2 * (N + 1)  # every leg executed once
