"""Two executors in one group; one is stopped and restarted mid-stream. The simulator's order log (ground
truth) must show no leg executed twice, and every signal must end with exactly one terminal outcome."""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path
from typing import Any

import pytest

from core import codec
from core.kafka import make_consumer, make_producer
from core.settings import KafkaSettings
from core.topics import topic_name
from executor.ledger import TERMINAL
from executor.run import build
from executor.settings import ExecutorSettings
from simulators.runner import Simulator
from simulators.settings import SimSettings
from tests.factories import NO_FEE, kalshi_book, pairing
from tests.integration.test_executor_kalshi import Rig, executed, executions, send, signal
from tests.kafka_helpers import eventually, read_records
from venues.kalshi.settings import KalshiSettings

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


class Gate:
    """Wraps the executor's real Kalshi client: the first place() waits until the test opens the gate, so a
    group membership change can be made to happen while a signal is in flight, deterministically."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.venue = inner, inner.venue
        self.entered, self.opened = asyncio.Event(), asyncio.Event()

    async def prepare(self, req: Any) -> Any:
        return await self.inner.prepare(req)

    async def place(self, req: Any) -> Any:
        self.entered.set()
        await self.opened.wait()
        return await self.inner.place(req)

    async def lookup(self, req: Any) -> Any:
        return await self.inner.lookup(req)

    async def resolve(self, req: Any, **kw: Any) -> Any:
        return await self.inner.resolve(req, **kw)


async def test_a_member_joining_while_a_signal_is_in_flight_does_not_break_its_results_commit(topics: KafkaSettings, tmp_path: Path) -> None:
    """Issue 24 defect 6, on real Kafka: a member joins the group between a signal's INTENT commit and its
    results commit, so the group's generation moves on (cooperative-sticky bumps it for every member). The
    results commit must carry the current generation: with the metadata taken when the signal started, Kafka
    answers ILLEGAL_GENERATION every time and the worker fails."""
    from cryptography.hazmat.primitives import serialization

    async with Simulator(SimSettings(games=1, updates_per_s=0, arb_rate_per_min=0, autostart=False, kalshi_tier="unlimited")) as sim:
        assert sim.kalshi_private_key is not None
        key = tmp_path / "k.pem"
        key.write_bytes(sim.kalshi_private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        game = next(iter(sim.world.games.values()))
        a, b = game.kalshi_markets[game.away], game.kalshi_markets[game.home]
        sim.world.set_book("KALSHI", a, bids=[(4300, 10**6)], asks=[(4500, 10**6)])
        sim.world.set_book("KALSHI", b, bids=[(4800, 10**6)], asks=[(5000, 10**6)])
        kalshi = KalshiSettings(rest_url=sim.kalshi_url, key_id=sim.settings.kalshi_key_id, private_key_file=str(key), tier="unlimited")
        service, closers = build(topics, ExecutorSettings(recovery_window_ms=500, lookup_grace_ms=500), kalshi=kalshi)
        gate = Gate(service.clients["KALSHI"])
        service.clients["KALSHI"] = gate  # type: ignore[index]
        task = asyncio.create_task(service.run())
        joined = threading.Event()
        stop_joiner = threading.Event()

        def joiner() -> None:  # a second member of the executor's group
            c = make_consumer(topics, service.group_id)
            c.subscribe([topic_name("signals", topics)], on_assign=lambda _c, parts: joined.set() if parts else None)
            try:
                while not stop_joiner.is_set():
                    c.poll(0.05)
            finally:
                c.close()

        thread = threading.Thread(target=joiner, daemon=True)
        try:
            await eventually(service.ready, 30)
            rig = Rig(sim, topics, service, game, a, b)
            s = signal(rig, "gen-1", size=100, ttl_ms=60_000)
            send(rig, s)
            await asyncio.wait_for(gate.entered.wait(), 30)  # intents committed, legs about to be sent
            p = next(iter(service.workers))
            thread.start()
            # The generation has moved once the joiner holds partitions, or once `p` is being revoked from us.
            await eventually(lambda: joined.is_set() or p not in service.workers, 30)
            gate.opened.set()
            msgs = await asyncio.to_thread(read_records, topics, topic_name("outcomes", topics), 1, 30)
            assert codec.decode(msgs[0].value(), "Outcome")["state"] == "FILLED"
            assert service.stats.worker_failures == 0 and service.failure is None
            assert sorted(executions(rig)) == [("gen-1:0:0", 100), ("gen-1:1:0", 100)]
        finally:
            stop_joiner.set()
            if thread.is_alive():
                thread.join(10)
            service.stop()
            await asyncio.wait_for(task, 30)
            for c in closers:
                await c.aclose() if hasattr(c, "aclose") else c.stop()


async def test_a_member_killed_during_a_handover_leaves_exactly_one_outcome_per_signal(topics: KafkaSettings, tmp_path: Path) -> None:
    """Three `arb execute` processes: A and B consume a stream of signals; C joins (a handover: partitions move
    between members) and B is SIGKILLed while it happens. Every signal ends with exactly one terminal Outcome,
    and the venue executed every leg at most once."""
    import os
    import random
    import signal as signals
    import subprocess
    import sys

    from cryptography.hazmat.primitives import serialization

    n = 80
    rng = random.Random(7)
    async with Simulator(SimSettings(games=1, updates_per_s=0, arb_rate_per_min=0, autostart=False, kalshi_tier="unlimited")) as sim:
        assert sim.kalshi_private_key is not None
        key = tmp_path / "k.pem"
        key.write_bytes(sim.kalshi_private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        game = next(iter(sim.world.games.values()))
        a, b = game.kalshi_markets[game.away], game.kalshi_markets[game.home]
        sim.world.set_book("KALSHI", a, bids=[(4300, 10**7)], asks=[(4500, 10**7)])
        sim.world.set_book("KALSHI", b, bids=[(4800, 10**7)], asks=[(5000, 10**7)])
        env = {**os.environ, "ARB_BOOTSTRAP": topics.bootstrap, "ARB_TOPIC_PREFIX": topics.topic_prefix, "ARB_SESSION_TIMEOUT_MS": "2000",
               "ARB_KALSHI_REST_URL": sim.kalshi_url, "ARB_KALSHI_WS_URL": sim.kalshi_ws_url, "ARB_KALSHI_KEY_ID": sim.settings.kalshi_key_id,
               "ARB_KALSHI_PRIVATE_KEY_FILE": str(key), "ARB_KALSHI_TIER": "premier", "ARB_EXEC_MAX_ORDERS_PER_S": "1000",
               "ARB_EXEC_LOOKUP_GRACE_MS": "500", "ARB_LOG_FORMAT": "json"}
        logs = {name: (tmp_path / f"{name}.log").open("ab") for name in "ABC"}
        procs: dict[str, subprocess.Popen[bytes]] = {}

        def start(name: str) -> None:
            procs[name] = subprocess.Popen([sys.executable, "-m", "cli", "execute"], env=env, stdout=logs[name], stderr=logs[name],
                                           start_new_session=True)

        def logged(name: str, needle: bytes) -> bool:
            return needle in (tmp_path / f"{name}.log").read_bytes()

        rig = Rig(sim, topics, None, game, a, b)  # type: ignore[arg-type]
        sigs = [signal(rig, f"hk-{i:03d}", size=100, ttl_ms=30_000) for i in range(n)]
        for i, s in enumerate(sigs):  # keys spread over the partitions, so every member owns some signals
            s["game_id"] = f"{game.game_id}-k{i % 10}"
        # `arb execute` admits only signals of games paired on `markets` whose legs match the pairing (executor/limits.py):
        # the ten keys as two-outcome games of the simulator's two markets, without fees (the signals carry none).
        outcomes = [game.away, game.home]
        pairings = [{**pairing(f"{game.game_id}-k{k}"), "outcomes": outcomes,
                     "books": [kalshi_book(a, game.away, outcomes, NO_FEE), kalshi_book(b, game.home, outcomes, NO_FEE)]} for k in range(10)]
        producer = make_producer(topics)
        for rec in pairings:
            producer.produce(topic_name("markets", topics), key=rec["game_id"], value=codec.encode("MarketPairing", rec))
        assert producer.flush(10) == 0
        try:
            start("A")
            start("B")
            await eventually(lambda: logged("A", b"assigned signals partition") and logged("B", b"assigned signals partition"), 60)

            async def stream() -> None:  # signals keep coming through the whole handover
                for s in sigs:
                    send(rig, s)
                    await asyncio.sleep(0.05)

            # Orders take 300 ms at the venue: a member always has signals in flight when it dies (intents committed,
            # results not), which the new owner's recovery must settle exactly once.
            sim.world.faults["KALSHI"].update({"latency_ms": 300})
            sender = asyncio.create_task(stream())
            start("C")  # the handover starts when C joins ...
            await eventually(lambda: logged("C", b"assigned signals partition") or procs["C"].poll() is not None, 30)
            await asyncio.sleep(rng.uniform(0.0, 0.3))
            os.killpg(procs["B"].pid, signals.SIGKILL)  # ... and B dies in the middle of it
            procs["B"].wait()
            await sender
            msgs = await asyncio.to_thread(read_records, topics, topic_name("outcomes", topics), n, 90)
            await asyncio.sleep(1.0)  # a late second outcome would show in the fresh read below
            msgs = await asyncio.to_thread(read_records, topics, topic_name("outcomes", topics), len(msgs), 30)
        finally:
            for p in procs.values():
                if p.poll() is None:
                    os.killpg(p.pid, signals.SIGTERM)
            for p in procs.values():
                try:
                    p.wait(20)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signals.SIGKILL)
            for f in logs.values():
                f.close()
        terminal: dict[str, list[str]] = {}
        for m in msgs:
            rec = codec.decode(m.value(), "Outcome")
            if rec["state"] in TERMINAL:
                terminal.setdefault(rec["signal_id"], []).append(rec["state"])
        assert set(terminal) == {s["signal_id"] for s in sigs}, "a signal without an outcome"
        assert all(len(states) == 1 for states in terminal.values()), {k: v for k, v in terminal.items() if len(v) > 1}
        done = executed(rig)  # fails if any leg executed twice
        states = {sid: st[0] for sid, st in terminal.items()}
        assert len(done) == 2 * sum(1 for st in states.values() if st == "FILLED"), states
        assert sum(1 for st in states.values() if st == "FILLED") >= n // 4, states  # signals were really executed (load expires some)
