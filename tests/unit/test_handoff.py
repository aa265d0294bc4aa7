"""Hand-off: never blocks, coalesces per key, bounded, counted, async get."""

from __future__ import annotations

import asyncio

import pytest

from producers.handoff import Handoff


def test_coalesces_latest_state_per_key_keeping_order() -> None:
    h: Handoff[int] = Handoff(capacity=10)
    for i in range(100):
        h.put("A", i)
        h.put("B", -i)
    assert len(h) == 2
    assert h.stats.coalesced == 198 and h.stats.put == 200
    assert h.get_nowait() == ("A", 99)
    assert h.get_nowait() == ("B", -99)
    assert h.get_nowait() is None


def test_bounded_refuses_new_keys_when_full_and_counts() -> None:
    h: Handoff[str] = Handoff(capacity=2)
    assert h.put("A", "a") and h.put("B", "b")
    assert not h.put("C", "c")
    assert h.put("A", "a2")  # a waiting key is always accepted (coalesced)
    assert h.stats.dropped == 1 and len(h) == 2
    assert h.get_nowait() == ("A", "a2")
    assert h.put("C", "c")


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError):
        Handoff(capacity=0)


async def test_async_get_waits_for_put() -> None:
    h: Handoff[int] = Handoff()
    task = asyncio.create_task(h.get())
    await asyncio.sleep(0)
    assert not task.done()
    h.put("K", 7)
    assert await asyncio.wait_for(task, 1.0) == ("K", 7)
    h.put("X", 1)
    h.put("Y", 2)
    h.put("Z", 3)
    assert await asyncio.wait_for(h.get_batch(2), 1.0) == [("X", 1), ("Y", 2)]
    assert await asyncio.wait_for(h.get_batch(5), 1.0) == [("Z", 3)]
    assert h.stats.taken == 4


async def test_slow_consumer_memory_stays_bounded() -> None:
    h: Handoff[int] = Handoff(capacity=50)
    got: list[tuple[str, int]] = []

    async def consumer() -> None:
        while True:
            got.append(await h.get())
            await asyncio.sleep(0.001)  # a slow Kafka writer

    task = asyncio.create_task(consumer())
    for i in range(5000):
        h.put(f"m{i % 20}", i)
        assert len(h) <= 20
        if i % 500 == 0:
            await asyncio.sleep(0)
    await asyncio.wait_for(_drain(h), 2.0)
    task.cancel()
    last = {k: v for k, v in got}
    assert all(last[f"m{k}"] == 4980 + k for k in range(20))  # every market's final state delivered
    assert h.stats.dropped == 0 and h.stats.coalesced > 4000


async def _drain(h: Handoff[int]) -> None:
    while len(h):
        await asyncio.sleep(0.005)
