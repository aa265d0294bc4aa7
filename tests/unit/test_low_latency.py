"""The worker's patch of aiokafka's fetch routine: a node marked busy with no live fetch is planned again."""

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
