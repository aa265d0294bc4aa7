"""Issue 27, "a role never dies silently": a long-lived task of `arb produce` that ends is logged, counted and stops
the role with an error (core/supervise.py); short-lived tasks' failures are logged and counted."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest

from core import metrics
from core.settings import KafkaSettings
from core.supervise import Supervisor, TaskDied, spawn
from producers.handoff import Handoff
from producers.service import ProducerService, TickWriter
from tests.factories import tick

SETTINGS = KafkaSettings(bootstrap="127.0.0.1:1")  # nothing is sent: the producer is a fake


def _count(metric: Any, label: str) -> float:
    return float(metric.labels(label)._value.get())


class FakeProducer:
    def __init__(self) -> None:
        self.produced: list[tuple[str, Any, bytes]] = []

    def produce(self, topic: str, key: Any = None, value: bytes = b"", on_delivery: Any = None) -> None:
        self.produced.append((topic, key, value))

    def poll(self, timeout: float = 0) -> int:
        return 0

    def flush(self, timeout: float = 0) -> int:
        return 0


class FakeMarkets:
    def __init__(self) -> None:
        self.pairings: dict[str, Any] = {}
        self.listeners: list[Any] = []
        self.failure: BaseException | None = None
        self.stopped = False

    def start(self) -> FakeMarkets:
        return self

    def stop(self) -> None:
        self.stopped = True


class IdleFeed:
    def __init__(self) -> None:
        self.markets: dict[str, str] = {}
        self.stopped = asyncio.Event()

    async def run(self) -> None:
        await self.stopped.wait()

    def stop(self) -> None:
        self.stopped.set()

    async def add_markets(self, markets: dict[str, str]) -> None:
        self.markets.update(markets)

    async def remove_markets(self, ids: list[str]) -> None:
        for m in ids:
            self.markets.pop(m, None)


class ReturningFeed(IdleFeed):
    async def run(self) -> None:
        await asyncio.sleep(0.01)  # e.g. a read loop whose `while` ended by mistake


def _service(feeds: dict[str, Any], handoff: Handoff[dict[str, Any]], markets: FakeMarkets | None = None) -> ProducerService:
    service = ProducerService(SETTINGS, feeds, handoff, markets or FakeMarkets())  # type: ignore[arg-type]
    service.writer = TickWriter(SETTINGS, handoff, FakeProducer())  # type: ignore[arg-type]
    return service


async def test_a_tick_writer_that_dies_stops_the_role_with_an_error(caplog: pytest.LogCaptureFixture) -> None:
    """Before: one tick that does not encode ended the writer task; sockets and metrics stayed up, no tick was
    produced again, and `arb produce` ran on (the service waited for a stop that never came)."""
    handoff: Handoff[dict[str, Any]] = Handoff()
    feed = IdleFeed()
    service = _service({"KALSHI": feed}, handoff)
    bad = {**tick("K-BUF"), "venue_ts": 10**20}  # over int64: codec.encode raises
    handoff.put("KALSHI:K-BUF", bad)
    before = _count(metrics.TASK_DEATHS, "tick-writer")
    with caplog.at_level(logging.CRITICAL), pytest.raises(TaskDied) as died:
        await asyncio.wait_for(service.run(), timeout=5)
    assert died.value.task_name == "tick-writer"
    assert _count(metrics.TASK_DEATHS, "tick-writer") == before + 1
    assert any("tick-writer" in r.getMessage() for r in caplog.records)
    assert feed.stopped.is_set() and service.markets.stopped  # type: ignore[attr-defined]


async def test_a_feed_whose_run_returns_stops_the_role() -> None:
    handoff: Handoff[dict[str, Any]] = Handoff()
    service = _service({"KALSHI": ReturningFeed(), "POLYMARKET": IdleFeed()}, handoff)
    with pytest.raises(TaskDied) as died:
        await asyncio.wait_for(service.run(), timeout=5)
    assert died.value.task_name == "feed-KALSHI" and died.value.error is None


async def test_a_dead_markets_reader_stops_the_role() -> None:
    handoff: Handoff[dict[str, Any]] = Handoff()
    markets = FakeMarkets()
    service = _service({"KALSHI": IdleFeed()}, handoff, markets)
    service.markets_check_s = 0.01
    run = asyncio.ensure_future(service.run())
    await asyncio.sleep(0.1)
    assert not run.done()
    markets.failure = RuntimeError("KafkaException: broker gone")
    with pytest.raises(TaskDied) as died:
        await asyncio.wait_for(run, timeout=5)
    assert died.value.task_name == "markets-reader"


async def test_stop_is_a_clean_end_and_ticks_flow_until_then() -> None:
    handoff: Handoff[dict[str, Any]] = Handoff()
    service = _service({"KALSHI": IdleFeed()}, handoff)
    handoff.put("KALSHI:K-BUF", tick("K-BUF"))
    run = asyncio.ensure_future(service.run())
    for _ in range(100):
        if service.writer.produced:
            break
        await asyncio.sleep(0.01)
    assert service.writer.produced == 1
    service.stop()
    await asyncio.wait_for(run, timeout=5)  # no TaskDied: the feeds' ends were asked for


async def test_supervisor_ignores_endings_after_stop_but_logs_failures(caplog: pytest.LogCaptureFixture) -> None:
    stop = asyncio.Event()
    sup = Supervisor(stop)

    async def fails_on_stop() -> None:
        await stop.wait()
        raise RuntimeError("closing went wrong")

    sup.start(fails_on_stop(), "t")
    stop.set()
    await sup.wait()
    await asyncio.sleep(0)
    await sup.close()
    assert sup.died is None
    assert any("closing went wrong" in r.getMessage() for r in caplog.records)


async def test_spawned_task_failures_are_logged_and_counted(caplog: pytest.LogCaptureFixture) -> None:
    async def boom() -> None:
        raise ValueError("x")

    before = _count(metrics.TASK_FAILURES, "resubscribe-test")
    task = spawn(boom(), "resubscribe-test")
    await asyncio.gather(task, return_exceptions=True)
    await asyncio.sleep(0)
    assert _count(metrics.TASK_FAILURES, "resubscribe-test") == before + 1
    assert any("resubscribe-test" in r.getMessage() for r in caplog.records)


class FakeWS:
    """Enough of a websockets connection for PolymarketFeed._session: recv blocks until close(); PING fails."""

    def __init__(self) -> None:
        self.closed = asyncio.Event()
        self.sent: list[str] = []

    async def send(self, data: str) -> None:
        if data == "PING":
            raise RuntimeError("pinger bug")
        self.sent.append(data)

    async def recv(self) -> str:
        await self.closed.wait()
        raise ConnectionError("closed")

    async def close(self) -> None:
        self.closed.set()

    async def __aenter__(self) -> FakeWS:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.closed.set()


async def test_a_dead_polymarket_pinger_ends_the_session_so_it_restarts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: the pinger task died silently and the session went on without keepalives until the venue dropped it."""
    from producers import polymarket_feed
    from producers.settings import FeedSettings

    ws = FakeWS()
    monkeypatch.setattr(polymarket_feed, "connect", lambda *a, **k: ws)
    feed = polymarket_feed.PolymarketFeed(url="ws://unused", markets={"a": "g"}, handoff=Handoff(),
                                          settings=FeedSettings(poly_ping_s=0.01))
    before = _count(metrics.TASK_FAILURES, "polymarket-pinger")
    with pytest.raises(ConnectionError):
        await asyncio.wait_for(feed._session(), timeout=3)
    assert json.loads(ws.sent[0])["type"] == "market"
    assert _count(metrics.TASK_FAILURES, "polymarket-pinger") == before + 1
