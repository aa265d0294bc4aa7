"""`arb produce`: venue feeds -> Tick records on `ticks`, keyed by game_id.

Subscriptions follow the `markets` topic live: a new or changed MarketPairing adds its markets to the
feed, a tombstone removes them, without a restart. The socket readers hand ticks to a bounded,
coalescing hand-off (producers/handoff.py) and never wait for Kafka; one writer task drains it into a
confluent-kafka producer (Java murmur2 partitioner: every tick of a game in one partition).

The feeds, the writer and a watch on the markets reader thread run under core/supervise.py: if one of them
ends while the role runs, it is logged and counted and `run()` raises TaskDied, so `arb produce` exits
non-zero instead of running on without producing ticks.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from confluent_kafka import Producer

from core import codec, metrics
from core.kafka import make_producer
from core.markets_cache import MarketsCache
from core.settings import KafkaSettings
from core.supervise import Supervisor, spawn
from core.topics import topic_name
from core.units import now_us
from producers.handoff import Handoff
from schemas.records import MarketPairing

log = logging.getLogger(__name__)


class Feed(Protocol):
    markets: dict[str, str]

    async def run(self) -> None: ...

    def stop(self) -> None: ...

    async def add_markets(self, markets: dict[str, str]) -> None: ...

    async def remove_markets(self, ids: list[str]) -> None: ...


def venue_markets(pairings: Mapping[str, MarketPairing], venue: str) -> dict[str, str]:
    """Feed subscription of one venue: Tick.market (Kalshi ticker / Polymarket token id) -> game_id."""
    out: dict[str, str] = {}
    for game_id, pairing in pairings.items():
        for book in pairing.books:
            if book.venue == venue:
                for inst in book.instruments:
                    out[inst.market] = game_id
    return out


class TickWriter:
    """Drains the hand-off into Kafka; re-stamps produced_ts just before producing."""

    def __init__(self, settings: KafkaSettings, handoff: Handoff[dict[str, Any]], producer: Producer | None = None) -> None:
        self.topic = topic_name("ticks", settings)
        self.handoff = handoff
        self.producer = producer or make_producer(settings)
        self.produced = 0
        self.errors = 0

    def _on_delivery(self, err: Any, msg: Any) -> None:
        if err is not None:
            self.errors += 1
            log.error("tick delivery failed: %s", err)

    async def run(self) -> None:
        while True:
            batch = await self.handoff.get_batch(512)
            for _, tick in batch:
                tick["produced_ts"] = now_us()
                value = codec.encode("Tick", tick)
                while True:
                    try:
                        self.producer.produce(self.topic, key=tick["game_id"], value=value, on_delivery=self._on_delivery)
                        break
                    except BufferError:  # librdkafka queue full: let it drain, off the event loop
                        await asyncio.to_thread(self.producer.poll, 0.05)
                self.produced += 1
                metrics.TICKS_PRODUCED.labels(tick["venue"]).inc()
                metrics.observe(metrics.FEED_LAG.labels(tick["venue"]), tick["received_ts"], tick.get("venue_ts"))
            self.producer.poll(0)

    def flush(self, timeout_s: float = 10.0) -> int:
        return int(self.producer.flush(timeout_s))


class ProducerService:
    markets_check_s = 1.0  # how often the markets reader thread is checked for life

    def __init__(self, settings: KafkaSettings, feeds: dict[str, Feed], handoff: Handoff[dict[str, Any]],
                 markets: MarketsCache | None = None, *, linger_ms: int | None = None) -> None:
        self.settings = settings
        self.feeds = feeds
        self.handoff = handoff
        self.markets = markets or MarketsCache(settings)
        producer = None if linger_ms is None else make_producer(settings, **{"linger.ms": linger_ms})
        self.writer = TickWriter(settings, handoff, producer)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop = asyncio.Event()

    def _on_pairing(self, game_id: str, pairing: MarketPairing | None) -> None:
        """Markets-reader thread -> event loop: update every feed's subscription."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(lambda: spawn(self._resubscribe(), "resubscribe"))

    async def _resubscribe(self) -> None:
        pairings = dict(self.markets.pairings)
        for venue, feed in self.feeds.items():
            wanted = venue_markets(pairings, venue)
            add = {m: g for m, g in wanted.items() if feed.markets.get(m) != g}
            remove = [m for m in feed.markets if m not in wanted]
            if add:
                await feed.add_markets(add)
            if remove:
                await feed.remove_markets(remove)
            if add or remove:
                log.info("%s subscription: +%d -%d markets", venue, len(add), len(remove), extra={"venue": venue})

    def stop(self) -> None:
        self._stop.set()
        for feed in self.feeds.values():
            feed.stop()

    async def _watch_markets(self) -> None:
        """Ends (a death) when the markets reader thread has stopped: subscriptions would no longer follow `markets`."""
        while True:
            failure = getattr(self.markets, "failure", None)
            if failure is not None:
                raise RuntimeError(f"markets reader stopped: {failure}") from failure
            await asyncio.sleep(self.markets_check_s)

    async def run(self) -> None:
        """Until stop(); raises core.supervise.TaskDied when a feed, the writer or the markets reader ends first."""
        self._loop = asyncio.get_running_loop()
        # With a schema registry: register the Tick schema now, in a thread, so the writer never asks the registry
        # on the event loop (raises RegistryUnavailable: no ticks can be written without it).
        await asyncio.to_thread(codec.warm, ("Tick",))
        self.markets.listeners.append(self._on_pairing)
        await asyncio.to_thread(self.markets.start)
        await self._resubscribe()
        sup = Supervisor(self._stop)
        try:
            for v, f in self.feeds.items():
                sup.start(f.run(), f"feed-{v}")
            sup.start(self.writer.run(), "tick-writer")
            sup.start(self._watch_markets(), "markets-reader")
            await sup.wait()
        finally:
            self._stop.set()  # from here on every task is expected to end
            for f in self.feeds.values():
                f.stop()
            await sup.close()
            await asyncio.to_thread(self.writer.flush)
            self.markets.stop()


def build_feeds(which: str, handoff: Handoff[dict[str, Any]], *, kalshi_factory: Callable[[], Feed] | None = None,
                poly_factory: Callable[[], Feed] | None = None) -> dict[str, Feed]:
    feeds: dict[str, Feed] = {}
    if which in ("kalshi", "all") and kalshi_factory is not None:
        feeds["KALSHI"] = kalshi_factory()
    if which in ("polymarket", "all") and poly_factory is not None:
        feeds["POLYMARKET"] = poly_factory()
    return feeds
