"""processors/low_latency.py: the patch of aiokafka's fetch routine (a node marked busy with no live fetch is planned again;
a fetch that leaves out a partition the app reads waits briefly, one that asks for all of them long), the fetch wait the
worker consumer gets, and which commits are the checkpoint's and which Faust's."""

from __future__ import annotations

import asyncio
from typing import Any

from processors.low_latency import _plan_fetch_rounds

SHORT, FULL = 2, 250


class Fetcher:
    """The attributes of aiokafka's Fetcher that the patch reads."""

    def __init__(self, in_flight: set[int], tasks: set[Any], records: dict[Any, Any] | None = None) -> None:
        self._in_flight = in_flight
        self._pending_tasks = tasks
        self._records = records or {}
        self._fetch_max_wait_ms = 1500
        self.planned_wait_ms: int | None = None

    def _get_actions_per_node(self, assignment: Any) -> Any:
        self.planned_wait_ms = self._fetch_max_wait_ms  # what aiokafka builds this round's FetchRequest with
        return [], {}, 0.2, False, []  # nothing to fetch: aiokafka then sleeps its fetcher_timeout


class State:
    def __init__(self, paused: bool = False, has_valid_position: bool = True) -> None:
        self.paused = paused
        self.has_valid_position = has_valid_position


class Assignment:
    """The attributes of aiokafka's Assignment that the patch reads."""

    def __init__(self, states: dict[tuple[str, int], State]) -> None:
        self.states = states
        self.tps = frozenset(states)

    def state_value(self, tp: tuple[str, int]) -> State:
        return self.states[tp]


def _wait_of_round(records: dict[Any, Any], states: dict[tuple[str, int], State], reading: set[Any] | None) -> int | None:
    f = Fetcher(in_flight=set(), tasks=set(), records=records)
    _plan_fetch_rounds(f, SHORT, FULL, lambda: reading)
    f._get_actions_per_node(Assignment(states))
    return f.planned_wait_ms


TICKS = [("arb.ticks", p) for p in range(3)]
CHANGELOG = ("arb.processor-games-changelog", 0)


def test_a_fetch_asking_for_every_partition_the_app_reads_waits_long() -> None:
    states = {tp: State() for tp in [*TICKS, CHANGELOG]}
    assert _wait_of_round({}, states, set(TICKS)) == FULL
    # The changelog after recovery: Faust paused it (it reads none of it), aiokafka still holds what it fetched.
    assert _wait_of_round({CHANGELOG: object()}, states, set(TICKS)) == FULL


def test_a_fetch_leaving_out_a_partition_the_app_reads_waits_briefly() -> None:
    states = {tp: State() for tp in [*TICKS, CHANGELOG]}
    assert _wait_of_round({TICKS[1]: object()}, states, set(TICKS)) == SHORT  # records the app has not taken yet
    assert _wait_of_round({}, {**states, TICKS[2]: State(paused=True)}, set(TICKS)) == SHORT
    assert _wait_of_round({}, {**states, TICKS[0]: State(has_valid_position=False)}, set(TICKS)) == SHORT
    # In recovery the app reads the changelog: one of its partitions left out is waited for briefly too.
    assert _wait_of_round({CHANGELOG: object()}, states, {CHANGELOG}) == SHORT
    # Faust has not set its active partitions yet: every assigned partition counts.
    assert _wait_of_round({CHANGELOG: object()}, states, None) == SHORT
    assert _wait_of_round({}, states, None) == FULL


async def test_a_finished_fetch_whose_node_still_looks_busy_is_replanned_at_once() -> None:
    done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
    done.set_result(True)
    f = Fetcher(in_flight={111}, tasks=set())  # the routine already dropped the finished task
    _plan_fetch_rounds(f, SHORT, FULL, lambda: None)
    assert f._get_actions_per_node(None)[2] == 0
    f = Fetcher(in_flight={111}, tasks={done})
    _plan_fetch_rounds(f, SHORT, FULL, lambda: None)
    assert f._get_actions_per_node(None)[2] == 0


async def test_a_fetch_still_running_keeps_the_routines_own_timeout() -> None:
    running: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
    f = Fetcher(in_flight={111}, tasks={running})
    _plan_fetch_rounds(f, SHORT, FULL, lambda: None)
    assert f._get_actions_per_node(None)[2] == 0.2
    idle = Fetcher(in_flight=set(), tasks=set())
    _plan_fetch_rounds(idle, SHORT, FULL, lambda: None)
    assert idle._get_actions_per_node(None)[2] == 0.2
    running.cancel()


def _app(fetch_wait_ms: int = 3) -> Any:
    from core.config import load
    from core.settings import KafkaSettings
    from processors.app import create_app
    from processors.faust_settings import WorkerSettings
    from processors.settings import DetectorSettings

    kafka = load(KafkaSettings, env={"ARB_BOOTSTRAP": "127.0.0.1:1", "ARB_FETCH_WAIT_MS": str(fetch_wait_ms)})
    return create_app(kafka, load(WorkerSettings, env={}), load(DetectorSettings, env={}))


async def test_the_worker_consumer_gets_the_fetch_wait_and_back_off() -> None:
    app = _app(3)
    consumer = app.consumer._thread._create_worker_consumer(app.transport)  # built, not started: no connection
    assert (consumer._fetch_max_wait_ms, consumer._retry_backoff_ms) == (3, 3)  # Faust's own: 1500, aiokafka's 100
    assert app.transport.full_fetch_wait_ms == 250  # ARB_COLD_FETCH_WAIT_MS: a fetch asking for every partition the app reads


async def test_the_checkpoint_commits_the_ticks_offsets_and_faust_the_rest(monkeypatch: Any) -> None:
    from faust.transport import consumer as faust_consumer
    from faust.transport.drivers import aiokafka as faust_aiokafka
    from faust.types import TP

    app = _app()
    calls: list[Any] = []

    async def broker_commit(self: Any, offsets: Any) -> bool:
        calls.append(("broker", dict(offsets)))
        return True

    async def faust_commit_offsets(self: Any, offsets: Any, start_new_transaction: bool = True) -> bool:
        calls.append("faust commits")
        return bool(await self._commit(offsets))

    async def checkpoint() -> None:
        calls.append("checkpoint")

    monkeypatch.setattr(faust_aiokafka.Consumer, "_commit", broker_commit)
    monkeypatch.setattr(faust_consumer.Consumer, "_commit_offsets", faust_commit_offsets)
    monkeypatch.setattr(app.transport, "before_commit", checkpoint)
    ticks, changelog = TP("arb.ticks", 1), TP("arb.processor-games-changelog", 1)
    assert await app.consumer._commit_offsets({ticks: 5, changelog: 9})
    # Every Faust commit runs the checkpoint first; Faust's own commit leaves `ticks` out.
    assert calls == ["checkpoint", "faust commits", ("broker", {changelog: 9})]
    calls.clear()
    assert await app.consumer.commit_owned({1: 7})
    assert calls == [("broker", {ticks: 7})]


async def test_the_worker_consumer_runs_on_the_workers_loop_without_a_thread(monkeypatch: Any) -> None:
    import threading

    from mode.utils.futures import notify

    app = _app()
    thread = app.consumer._thread
    assert thread.thread_loop is thread.parent_loop is asyncio.get_running_loop()
    ran_on: list[threading.Thread] = []

    def plain(x: int) -> int:  # Faust passes plain functions too (aiokafka's subscribe)
        ran_on.append(threading.current_thread())
        return x + 1

    async def coro(x: int) -> int:
        ran_on.append(threading.current_thread())
        return x * 2

    assert await thread.call_thread(plain, 1) == 2
    assert await thread.call_thread(coro, 3) == 6
    assert ran_on == [threading.current_thread()] * 2
    threads = set(threading.enumerate())

    async def serves() -> None:  # mode's _serve: starts the consumer, then says so
        thread.parent_loop.call_soon_threadsafe(notify, thread._thread_running)
        await asyncio.sleep(3600)

    monkeypatch.setattr(thread, "_serve", serves)
    await asyncio.wait_for(thread.start(), 5)
    assert set(threading.enumerate()) == threads  # started no thread
    thread._serving.cancel()


async def test_a_consumer_that_ends_before_it_started_fails_the_start_instead_of_hanging(monkeypatch: Any) -> None:
    import pytest

    thread = _app().consumer._thread

    async def dies() -> None:  # ended without mode's crash() (which would fail the start itself)
        raise OSError("connection refused")

    monkeypatch.setattr(thread, "_serve", dies)
    with pytest.raises(OSError, match="connection refused"):
        await asyncio.wait_for(thread.start(), 5)


class _Listed:
    """The broker's answers to metadata requests for topics by name (one answer per call: the topics it knows), and
    aiokafka's consumer as the subscription sees it."""

    def __init__(self, answers: list[set[str]]) -> None:
        self.answers = answers
        self.calls: list[str] = []

    async def ready_topics(self, topics: Any) -> set[str]:
        self.calls.append(f"asked {sorted(topics)}")
        return (self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]) & set(topics)

    def subscribe(self, topics: set[str], listener: object) -> None:
        self.calls.append(f"subscribe {sorted(topics)}")


async def test_the_subscription_waits_until_the_broker_knows_every_topic(monkeypatch: Any) -> None:
    # The changelog Faust created a moment before, not yet in the metadata: a group leader assigning from that metadata
    # leaves its partitions out, and the tables are not recovered (LowLatencyConsumerThread.subscribe).
    app = _app()
    listed = _Listed([{"arb.ticks"}, {"arb.ticks"}, {"arb.ticks", "arb.changelog"}])
    monkeypatch.setattr(app.consumer._thread, "_consumer", listed)
    monkeypatch.setattr(app.transport, "ready_topics", listed.ready_topics)
    await asyncio.wait_for(app.consumer._thread.subscribe(["arb.ticks", "arb.changelog"]), 10)
    assert listed.calls == ["asked ['arb.changelog', 'arb.ticks']", "asked ['arb.changelog']", "asked ['arb.changelog']",
                            "subscribe ['arb.changelog', 'arb.ticks']"]


async def test_a_topic_the_broker_never_shows_is_subscribed_to_after_the_request_timeout(monkeypatch: Any, caplog: Any) -> None:
    app = _app()
    app.conf.broker_request_timeout = 0.2
    listed = _Listed([{"arb.ticks"}])
    monkeypatch.setattr(app.consumer._thread, "_consumer", listed)
    monkeypatch.setattr(app.transport, "ready_topics", listed.ready_topics)
    await asyncio.wait_for(app.consumer._thread.subscribe(["arb.ticks", "arb.changelog"]), 10)
    assert listed.calls[-1] == "subscribe ['arb.changelog', 'arb.ticks']" and len(listed.calls) > 2
    assert "['arb.changelog'] are not in the broker's metadata" in caplog.text
