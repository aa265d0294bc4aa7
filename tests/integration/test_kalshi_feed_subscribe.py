"""The Kalshi feed's subscriptions against the simulator on 127.0.0.1 (issue 25, defects 5 and 6).

Defect 5: error 16 says only "Market not found" (docs getting_started/quick_start_websockets error table:
"16 | Market not found | Invalid market_ticker or market_id"; independent clients' tests use
{"code": 16, "msg": "Market not found"}) and fails the whole command: one closed market must not keep the
others from streaming, on the first connection or any later one.

Defect 6: no real capture settles Kalshi's seq rule, so the simulator numbers messages under each reading
(ARB_SIM_KALSHI_WS_SEQ x ARB_SIM_KALSHI_WS_REPLY_SEQ) and the books must equal the simulator's under all of
them, with one re-snapshot per real gap and none after it (no false gap -> re-snapshot -> false gap loop).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
from websockets.asyncio.client import connect

from producers.handoff import Handoff
from producers.kalshi_feed import WS_SIGN_PATH, KalshiFeed
from producers.settings import FeedSettings
from simulators.runner import Simulator
from simulators.settings import SimSettings
from tests.integration.feed_support import started, wait_for
from venues.kalshi.auth import auth_headers

pytestmark = pytest.mark.integration
TIMEOUT = 5.0
FEED = FeedSettings(depth=50, backoff_base_s=0.01, backoff_cap_s=0.05, connect_timeout_s=2.0)
SIM = SimSettings(games=3, updates_per_s=0.0, autostart=False, arb_rate_per_min=0.0, kalshi_tier="unlimited",
                  kalshi_ping_interval_s=0.5)
SEQ_MODES = ("continuous", "snapshot_reset")
REPLY_MODES = ("next", "current", "none")


def ws_headers(sim: Simulator) -> dict[str, str]:
    key = sim.kalshi_private_key
    assert key is not None
    return auth_headers(sim.settings.kalshi_key_id, key, "GET", WS_SIGN_PATH)


def plain_markets(sim: Simulator) -> dict[str, str]:
    return {t: m.game_id for t, m in sorted(sim.world.kalshi_markets.items()) if not m.mve}


@contextlib.asynccontextmanager
async def running(sim: Simulator, markets: dict[str, str]) -> AsyncIterator[KalshiFeed]:
    feed = KalshiFeed(url=sim.kalshi_ws_url, key_id=sim.settings.kalshi_key_id, private_key=sim.kalshi_private_key,
                      markets=markets, handoff=Handoff(1000), settings=FEED, rng=random.Random(7))
    async with started(feed):
        yield feed


def synced(sim: Simulator, feed: KalshiFeed, tickers: list[str] | None = None) -> bool:
    """The feed's books of `tickers` (default: all) are OK and equal the simulator's."""
    for t in tickers if tickers is not None else list(feed.books.books):
        book, truth = feed.books.books[t], sim.world.kalshi_books[t]
        if book.status not in ("OK", "CROSSED") or book.top(100) != (truth.bids()[:100], truth.asks()[:100]):
            return False
    return True


# --- defect 5: "Market not found" ---------------------------------------------------------------------------


async def test_simulator_error_16_is_the_venues_text() -> None:
    async with Simulator(SIM) as sim:
        good = next(iter(plain_markets(sim)))
        headers = ws_headers(sim)
        async with connect(sim.kalshi_ws_url, additional_headers=headers) as ws:
            await ws.send(json.dumps({"id": 5, "cmd": "subscribe", "params": {"channels": ["orderbook_delta"],
                                                                             "market_tickers": [good, "KXNOPE-26JAN01-XX"]}}))
            answer = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
    assert answer == {"id": 5, "type": "error", "msg": {"code": 16, "msg": "Market not found"}}


@pytest.mark.parametrize("how", ["closed", "unlisted"])
async def test_one_bad_market_does_not_block_the_others(how: str) -> None:
    async with Simulator(SIM) as sim:
        markets = plain_markets(sim)
        bad = sorted(markets)[len(markets) // 2]
        if how == "closed":
            sim.world.kalshi_markets[bad].status = "closed"
        else:
            markets = {**markets, "KXNOPE-26JAN01-XX": "g"}
            bad = "KXNOPE-26JAN01-XX"
        good = sorted(t for t in markets if t != bad)
        async with running(sim, markets) as feed:
            await wait_for(lambda: synced(sim, feed, good), "the good markets' snapshots")
            sim.world.scenario.run_steps(200)
            await wait_for(lambda: synced(sim, feed, good), "the good markets' deltas")
            assert feed.books.books[bad].status == "RESYNCING"
            assert feed.metrics.not_found == 1 and bad in feed._not_found
            assert feed.metrics.reconnects == 0 and feed.metrics.gaps == 0


async def test_a_closed_market_accepted_by_the_venue_just_streams() -> None:
    """The other reading of a closed market (ARB_SIM_KALSHI_WS_CLOSED_MARKET=accepted): nothing to isolate."""
    async with Simulator(replace(SIM, kalshi_ws_closed_market="accepted")) as sim:
        markets = plain_markets(sim)
        sim.world.kalshi_markets[sorted(markets)[0]].status = "closed"
        async with running(sim, markets) as feed:
            await wait_for(lambda: synced(sim, feed), "every book")
            assert feed.metrics.not_found == 0 and feed.metrics.venue_errors == 0


async def test_a_known_bad_market_costs_one_command_per_reconnect_and_comes_back() -> None:
    async with Simulator(SIM) as sim:
        markets = plain_markets(sim)
        bad = sorted(markets)[1]
        sim.world.kalshi_markets[bad].status = "closed"
        good = sorted(t for t in markets if t != bad)
        async with running(sim, markets) as feed:
            await wait_for(lambda: synced(sim, feed, good) and feed.metrics.not_found == 1, "first connection")
            halving_errors = feed.metrics.venue_errors
            assert halving_errors >= 2  # the halving took more than one command
            assert sim.world.faults.disconnect("KALSHI") == 1
            await wait_for(lambda: feed.metrics.reconnects == 1 and feed.metrics.not_found == 2 and synced(sim, feed, good),
                           "second connection")
            assert feed.metrics.venue_errors == halving_errors + 1  # the bad market alone: one error, no halving
            assert feed.books.books[bad].status == "RESYNCING"
            sim.world.kalshi_markets[bad].status = "active"  # reopened: the next connection subscribes it again
            assert sim.world.faults.disconnect("KALSHI") == 1
            await wait_for(lambda: feed.metrics.reconnects == 2 and synced(sim, feed), "third connection")
            assert not feed._not_found and feed.metrics.venue_errors == halving_errors + 1


async def test_a_market_closing_while_subscribed_is_isolated_when_its_subscription_re_snapshots() -> None:
    async with Simulator(SIM) as sim:
        markets = plain_markets(sim)
        async with running(sim, markets) as feed:
            await wait_for(lambda: synced(sim, feed), "initial snapshots")
            bad = sorted(markets)[2]
            sim.world.kalshi_markets[bad].status = "closed"
            sim.world.faults["KALSHI"].seq_skip = 1  # a gap: the feed asks get_snapshot, which now fails with 16
            sim.world.scenario.run_steps(100)
            good = sorted(t for t in markets if t != bad)
            await wait_for(lambda: feed.metrics.not_found == 1 and synced(sim, feed, good), "subscription replaced")
            sim.world.scenario.run_steps(200)
            await wait_for(lambda: synced(sim, feed, good), "good books streaming")
            assert feed.books.books[bad].status == "RESYNCING" and feed.metrics.reconnects == 0


async def test_adding_a_closed_market_to_a_live_subscription_keeps_the_added_good_ones() -> None:
    async with Simulator(SIM) as sim:
        markets = plain_markets(sim)
        first = dict(list(markets.items())[:2])
        later = {t: g for t, g in markets.items() if t not in first}
        bad = sorted(later)[0]
        sim.world.kalshi_markets[bad].status = "closed"
        async with running(sim, first) as feed:
            await wait_for(lambda: synced(sim, feed), "initial snapshots")
            await feed.add_markets(later)  # update_subscription add_markets: error 16 for the whole command
            good = sorted(t for t in markets if t != bad)
            await wait_for(lambda: synced(sim, feed, good) and feed.metrics.not_found == 1, "added good markets")
            sim.world.scenario.run_steps(200)
            await wait_for(lambda: synced(sim, feed, good), "deltas")
            assert feed.books.books[bad].status == "RESYNCING" and bad not in set().union(*feed._sid_tickers.values())


# --- defect 6: the seq rule under each reading ----------------------------------------------------------------


@pytest.mark.parametrize("reply_mode", REPLY_MODES)
@pytest.mark.parametrize("seq_mode", SEQ_MODES)
async def test_simulator_numbers_messages_by_the_reading(seq_mode: str, reply_mode: str) -> None:
    async with Simulator(replace(SIM, kalshi_ws_seq=seq_mode, kalshi_ws_reply_seq=reply_mode)) as sim:
        t1, t2 = list(plain_markets(sim))[:2]
        headers = ws_headers(sim)
        async with connect(sim.kalshi_ws_url, additional_headers=headers) as ws:

            async def recv() -> dict[str, Any]:
                return dict(json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT)))

            await ws.send(json.dumps({"id": 1, "cmd": "subscribe", "params": {"channels": ["orderbook_delta"], "market_tickers": [t1, t2]}}))
            sid = (await recv())["msg"]["sid"]
            seqs = [(await recv())["seq"], (await recv())["seq"]]
            await ws.send(json.dumps({"id": 2, "cmd": "update_subscription",
                                      "params": {"sid": sid, "market_tickers": [t1], "action": "get_snapshot"}}))
            ok, snap = await recv(), await recv()
    reset = seq_mode == "snapshot_reset"
    last = 1 if reset else 2
    assert seqs == ([1, 1] if reset else [1, 2])
    assert ok["type"] == "ok" and ok.get("seq") == {"next": last + 1, "current": last, "none": None}[reply_mode]
    assert snap["type"] == "orderbook_snapshot" and snap["seq"] == (1 if reset else last + 1 + (reply_mode == "next"))


@pytest.mark.parametrize("reply_mode", REPLY_MODES)
@pytest.mark.parametrize("seq_mode", SEQ_MODES)
async def test_books_equal_the_simulators_and_one_gap_is_one_re_snapshot(seq_mode: str, reply_mode: str) -> None:
    async with Simulator(replace(SIM, kalshi_ws_seq=seq_mode, kalshi_ws_reply_seq=reply_mode)) as sim:
        markets = plain_markets(sim)
        spare = sorted(markets)[-1]
        async with running(sim, {t: g for t, g in markets.items() if t != spare}) as feed:
            await wait_for(lambda: synced(sim, feed), "initial snapshots")
            sim.world.scenario.run_steps(200)
            await wait_for(lambda: synced(sim, feed), "deltas")
            await feed.add_markets({spare: markets[spare]})  # ok + a snapshot in the middle of the stream
            sim.world.scenario.run_steps(100)
            await wait_for(lambda: spare in feed.books.books and synced(sim, feed), "added market")
            await feed.remove_markets([sorted(markets)[0]])  # an ok with no snapshot after it
            sim.world.scenario.run_steps(200)
            await wait_for(lambda: synced(sim, feed), "after removal")
            assert (feed.metrics.gaps, feed.metrics.resyncs) == (0, 0)  # no reading makes a false gap

            sim.world.faults["KALSHI"].seq_skip = 1  # one real gap
            sim.world.scenario.run_steps(100)
            await wait_for(lambda: feed.metrics.gaps == 1, "the gap")
            await wait_for(lambda: synced(sim, feed), "re-snapshot")
            for _ in range(3):  # a loop would show as more gaps / requests while the books keep moving
                sim.world.scenario.run_steps(200)
                await wait_for(lambda: synced(sim, feed), "deltas after the re-snapshot")
            assert (feed.metrics.gaps, feed.metrics.resyncs, feed.metrics.reconnects) == (1, 1, 0)
