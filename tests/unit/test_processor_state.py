"""processors.worker.ProcessorWorker's agent on typed records, without Kafka: ticks in, signals out, each game's state
handed to the checkpoint and read back from the table (as this worker wrote it, or recovered from the changelog)."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace
from typing import Any, cast

import pytest
from aiokafka.errors import KafkaConnectionError
from faust.types import TP, Message

from core import codec
from core.config import load
from core.settings import KafkaSettings
from processors.checkpoint import GameState
from processors.faust_settings import WorkerSettings
from processors.settings import DetectorSettings
from processors.worker import ProcessorWorker
from schemas.records import Signal, Tick
from tests.factories import pairing_record, tick

GAME = "nfl-20261129-buf-kc"


class Event:
    """What the agent reads of a Faust event (processors.triage.TickEvent)."""

    def __init__(self, partition: int, offset: int, value: object, key: bytes = GAME.encode()) -> None:
        self.message = Message("ticks", partition, offset, 0.0, 0, [], key, b"", None)
        self.value = value


def worker() -> tuple[ProcessorWorker, list[Signal], list[bytes | None]]:
    kafka = load(KafkaSettings, env={"ARB_BOOTSTRAP": "127.0.0.1:1"})
    w = ProcessorWorker(kafka, load(WorkerSettings, env={}), load(DetectorSettings, env={}))
    w.markets.pairings[GAME] = pairing_record()
    w.guard.started({0: 5, 2: 10})  # where the partitions of these tests resume (the committed offsets), as on_ready learns it
    sent: list[Signal] = []
    dead: list[bytes | None] = []

    async def send_signal(game_id: str, signal: Signal) -> None:
        assert game_id == signal.game_id
        sent.append(signal)

    async def dead_letter(event: Event, error: Exception) -> None:
        dead.append(event.message.key)

    w.send_signal = send_signal  # type: ignore[method-assign]
    w.dead_letter = dead_letter  # type: ignore[method-assign, assignment]
    return w, sent, dead


def typed(t: dict[str, object]) -> Tick:
    return codec.decode_record(codec.encode("Tick", t), Tick)  # as the Faust codec hands it to the agent


def test_ticks_in_signals_out_and_the_state_goes_to_the_checkpoint() -> None:
    w, sent, dead = worker()
    batch = [Event(2, 10, typed(tick("K-BUF", asks=[(4500, 1000)]))), Event(2, 11, typed(tick("K-KC", asks=[(5000, 1000)], seq=2))),
             Event(2, 12, b"not a tick"), Event(2, 13, typed(tick("K-KC", asks=[(5000, 1000)], seq=3)), key=b"\xff")]
    asyncio.run(w.process(batch))  # type: ignore[arg-type]
    assert [s.legs[0].market for s in sent] == ["K-BUF"] and sent[0].input_tick_ids == ["KALSHI:K-BUF:1:1", "KALSHI:K-KC:1:2"]
    assert dead == [GAME.encode(), b"\xff"]  # not a Tick; a key that is not UTF-8
    state = w.checkpoint.state(GAME)
    assert state is not None and state.offset == 11 and set(state.books) == {"K-BUF", "K-KC"}
    assert state.memo == w.detector.memory(GAME) and state.memo["last"]
    assert w.checkpoint.processed_to == {2: 14}
    # A tick at or below the state's offset was folded in before: skipped (a replay after a crash).
    asyncio.run(w.process([Event(2, 11, typed(tick("K-KC", asks=[(4000, 1000)], seq=2)))]))  # type: ignore[list-item]
    again = w.checkpoint.state(GAME)
    assert len(sent) == 1 and again is not None and again.books["K-KC"].asks[0].price == 5000


def test_a_state_is_read_back_as_written_or_parsed_when_recovered() -> None:
    w, sent, _ = worker()
    asyncio.run(w.process([Event(0, 5, typed(tick("K-BUF", asks=[(4500, 1000)]))),  # type: ignore[list-item]
                           Event(0, 6, typed(tick("K-KC", asks=[(5000, 1000)], seq=2)))]))
    assert len(sent) == 1
    state = w.checkpoint.state(GAME)
    assert state is not None
    async def flushed() -> None:  # the producer's flush: nothing to deliver here
        return None

    w.checkpoint._flush = flushed
    asyncio.run(w.checkpoint.write_state(list(w.checkpoint.pending.items())))
    assert w.checkpoint.state(GAME) is None and w.games.data[GAME] == state.to_json()
    assert w.prior_state(GAME) is state  # what this worker wrote: not parsed again
    # Recovered from the changelog (another worker's, or this one's before a restart): parsed from its JSON.
    w.games.data[GAME] = json.loads(json.dumps(state.to_json()))
    recovered = w.prior_state(GAME)
    assert recovered is not state and recovered == state
    w.detector.restore(GAME, None)
    assert w.prior_state(GAME) == state and w.detector.memory(GAME) == state.memo  # the hysteresis goes with the state
    # ... so the same opportunity is not signalled again by the worker that took the game over
    asyncio.run(w.process([Event(0, 7, typed(tick("K-KC", asks=[(5000, 1000)], seq=2)))]))  # type: ignore[list-item]
    assert len(sent) == 1
    assert w.prior_state("nfl-20261129-nyj-ne") == GameState({})  # a game the table does not hold


def test_the_guard_learns_where_each_partition_resumes_when_the_rebalance_completes(monkeypatch: pytest.MonkeyPatch) -> None:
    w, _, _ = worker()
    w.guard.assigned(now=0.0)
    asked: list[list[TP]] = []
    answer: dict[str, object] = {"offsets": {1: 343, 4: None}, "bump": False}  # 4: never committed

    async def committed_offsets(partitions: list[TP]) -> dict[TP, int | None]:
        asked.append(partitions)
        if answer["bump"]:
            w.app.consumer_generation_id += 1  # a newer assignment while the broker answered
        if isinstance(answer["offsets"], Exception):
            raise answer["offsets"]
        offsets = cast(dict[int, int | None], answer["offsets"])
        return {tp: offsets[tp.partition] for tp in partitions}

    changelog = w.games.changelog_topic.get_topic_name()
    assignment = {TP(w.ticks_topic, 1), TP(w.ticks_topic, 4), TP(changelog, 1), TP(changelog, 4)}
    monkeypatch.setattr(type(w), "consumer", SimpleNamespace(committed_offsets=committed_offsets, assignment=lambda: assignment))
    monkeypatch.setattr(w, "owned_ticks", lambda: [1, 4])
    asyncio.run(w.on_ready(None, signal=None))
    assert [tp.partition for tp in asked[0]] == [1, 4] and w.guard.start == {1: 343, 4: None}
    assert w.guard.accept(4, 0, now=0.5)  # never committed: it starts at its log start

    w.guard.assigned(now=1.0)
    answer["bump"] = True
    asyncio.run(w.on_ready(None, signal=None))
    assert w.guard.start == {}  # what the broker said belongs to the assignment before: not used

    answer.update(bump=False, offsets=KafkaConnectionError("coordinator gone"))
    asyncio.run(w.on_ready(None, signal=None))
    assert w.guard.start == {}  # unknown: the partitions' ticks are refused, the rewind timer asks again
    assert not w.guard.accept(1, 350, now=2.0) and w.guard.unplaced == {1}

    # A ticks partition assigned without its changelog partition (a group leader that did not know the changelog topic):
    # its books were not recovered, so it gets no start and its ticks are refused; the others are placed.
    assignment.discard(TP(changelog, 4))
    answer.update(offsets={1: 343, 4: 20})
    w.guard.assigned(now=3.0)
    asyncio.run(w.on_ready(None, signal=None))
    assert [tp.partition for tp in asked[-1]] == [1] and w.guard.start == {1: 343}
    assert not w.guard.accept(4, 20, now=3.5) and w.guard.accept(1, 343, now=3.5)
    # The rewind timer asks again; once an assignment brings the changelog partition, the partition is placed.
    assignment.add(TP(changelog, 4))
    asyncio.run(w.place([4]))
    assert w.guard.start == {1: 343, 4: 20}


class _RewindConsumer:
    """What rewind_dropped uses of Faust's consumer: one ticks partition, a log start to answer (or an error to raise),
    the seeks it was asked for."""

    flow_active = True

    def __init__(self, tp: TP, log_start: int = 0) -> None:
        self.tp, self.log_start, self.seeks = tp, log_start, cast(list[int], [])
        self.error: Exception | None = None
        self.during_lookup: Any = None  # called while the broker "answers" the log-start lookup

    def assignment(self) -> set[TP]:
        return {self.tp}

    async def earliest_offsets(self, *tps: TP) -> dict[TP, int]:
        if self.during_lookup is not None:
            self.during_lookup()
        if self.error is not None:
            raise self.error
        return {t: self.log_start for t in tps}

    async def seek_wait(self, offsets: dict[TP, int]) -> None:
        self.seeks.append(offsets[self.tp])


def _rewinding(w: ProcessorWorker, partition: int, log_start: int = 0) -> _RewindConsumer:
    consumer = _RewindConsumer(TP(w.ticks_topic, partition), log_start)
    w.app._consumer = consumer  # type: ignore[assignment]
    w.app.rebalancing = False
    w.guard.stall_s = 0.0  # every timer run may rewind again
    return consumer


def test_a_gap_rewound_again_moves_past_the_missing_ticks_only_when_the_broker_deleted_them() -> None:
    w, _, _ = worker()  # partition 2 resumes at 10
    consumer = _rewinding(w, 2)
    assert w.guard.accept(2, 10, now=0.0) and not w.guard.accept(2, 14, now=0.0)  # 11..13 missing
    for _ in range(4):  # rewound again and again: the ticks exist (log start 0), so never skipped
        asyncio.run(w.rewind_dropped())
        assert not w.guard.accept(2, 14, now=0.0)
    assert consumer.seeks == [11] * 4
    consumer.log_start = 13  # retention deleted 11 and 12 meanwhile: go on from the log start
    asyncio.run(w.rewind_dropped())
    assert consumer.seeks[-1] == 13 and [w.guard.accept(2, o, now=0.0) for o in (13, 14)] == [True, True]


def test_a_partition_never_committed_is_rewound_to_its_log_start_when_its_first_tick_is_past_it() -> None:
    w, _, _ = worker()
    consumer = _rewinding(w, 3, log_start=400)  # the broker deleted 0..399
    w.guard.started({3: None})
    assert not w.guard.accept(3, 453, now=0.0)  # the end of the log came first: refused
    asyncio.run(w.rewind_dropped())
    assert consumer.seeks == [400] and [w.guard.accept(3, o, now=0.0) for o in (400, 401)] == [True, True]


def test_a_lookup_the_broker_does_not_answer_or_a_new_assignment_during_it_changes_nothing() -> None:
    w, _, _ = worker()
    consumer = _rewinding(w, 3, log_start=400)
    w.guard.started({3: None})
    assert not w.guard.accept(3, 453, now=0.0)
    consumer.error = KafkaConnectionError("broker gone")
    asyncio.run(w.rewind_dropped())  # no crash of the timer (it would stop the worker): asked again next time
    assert consumer.seeks == [] and w.guard.unplaced == {3}
    consumer.error = None

    def rebalanced() -> None:
        w.app.consumer_generation_id += 1

    consumer.during_lookup = rebalanced
    asyncio.run(w.rewind_dropped())
    assert consumer.seeks == []  # the answer belongs to the assignment before
    consumer.during_lookup = None
    asyncio.run(w.rewind_dropped())
    assert consumer.seeks == [400]
