"""The processor sends signals through librdkafka (processors/worker.py): the checkpoint's flush waits for every signal
sent before it, not for later ones, and a signal that could not be delivered stops the checkpoint and the worker."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from confluent_kafka import KafkaError

from core.config import load
from core.settings import KafkaSettings
from processors.faust_settings import WorkerSettings
from processors.settings import DetectorSettings
from processors.worker import ProcessorWorker
from schemas.records import Leg, Signal

Report = Callable[[KafkaError | None, Any], None]


class FakeProducer:
    """librdkafka's Producer as the worker uses it: produce() queues, poll() serves the reports the test released."""

    def __init__(self) -> None:
        self.sent: list[tuple[bytes, Report]] = []
        self.released: list[tuple[Report, KafkaError | None]] = []

    def produce(self, topic: str, *, key: bytes, value: bytes, on_delivery: Report) -> None:
        self.sent.append((key, on_delivery))

    def poll(self, timeout: float) -> int:
        ready, self.released = self.released, []
        for report, err in ready:
            report(err, None)
        return len(ready)

    def deliver(self, i: int, err: KafkaError | None = None) -> None:
        self.released.append((self.sent[i][1], err))


def signal_record(signal_id: str) -> Signal:
    return Signal(signal_id=signal_id, game_id="nfl-20261129-buf-kc", size=1_000, cost=9_000_000, edge=500_000, event_ts=1, deadline_ts=9_000_000,
                  legs=[Leg(venue="KALSHI", market="K-BUF", book="K-BUF", side="YES", limit_price=4_000, size=1_000, expected_fee=1,
                            pays_on=["buf"])], input_tick_ids=["t1"], input_received_ts=[1], detected_ts=2)


async def _idle() -> None:
    return None


def worker(monkeypatch: pytest.MonkeyPatch) -> tuple[ProcessorWorker, FakeProducer, list[BaseException]]:
    w = ProcessorWorker(load(KafkaSettings, env={"ARB_BOOTSTRAP": "127.0.0.1:1"}), load(WorkerSettings, env={}), load(DetectorSettings, env={}))
    producer, crashed = FakeProducer(), []
    w._signals = producer  # type: ignore[assignment]
    monkeypatch.setattr(w.app.producer, "flush", _idle)  # Faust's producer: nothing of its own to deliver here

    async def crash(exc: BaseException) -> None:
        crashed.append(exc)

    monkeypatch.setattr(w.app, "crash", crash)
    return w, producer, crashed


def test_the_flush_waits_for_the_signals_sent_before_it_only(monkeypatch: pytest.MonkeyPatch) -> None:
    w, producer, crashed = worker(monkeypatch)

    async def scenario() -> None:
        await w.send_signal("g1", signal_record(signal_id="s1"))
        await w.send_signal("g2", signal_record(signal_id="s2"))
        flush = asyncio.ensure_future(w._flush())
        await asyncio.sleep(0.02)
        assert not flush.done()  # nothing delivered yet
        await w.send_signal("g3", signal_record(signal_id="s3"))  # sent after the flush began: not waited for
        producer.deliver(1)  # delivered out of order: s2 first (another partition)
        await asyncio.sleep(0.02)
        assert not flush.done()  # s1 is still out
        producer.deliver(0)
        await asyncio.wait_for(flush, 1.0)
        assert [k for k, _ in producer.sent] == [b"g1", b"g2", b"g3"]

    asyncio.run(scenario())
    assert crashed == []


def test_a_signal_that_could_not_be_delivered_stops_the_checkpoint_and_the_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    w, producer, crashed = worker(monkeypatch)

    async def scenario() -> None:
        await w.send_signal("g1", signal_record(signal_id="s1"))
        producer.deliver(0, KafkaError(KafkaError._MSG_TIMED_OUT))
        with pytest.raises(RuntimeError, match="could not be sent"):
            await asyncio.wait_for(w._flush(), 1.0)
        await asyncio.sleep(0)  # the crash task runs

    asyncio.run(scenario())
    assert len(crashed) == 1
