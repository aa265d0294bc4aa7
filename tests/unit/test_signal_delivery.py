"""What the checkpoint's flush waits for (processors/worker.py). Signals, sent through librdkafka: every signal sent
before it, not later ones; a signal that could not be delivered stops the checkpoint and the worker. Table states and
dead letters, given to Faust's producer: every one given so far, so that no offset is committed ahead of the state it
needs; one that failed or is still out after the request timeout stops the checkpoint and the worker."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from types import SimpleNamespace
from typing import Any, cast

import pytest
from aiokafka.errors import KafkaTimeoutError
from confluent_kafka import KafkaError

from core.config import load
from core.settings import KafkaSettings
from processors.checkpoint import GameState
from processors.faust_settings import WorkerSettings
from processors.settings import DetectorSettings
from processors.triage import TickEvent
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


# -- what the worker gives Faust's producer: the table's changelog states and dead letters ---------------------------

def faust_sends(monkeypatch: pytest.MonkeyPatch, w: ProcessorWorker) -> list[asyncio.Future[Any]]:
    """Every record the worker gives Faust's producer gets a future the test resolves (Faust's FutureMessage, resolved
    when the broker acknowledged the record). Faust's own flush is `_idle`: it returns with records still in its buffer
    when none left within 0.1 s (ProducerBuffer.flush_atmost)."""
    futures: list[asyncio.Future[Any]] = []

    def send(*args: object, **kwargs: object) -> asyncio.Future[Any]:
        futures.append(asyncio.get_running_loop().create_future())
        return futures[-1]

    async def send_now(**kwargs: object) -> asyncio.Future[Any]:
        return send()

    monkeypatch.setattr(w.games, "send_changelog", send)
    monkeypatch.setattr(w.dlq, "send", send_now)
    return futures


def committing(monkeypatch: pytest.MonkeyPatch, w: ProcessorWorker) -> list[dict[int, int]]:
    commits: list[dict[int, int]] = []

    async def commit(offsets: Mapping[int, int]) -> bool:
        commits.append(dict(offsets))
        return True

    monkeypatch.setattr(w.checkpoint, "_commit", commit)
    return commits


def test_offsets_are_committed_only_once_the_states_they_need_are_delivered(monkeypatch: pytest.MonkeyPatch) -> None:
    w, _, crashed = worker(monkeypatch)
    futures, commits = faust_sends(monkeypatch, w), committing(monkeypatch, w)

    async def scenario() -> None:
        w.checkpoint.processed({"g1": (3, GameState({}, 10))}, [(3, 10)])
        commit = asyncio.ensure_future(w.checkpoint.commit())
        await asyncio.sleep(0.05)
        assert len(futures) == 1  # the state was given to Faust's producer...
        assert commits == [] and not commit.done()  # ...and no offset is committed before the broker has it
        futures[0].set_result(None)
        await asyncio.wait_for(commit, 1.0)
        assert commits == [{3: 11}]

    asyncio.run(scenario())
    assert crashed == []


def test_a_state_that_could_not_be_written_stops_the_checkpoint_and_the_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    w, _, crashed = worker(monkeypatch)
    futures, commits = faust_sends(monkeypatch, w), committing(monkeypatch, w)

    async def scenario() -> None:
        w.checkpoint.processed({"g1": (3, GameState({}, 10))}, [(3, 10)])
        commit = asyncio.ensure_future(w.checkpoint.commit())
        await asyncio.sleep(0.01)
        futures[0].set_exception(KafkaTimeoutError())
        with pytest.raises(RuntimeError, match="could not be written"):
            await asyncio.wait_for(commit, 1.0)
        # Found by review: the failed commit had already taken the state out of the pending set, so the next commit
        # (Faust's interval, or the stop the crash itself starts) found no state, skipped the flush and committed.
        w.checkpoint.processed({}, [(3, 11)])  # a replayed tick: offsets to commit, no state
        with pytest.raises(RuntimeError, match="could not be written"):
            await w.checkpoint.commit()
        await asyncio.sleep(0)  # the crash task runs

    asyncio.run(scenario())
    assert commits == [] and len(crashed) == 1


def test_a_state_still_out_after_the_request_timeout_stops_the_checkpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    w, _, crashed = worker(monkeypatch)
    futures, commits = faust_sends(monkeypatch, w), committing(monkeypatch, w)
    w._request_timeout_s = 0.05

    async def scenario() -> None:
        w.checkpoint.processed({"g1": (3, GameState({}, 10))}, [(3, 10)])
        with pytest.raises(RuntimeError, match="1 not delivered after 0.05 s"):
            await asyncio.wait_for(w.checkpoint.commit(), 1.0)
        await asyncio.sleep(0)
        assert len(futures) == 1 and not futures[0].done()  # left to Faust, not cancelled

    asyncio.run(scenario())
    assert commits == [] and len(crashed) == 1


def unreadable_tick() -> TickEvent:
    """A `ticks` record that does not decode (partition 2, offset 7): a dead letter."""
    return cast(TickEvent, SimpleNamespace(message=SimpleNamespace(topic="ticks", partition=2, offset=7, key=b"g1", value=b"\x00garbage", timestamp=1.0,
                                                                   headers=None), value=b"\x00garbage"))


def test_the_flush_waits_for_dead_letters(monkeypatch: pytest.MonkeyPatch) -> None:
    w, _, crashed = worker(monkeypatch)
    futures = faust_sends(monkeypatch, w)
    event = unreadable_tick()

    async def scenario() -> None:
        await w.dead_letter(event, ValueError("unreadable"))
        flush = asyncio.ensure_future(w._flush())
        await asyncio.sleep(0.05)
        assert len(futures) == 1 and not flush.done()
        futures[0].set_result(None)
        await asyncio.wait_for(flush, 1.0)

    asyncio.run(scenario())
    assert crashed == []


def test_the_offsets_of_a_batch_without_states_wait_for_its_dead_letters(monkeypatch: pytest.MonkeyPatch) -> None:
    # A batch of unreadable records only: dead letters, no game state. Its offsets come after the dead letters.
    w, _, crashed = worker(monkeypatch)
    futures, commits = faust_sends(monkeypatch, w), committing(monkeypatch, w)
    event = unreadable_tick()

    async def scenario() -> None:
        await w.dead_letter(event, ValueError("unreadable"))
        w.checkpoint.processed({}, [(2, 7)])
        commit = asyncio.ensure_future(w.checkpoint.commit())
        await asyncio.sleep(0.05)
        assert commits == [] and not commit.done()
        futures[0].set_result(None)
        await asyncio.wait_for(commit, 1.0)

    asyncio.run(scenario())
    assert commits == [{2: 8}] and crashed == []
