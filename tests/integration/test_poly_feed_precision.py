"""The Polymarket feed against the project simulator's market channel (issue 25, defect 8): level sizes with up to
6 decimals (the venue's precision: a real fill left 1.464786 shares, NautilusTrader
crates/adapters/polymarket/test_data/data_api_trades_captured_response.json) are kept exact and floored to 1e-2 in
the Tick; a malformed `price_changes[]` entry makes its book RESYNCING and brings it back from a fresh `book`,
while the frame's other entries apply. Whether a live subscribe sends that `book` is undocumented: both
behaviours run (simulators/polymarket/ws.py `dump_on_subscribe`)."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from core.units import SIZE_DP, floor_size
from producers.handoff import Handoff
from producers.polymarket_feed import PolymarketFeed
from producers.settings import FeedSettings
from simulators.catalogue import POLYMARKET
from simulators.engine import BookSide, TimeInForce
from simulators.polymarket.ws import PolyWsHub, hub_of
from simulators.runner import Simulator
from simulators.settings import SimSettings
from tests.integration import feed_support as support
from tests.integration.feed_support import Collector
from venues.polymarket.messages import SIZE_DP as POLY_SIZE_DP

pytestmark = pytest.mark.integration
TIMEOUT = 10.0


def fast(snapshot_timeout_s: float = 5.0) -> FeedSettings:
    return FeedSettings(depth=50, backoff_base_s=0.01, backoff_cap_s=0.05, connect_timeout_s=2.0, poly_ping_s=0.2,
                        snapshot_timeout_s=snapshot_timeout_s)


async def wait_for(cond: Callable[[], bool], what: str) -> None:
    await support.wait_for(cond, what, TIMEOUT)


@contextlib.asynccontextmanager
async def poly_feed(*, dump_on_subscribe: bool = True, settings: FeedSettings | None = None
                    ) -> AsyncIterator[tuple[Simulator, PolyWsHub, PolymarketFeed, Collector]]:
    sim_settings = SimSettings(games=2, updates_per_s=0.0, autostart=False, arb_rate_per_min=0.0)
    async with Simulator(sim_settings) as sim:
        hub = hub_of(sim.world)
        assert hub is not None
        hub.fractional_sizes = True
        hub.dump_on_subscribe = dump_on_subscribe
        markets = {t: f"game-{i}" for i, pm in enumerate(sim.world.poly_markets.values()) for t in pm.token_ids}
        feed = PolymarketFeed(url=sim.poly_ws_url, markets=markets, handoff=Handoff(10_000), settings=settings or fast(),
                              rng=random.Random(5))
        async with support.collected(feed) as collector:
            yield sim, hub, feed, collector


def in_sync(hub: PolyWsHub, feed: PolymarketFeed) -> bool:
    """Every book OK and level for level, in exact 1e-6 shares, what the simulator sends."""
    return all(b.status == "OK" and b.top_exact(1000) == hub.exact_levels(a) for a, b in feed.books.books.items())


def tick_levels(tick: dict[str, Any]) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    return [(lv["price"], lv["size"]) for lv in tick["bids"]], [(lv["price"], lv["size"]) for lv in tick["asks"]]


def floored(levels: list[tuple[int, int]]) -> list[tuple[int, int]]:
    return [(p, floor_size(s, POLY_SIZE_DP)) for p, s in levels if floor_size(s, POLY_SIZE_DP)]


def bump_best_bid(sim: Simulator, cond: str) -> None:
    """One level change (the best bid grows by one share): one price_change with an entry for each token."""
    price = sim.world.poly_books[cond].bids()[0][0]
    sim.world.place(POLYMARKET, cond, "admin", BookSide.BUY, price, 10**SIZE_DP, TimeInForce.GTC)


async def test_six_decimal_sizes_are_exact_in_the_book_and_floored_in_the_tick() -> None:
    """Before: every 6-dp size was a parse error that dropped its frame; no book ever synced."""
    async with poly_feed() as (sim, hub, feed, col):
        await wait_for(lambda: in_sync(hub, feed), "initial dump with 6-dp sizes")
        sizes = [s for a in feed.books.books for side in hub.exact_levels(a) for _, s in side]
        assert any(s % 10**(POLY_SIZE_DP - SIZE_DP) for s in sizes)  # sub-cent parts are really on the wire
        sim.world.scenario.run_steps(300)
        await wait_for(lambda: in_sync(hub, feed), "price changes with 6-dp sizes applied")
        assert feed.metrics.parse_errors == 0 and feed.metrics.resyncs == 0
        await wait_for(lambda: all(col.of(a) for a in feed.books.books), "ticks")
        for a in feed.books.books:
            bids, asks = hub.exact_levels(a)
            last = col.of(a)[-1]
            assert last["status"] == "OK" and tick_levels(last) == (floored(bids)[:50], floored(asks)[:50])


@pytest.mark.parametrize("dump_on_subscribe", [True, False], ids=["live-subscribe-dumps", "live-subscribe-silent"])
async def test_a_malformed_entry_resyncs_its_book_and_the_others_apply(dump_on_subscribe: bool) -> None:
    """Before: the whole price_change was dropped while both books stayed OK (and wrong)."""
    async with poly_feed(dump_on_subscribe=dump_on_subscribe, settings=fast(snapshot_timeout_s=1.0)) as (sim, hub, feed, col):
        await wait_for(lambda: in_sync(hub, feed), "initial dump")
        # The session checks once, snapshot_timeout_s after subscribing, that every book got its dump (reconnecting if
        # not); the fault comes after that check, so only the re-snapshot path under test can rebuild the book.
        loop = asyncio.get_running_loop()
        past_check = loop.time() + 1.0 + 0.2
        await wait_for(lambda: loop.time() > past_check, "the session's initial-dump check to be past")
        cond, pm = next(iter(sim.world.poly_markets.items()))
        bad, good = pm.token_ids  # the fault garbles the first entry of the frame: token 0's
        seen = len(col.ticks)
        hub.bad_entries, hub.bad_entry = 1, "size"  # a 7th decimal
        bump_best_bid(sim, cond)
        await wait_for(lambda: feed.metrics.parse_errors == 1, "the bad entry")
        await wait_for(lambda: in_sync(hub, feed), "the bad entry's book rebuilt")
        # The rebuilt book's OK tick reaches the collector through the hand-off a moment after the feed is in sync.
        await wait_for(lambda: [t["status"] for t in col.of(bad, seen)][-1:] == ["OK"], "the rebuilt book's tick")
        bad_statuses = [t["status"] for t in col.of(bad, seen)]
        assert bad_statuses[0] == "RESYNCING" and bad_statuses[-1] == "OK"
        first_good = col.of(good, seen)[0]
        assert first_good["status"] == "OK"  # its entry of the same frame applied
        assert first_good["bids"][0]["size"] == floor_size(hub.exact_levels(good)[0][0][1], POLY_SIZE_DP)
        assert feed.metrics.resyncs >= 1 and feed.metrics.parse_errors == 1
        if dump_on_subscribe:  # re-subscribed on the same connection: nothing else was disturbed
            assert feed.metrics.reconnects == 0
            assert all(t["status"] == "OK" for t in col.ticks[seen:] if t["market"] != bad)
        else:  # no fresh book came: the reconnect's dump rebuilt every book
            assert feed.metrics.reconnects >= 1


async def test_a_malformed_entry_without_a_readable_token_rebuilds_every_book() -> None:
    """Any book may have been affected: reconnect for a fresh dump. Before: the frame was dropped, books stayed OK."""
    async with poly_feed() as (sim, hub, feed, col):
        await wait_for(lambda: in_sync(hub, feed), "initial dump")
        cond = next(iter(sim.world.poly_markets))
        seen = len(col.ticks)
        hub.bad_entries, hub.bad_entry = 1, "asset"
        bump_best_bid(sim, cond)
        await wait_for(lambda: feed.metrics.reconnects >= 1, "reconnect")
        await wait_for(lambda: in_sync(hub, feed), "every book rebuilt")
        for a in feed.books.books:
            statuses = [t["status"] for t in col.of(a, seen)]
            assert "RESYNCING" in statuses and statuses[-1] == "OK"
        assert feed.metrics.parse_errors == 1
