"""processors/low_latency.py: the patch of aiokafka's fetch routine (a node marked busy with no live fetch is planned again),
the fetch wait the worker consumer gets, and which commits are the checkpoint's and which Faust's."""

from __future__ import annotations

import asyncio
from typing import Any

from processors.low_latency import _recheck_finished_fetches


class Fetcher:
    """The attributes of aiokafka's Fetcher that the patch reads."""

    def __init__(self, in_flight: set[int], tasks: set[Any]) -> None:
        self._in_flight = in_flight
        self._pending_tasks = tasks

    def _get_actions_per_node(self, assignment: Any) -> Any:
        return [], {}, 0.2, False, []  # nothing to fetch: aiokafka then sleeps its fetcher_timeout


async def test_a_finished_fetch_whose_node_still_looks_busy_is_replanned_at_once() -> None:
    done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
    done.set_result(True)
    f = Fetcher(in_flight={111}, tasks=set())  # the routine already dropped the finished task
    _recheck_finished_fetches(f)
    assert f._get_actions_per_node(None)[2] == 0
    f = Fetcher(in_flight={111}, tasks={done})
    _recheck_finished_fetches(f)
    assert f._get_actions_per_node(None)[2] == 0


async def test_a_fetch_still_running_keeps_the_routines_own_timeout() -> None:
    running: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
    f = Fetcher(in_flight={111}, tasks={running})
    _recheck_finished_fetches(f)
    assert f._get_actions_per_node(None)[2] == 0.2
    idle = Fetcher(in_flight=set(), tasks=set())
    _recheck_finished_fetches(idle)
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
