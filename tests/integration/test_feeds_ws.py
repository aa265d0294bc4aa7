"""Feed clients against live WebSocket servers on 127.0.0.1: the Kalshi simulator, and a scripted
Polymarket market-channel server. Gaps, terminal errors, disconnects, keep-alive, book checks against the
REST book, live add/remove."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import WSMsgType, web

from producers.handoff import Handoff
from producers.kalshi_feed import KalshiFeed
from producers.kalshi_feed import rest_books as kalshi_rest_books
from producers.settings import FeedSettings
from simulators.runner import Simulator
from simulators.settings import SimSettings
from tests.integration.feed_support import Collector, collected, started, wait_for
from venues.kalshi.rest import KalshiRest

pytestmark = pytest.mark.integration
FAST = FeedSettings(depth=50, backoff_base_s=0.01, backoff_cap_s=0.05, connect_timeout_s=2.0, poly_ping_s=0.2)
# Issue 25, defect 7: keep-alive and book check on short intervals (the sim pings Kalshi clients every 0.5 s).
LIVE = FeedSettings(depth=50, backoff_base_s=0.01, backoff_cap_s=0.05, connect_timeout_s=0.5, poly_ping_s=0.1, ws_ping_s=0.1,
                    keepalive_timeout_s=0.4, snapshot_timeout_s=0.5, book_check_s=0.15, book_check_confirm_s=0.1,
                    book_checks_per_s=100.0, book_check_timeout_s=1.0)


def drain(c: Collector) -> list[dict[str, Any]]:
    return c.take()


# --- Kalshi, against the project simulator ---------------------------------------------------------

@contextlib.asynccontextmanager
async def kalshi_feed(settings: FeedSettings = FAST, n_markets: int | None = None, checked: bool = False,
                      ws_url: Callable[[Simulator], Awaitable[str]] | None = None) -> AsyncIterator[tuple[Simulator, KalshiFeed, Collector]]:
    """`checked`: with the book check against the simulator's REST books; `ws_url`: the socket to use (a proxy)."""
    sim_settings = SimSettings(games=2, updates_per_s=0.0, autostart=False, arb_rate_per_min=0.0, kalshi_tier="unlimited",
                               kalshi_ping_interval_s=0.5)
    async with Simulator(sim_settings) as sim, contextlib.AsyncExitStack() as stack:
        markets = {t: m.game_id for t, m in sim.world.kalshi_markets.items() if not m.mve}
        if n_markets is not None:
            markets = dict(sorted(markets.items())[:n_markets])
        handoff: Handoff[dict[str, Any]] = Handoff(1000)
        fetcher = None
        if checked:
            rest = KalshiRest(sim.kalshi_url, sim.settings.kalshi_key_id, sim.kalshi_private_key, timeout_s=settings.book_check_timeout_s)
            stack.push_async_callback(rest.aclose)
            fetcher = kalshi_rest_books(rest)
        url = sim.kalshi_ws_url if ws_url is None else await ws_url(sim)
        feed = KalshiFeed(url=url, key_id=sim.settings.kalshi_key_id, private_key=sim.kalshi_private_key,
                          markets=markets, handoff=handoff, settings=settings, rng=random.Random(7), book_fetcher=fetcher)
        async with collected(feed) as collector:
            yield sim, feed, collector


def in_sync(sim: Simulator, feed: KalshiFeed) -> bool:
    for t, book in feed.books.books.items():
        sb = sim.world.kalshi_books[t]
        if book.status != "OK" or book.top(100) != (sb.bids()[:100], sb.asks()[:100]):
            return False
    return True


async def test_kalshi_snapshot_and_deltas_match_the_simulator() -> None:
    async with kalshi_feed() as (sim, feed, handoff):
        await wait_for(lambda: in_sync(sim, feed), what="initial snapshots")
        assert len(feed.books.books) >= 4
        first = drain(handoff)
        assert {t["market"] for t in first} == set(feed.books.books)
        assert all(t["status"] == "OK" and t["bids"] and t["asks"] for t in first)
        sim.world.scenario.run_steps(300)
        await wait_for(lambda: in_sync(sim, feed), what="deltas applied")
        ticks = drain(handoff)
        assert ticks and all(t["venue"] == "KALSHI" and t["game_id"] == sim.world.kalshi_markets[t["market"]].game_id for t in ticks)
        assert all(t["tick_id"].startswith(f"KALSHI:{t['market']}:") for t in ticks)
        assert feed.metrics.gaps == 0 and feed.metrics.parse_errors == 0 and feed.metrics.ticks >= len(ticks)


async def test_kalshi_seq_gap_resyncs_every_book_of_the_sid() -> None:
    async with kalshi_feed() as (sim, feed, handoff):
        await wait_for(lambda: in_sync(sim, feed), what="initial snapshots")
        drain(handoff)
        sim.world.faults["KALSHI"].seq_skip = 1
        sim.world.scenario.run_steps(50)
        await wait_for(lambda: feed.metrics.gaps >= 1, what="gap detected")
        await wait_for(lambda: in_sync(sim, feed), what="resynced")
        statuses = [t["status"] for t in drain(handoff)]
        assert "RESYNCING" in statuses and statuses[-1] == "OK"
        assert feed.metrics.resyncs >= 1 and feed.metrics.reconnects == 0  # get_snapshot, not a reconnect


async def test_kalshi_terminal_error_resubscribes() -> None:
    async with kalshi_feed() as (sim, feed, handoff):
        await wait_for(lambda: in_sync(sim, feed), what="initial snapshots")
        old_sids = set(feed._sid_tickers)
        assert sim.world.faults.ws_error("KALSHI", 25) >= 1
        await wait_for(lambda: feed.metrics.resyncs >= 1 and bool(feed._sid_tickers) and not set(feed._sid_tickers) & old_sids,
                       what="new subscription")
        sim.world.scenario.run_steps(100)
        await wait_for(lambda: in_sync(sim, feed), what="books after resubscribe")
        assert "RESYNCING" in [t["status"] for t in drain(handoff)]


async def test_kalshi_disconnect_reconnects_with_backoff() -> None:
    async with kalshi_feed() as (sim, feed, handoff):
        await wait_for(lambda: in_sync(sim, feed), what="initial snapshots")
        assert sim.world.faults.disconnect("KALSHI") == 1
        await wait_for(lambda: feed.metrics.reconnects >= 1, what="reconnect")
        sim.world.scenario.run_steps(100)
        await wait_for(lambda: in_sync(sim, feed), what="books after reconnect")
        assert "RESYNCING" in [t["status"] for t in drain(handoff)]


async def test_kalshi_quiet_books_stay_ok_without_reconnects() -> None:
    """Issue 25, defect 7: a market whose book does not change sends nothing. Before, ARB_FEED_SILENCE_S of no
    data marked every book STALE and reconnected; now the socket answers its pings, and the book check finds
    the quiet books equal to the venue's REST books, many check intervals over."""
    async with kalshi_feed(LIVE, checked=True) as (sim, feed, col):
        await wait_for(lambda: in_sync(sim, feed), what="initial snapshots")
        n = len(feed.books.books)
        # each book checked 4 times: 4 x 0.15 s of quiet each, 10+ keep-alive timeouts of no data
        await wait_for(lambda: feed.metrics.book_checks >= 4 * n, timeout=10, what="book checks of quiet books")
        assert feed.metrics.reconnects == 0 and feed.metrics.silences == 0 and feed.metrics.stale_books == 0
        assert feed.metrics.book_check_errors == 0 and feed.metrics.resyncs == 0
        assert {t["status"] for t in col.ticks} == {"OK"} and in_sync(sim, feed)


async def test_kalshi_socket_that_answers_pings_but_drops_changes_is_caught_by_the_book_check() -> None:
    """The simulator's silence fault: the socket stays open and answers pings, data is dropped. Changes made
    meanwhile reach the REST book only: the check finds the books wrong (RESYNCING, re-snapshot) while the
    socket is still silent, and once it speaks again every book ends equal to the simulator's."""
    async with kalshi_feed(LIVE, checked=True) as (sim, feed, col):
        await wait_for(lambda: in_sync(sim, feed), what="initial snapshots")
        col.take()
        sim.world.faults["KALSHI"].silence = True
        sim.world.scenario.run_steps(300)
        changed = {t for t, b in feed.books.books.items() if b.top(100) != (sim.world.kalshi_books[t].bids()[:100], sim.world.kalshi_books[t].asks()[:100])}
        assert changed
        await wait_for(lambda: feed.metrics.stale_books >= 1, what="a wrong book caught while the socket is silent")
        await wait_for(lambda: all(feed.books.books[t].status != "OK" for t in changed), what="every changed book flagged")
        assert feed.metrics.gaps == 0  # caught by the check, not by a seq gap (nothing arrived to show one)
        await wait_for(lambda: "RESYNCING" in {t["status"] for t in col.ticks if t["market"] in changed}, what="RESYNCING ticks")
        sim.world.faults["KALSHI"].silence = False
        await wait_for(lambda: in_sync(sim, feed), timeout=10, what="books resynced after the socket speaks again")
        assert feed.metrics.silences == 0  # the socket was alive all along


class Proxy:
    """A TCP relay on 127.0.0.1 that can freeze: while frozen it drops every byte both ways and keeps the
    connections open (a dead path: no FIN, no RST, no Pong)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.frozen = False
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.create_task(self._relay(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        up_reader, up_writer = await asyncio.open_connection(self.host, self.port)
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                if not self.frozen:
                    writer.write(data)
                    await writer.drain()
        finally:
            writer.close()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def test_kalshi_socket_that_stops_answering_keepalives_is_reconnected() -> None:
    proxies: list[Proxy] = []

    async def via_proxy(sim: Simulator) -> str:
        host, _, rest = sim.kalshi_ws_url.removeprefix("ws://").partition(":")
        port, _, path = rest.partition("/")
        proxies.append(Proxy(host, int(port)))
        return f"ws://127.0.0.1:{await proxies[0].start()}/{path}"

    try:
        async with kalshi_feed(LIVE, ws_url=via_proxy) as (sim, feed, col):
            await wait_for(lambda: in_sync(sim, feed), what="initial snapshots")
            proxies[0].frozen = True  # the socket stays open; pings go unanswered
            await wait_for(lambda: feed.metrics.silences >= 1, what="keep-alive lost")
            await wait_for(lambda: all(b.status == "RESYNCING" for b in feed.books.books.values()), what="books flagged")
            proxies[0].frozen = False
            sim.world.scenario.run_steps(100)
            await wait_for(lambda: in_sync(sim, feed), what="books after reconnecting")
            assert feed.metrics.reconnects >= 1 and proxies[0].connections >= 2
    finally:
        for p in proxies:
            await p.stop()


async def test_kalshi_add_and_remove_markets_live() -> None:
    async with kalshi_feed(n_markets=2) as (sim, feed, handoff):
        await wait_for(lambda: in_sync(sim, feed), what="initial snapshots")
        others = {t: m.game_id for t, m in sim.world.kalshi_markets.items() if not m.mve and t not in feed.markets}
        assert others
        await feed.add_markets(others)
        await wait_for(lambda: set(others) <= set(feed.books.books) and in_sync(sim, feed), what="added markets")
        assert {t["market"] for t in drain(handoff)} >= set(others)
        gone = sorted(others)[0]
        await feed.remove_markets([gone])
        sim.world.scenario.run_steps(300)
        await wait_for(lambda: in_sync(sim, feed), what="after removal")
        assert gone not in feed.books.books
        await asyncio.sleep(0.05)  # let in-flight deltas for the removed market land
        assert gone not in {t["market"] for t in drain(handoff)}
        assert feed.metrics.reconnects == 0 and feed.metrics.venue_errors == 0


async def test_kalshi_unknown_market_does_not_block_the_others() -> None:
    async with kalshi_feed(n_markets=2) as (sim, feed, _col):
        await wait_for(lambda: in_sync(sim, feed), what="initial snapshots")
        good = {t: m.game_id for t, m in sim.world.kalshi_markets.items() if not m.mve and t not in feed.markets}
        before = set(feed._sid_tickers)
        # a market the venue does not list, added while no subscription is pending: new subscribe via add_markets
        for sid in before:
            feed._sid_tickers.pop(sid)  # force add_markets to subscribe afresh (as right after a reconnect)
        await feed.add_markets({"KXNOPE-26JAN01-XX": "g", **good})
        await wait_for(lambda: all(feed.books.books[t].status == "OK" for t in good), what="other markets subscribed")
        assert feed.books.books["KXNOPE-26JAN01-XX"].status == "RESYNCING"
        # error 16 names no market ("Market not found"): found by halving the command, one error per step
        assert feed.metrics.not_found == 1 and feed.metrics.venue_errors >= 1

async def test_kalshi_bad_credentials_backs_off_and_retries() -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    wrong = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    async with Simulator(SimSettings(games=1, updates_per_s=0.0, autostart=False, kalshi_tier="unlimited")) as sim:
        markets = {t: m.game_id for t, m in sim.world.kalshi_markets.items() if not m.mve}
        feed = KalshiFeed(url=sim.kalshi_ws_url, key_id=sim.settings.kalshi_key_id, private_key=wrong, markets=markets,
                          handoff=Handoff(), settings=FAST)
        async with started(feed):
            await wait_for(lambda: feed.metrics.reconnects >= 2, what="retries")
            assert feed.backoff.attempt >= 2 and all(b.status == "RESYNCING" for b in feed.books.books.values())


async def test_kalshi_bad_frames_counted_never_crash(tmp_path: Any) -> None:
    """The simulator's recorded-frame mode streams our scripted frames unmodified after the subscribe."""
    sim0 = SimSettings(games=1)
    from simulators.world import SimWorld

    ticker = next(t for t, m in SimWorld(sim0).kalshi_markets.items() if not m.mve)

    def delta(seq: int, size: str, tick: str = ticker, price: str = "0.4000", typ: str = "orderbook_delta") -> str:
        return json.dumps({"type": typ, "sid": 1, "seq": seq, "msg": {"market_ticker": tick, "price_dollars": price,
                                                                       "delta_fp": size, "side": "yes", "ts_ms": 1_800_000_000_000}})

    frames = [
        json.dumps({"type": "orderbook_snapshot", "sid": 1, "seq": 1, "msg": {"market_ticker": ticker,
                    "yes_dollars_fp": [["0.4000", "10.00"]], "no_dollars_fp": [["0.6200", "5.00"]]}}),
        delta(2, "lots"),  # non-numeric size: parse error (still has no usable seq)
        delta(2, "2.50"),
        delta(3, "1.00", typ="brand_new_type"),  # unknown type: counted, takes its seq
        delta(4, "1.00", tick="NOT-SUBSCRIBED"),  # unknown ticker
        delta(5, "0.25"),
    ]
    path = tmp_path / "frames.jsonl"
    path.write_text("\n".join(frames) + "\n")
    settings = SimSettings(games=1, updates_per_s=0.0, autostart=False, kalshi_tier="unlimited", kalshi_replay=path)
    async with Simulator(settings) as sim:
        handoff: Handoff[dict[str, Any]] = Handoff()
        feed = KalshiFeed(url=sim.kalshi_ws_url, key_id=sim.settings.kalshi_key_id, private_key=sim.kalshi_private_key,
                          markets={ticker: "g"}, handoff=handoff, settings=FAST)
        async with started(feed):  # the ticks stay in the hand-off
            await wait_for(lambda: feed.books.books[ticker].seq == 5, what="last delta applied")
            book = feed.books.books[ticker]
            assert book.status == "OK" and book.bids == {4000: 1275} and book.asks == {6200: 500}  # YES-scale asks
            assert feed.metrics.parse_errors == 1 and feed.metrics.bad_input == 2 and feed.metrics.gaps == 0
            assert feed.metrics.reconnects == 0
            got = handoff.get_nowait()
            assert got is not None and got[1]["tick_id"] == f"KALSHI:{ticker}:1:5" and got[1]["venue_ts"] == 1_800_000_000_000_000

# --- Polymarket, against a scripted market-channel server --------------------------------------------

YES, NO = "1111", "2222"


def book_event(asset: str, bids: list[tuple[str, str]], asks: list[tuple[str, str]], ts: int = 1000) -> dict[str, Any]:
    # live order: bids ascending, asks descending (best level last)
    return {"event_type": "book", "asset_id": asset, "market": "0xc", "timestamp": str(ts), "hash": "h", "tick_size": "0.01",
            "bids": [{"price": p, "size": s} for p, s in sorted(bids)],
            "asks": [{"price": p, "size": s} for p, s in sorted(asks, reverse=True)]}


class PolyServer:
    """Scripted /ws/market: answers a subscription with an array initial dump, PING with PONG, then sends
    whatever the test pushes; can drop connections or go silent."""

    def __init__(self) -> None:
        self.books: dict[str, dict[str, Any]] = {
            YES: book_event(YES, [("0.48", "100"), ("0.47", "50")], [("0.52", "80"), ("0.53", "10")]),
            NO: book_event(NO, [("0.48", "80")], [("0.52", "100")]),
        }
        self.received: list[Any] = []
        self.pings = 0
        self.connections = 0
        self.silent = False
        self.pongs = True  # False: PINGs go unanswered (protocol pings still are)
        self._conns: list[web.WebSocketResponse] = []
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def start(self) -> PolyServer:
        app = web.Application()
        app.router.add_get("/ws/market", self.handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"ws://127.0.0.1:{port}/ws/market"
        return self

    async def stop(self) -> None:
        for ws in list(self._conns):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.connections += 1
        self._conns.append(ws)
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                if msg.data == "PING":
                    self.pings += 1
                    if self.pongs:
                        await ws.send_str("PONG")  # answered even when silent: the socket looks alive
                    continue
                body = json.loads(msg.data)
                self.received.append(body)
                if self.silent:
                    continue
                assets = body.get("assets_ids", [])
                if body.get("type") == "market" or body.get("operation") == "subscribe":
                    await ws.send_str(json.dumps([self.books[a] for a in assets if a in self.books]))
                    await ws.send_str("NO NEW ASSETS")
        finally:
            self._conns.remove(ws)
        return ws

    async def push(self, frame: Any) -> None:
        for ws in list(self._conns):
            await ws.send_str(frame if isinstance(frame, str) else json.dumps(frame))

    async def drop(self) -> None:
        for ws in list(self._conns):
            await ws.close()


@contextlib.asynccontextmanager
async def poly_feed(settings: FeedSettings = FAST, markets: dict[str, str] | None = None) -> AsyncIterator[tuple[PolyServer, Any, Collector]]:
    from producers.polymarket_feed import PolymarketFeed

    server = await PolyServer().start()
    feed = PolymarketFeed(url=server.url, markets=markets if markets is not None else {YES: "g1", NO: "g1"}, handoff=Handoff(1000),
                          settings=settings, rng=random.Random(3))
    try:
        async with collected(feed) as collector:
            yield server, feed, collector
    finally:
        await server.stop()


def change(ts: int, *entries: tuple[str, str, str, str, str, str]) -> dict[str, Any]:
    return {"event_type": "price_change", "market": "0xc", "timestamp": str(ts), "price_changes": [
        {"asset_id": a, "price": p, "size": s, "side": side, "hash": "x", "best_bid": bb, "best_ask": ba}
        for a, p, s, side, bb, ba in entries]}


async def test_poly_initial_dump_changes_and_crossing() -> None:
    async with poly_feed() as (server, feed, col):
        await wait_for(lambda: all(b.status == "OK" for b in feed.books.books.values()), what="initial dump")
        sub = server.received[0]
        assert sub["type"] == "market" and sub["initial_dump"] is True and sorted(sub["assets_ids"]) == [YES, NO]
        yes = feed.books.books[YES]
        assert yes.top(1) == ([(4800, 10000)], [(5200, 8000)])
        # an aggressive buy: the entry already shows the post-match best ask, the removal comes a frame later
        await server.push(change(2000, (YES, "0.53", "5", "BUY", "0.53", "0.55"), (NO, "0.47", "5", "SELL", "0.45", "0.47")))
        await wait_for(lambda: yes.status == "CROSSED", what="crossed")
        await server.push([change(2000, (YES, "0.52", "0", "SELL", "0.53", "0.55")), change(2000, (YES, "0.53", "0", "SELL", "0.53", "0.55"))])
        await wait_for(lambda: yes.status == "OK", what="uncrossed")
        assert yes.top(2) == ([(5300, 500), (4800, 10000)], [])
        await server.push({"event_type": "tick_size_change", "asset_id": YES, "market": "0xc", "old_tick_size": "0.01",
                           "new_tick_size": "0.001", "timestamp": "3000"})
        await wait_for(lambda: yes.tick_size == 10, what="tick size")
        await wait_for(lambda: any(t["tick_size"] == 10 for t in col.ticks), what="tick with new tick size")
        yes_statuses = [t["status"] for t in col.ticks if t["market"] == YES]
        assert yes_statuses[0] == "OK" and "CROSSED" in yes_statuses and yes_statuses[-1] == "OK"
        assert feed.disagreements >= 1 and feed.metrics.parse_errors == 0 and feed.metrics.bad_input == 0
        ids = [t["tick_id"] for t in col.ticks if t["market"] == YES]
        assert f"POLYMARKET:{YES}:2000/0" in ids and len(set(ids)) == len(ids)


async def test_poly_bad_input_counted_never_crashes() -> None:
    async with poly_feed() as (server, feed, col):
        await wait_for(lambda: all(b.status == "OK" for b in feed.books.books.values()), what="initial dump")
        for bad in ([{"event_type": "price_change", "market": "m", "timestamp": "1", "price_changes": [
                        {"asset_id": YES, "price": "0.5", "size": "-1", "side": "BUY"}]}],
                    {"event_type": "mystery"}, change(5, ("9999", "0.5", "1", "BUY", "0.5", "0.6")),
                    {"event_type": "price_change", "market": "m", "timestamp": "1", "price_changes": [
                        {"asset_id": YES, "price": "0.5", "size": "many", "side": "BUY"}]}):
            await server.push(bad)
        # An unreadable entry of YES's (size "-1", "many") may have changed YES's book: YES alone is re-snapshotted
        # (unsubscribe + subscribe with initial_dump), the connection and the other book are kept.
        await wait_for(lambda: {"operation": "subscribe", "assets_ids": [YES], "initial_dump": True} in server.received
                       and feed.books.books[YES].status == "OK", what="YES re-snapshotted")
        await server.push(change(6, (YES, "0.49", "7", "BUY", "0.49", "0.52")))
        await wait_for(lambda: feed.books.books[YES].best_bid == 4900, what="good frame after bad ones")
        assert feed.metrics.bad_input == 2  # unknown event type, unknown asset
        assert feed.metrics.parse_errors >= 2  # the two bad entries (the unknown event type is counted as it was)
        assert feed.books.books[YES].top(3)[0] == [(4900, 700), (4800, 10000), (4700, 5000)]
        assert "RESYNCING" in {t["status"] for t in col.ticks if t["market"] == YES}
        assert server.connections == 1  # a bad entry inside a JSON frame is known to touch only its own book


async def test_poly_unreadable_frame_resyncs_every_book() -> None:
    # No seq on this channel: a frame that is not JSON may have carried any change, so the feed
    # reconnects for a fresh dump rather than keep books it cannot vouch for.
    async with poly_feed() as (server, feed, col):
        await wait_for(lambda: all(b.status == "OK" for b in feed.books.books.values()), what="initial dump")
        await server.push(change(6, (YES, "0.49", "7", "BUY", "0.49", "0.52")))
        await wait_for(lambda: feed.books.books[YES].best_bid == 4900, what="a change applied")
        await server.push("{nope")
        await wait_for(lambda: server.connections >= 2 and all(b.status == "OK" for b in feed.books.books.values()),
                       what="reconnected with a fresh dump")
        assert feed.metrics.parse_errors == 1 and feed.metrics.resyncs >= 1
        assert "RESYNCING" in {t["status"] for t in col.ticks}
        assert feed.books.books[YES].best_bid != 4900  # the dump's book, not the one built before the bad frame


async def test_poly_no_pong_reconnects() -> None:
    """Liveness is the PONG answer to our text PING (docs.polymarket.com market-data/websocket/overview.md,
    "Heartbeats"); the server here still answers protocol pings and the socket stays open."""
    async with poly_feed(LIVE) as (server, feed, col):
        await wait_for(lambda: all(b.status == "OK" for b in feed.books.books.values()), what="initial dump")
        await wait_for(lambda: server.pings >= 2, what="text PINGs")
        server.pongs = False
        await wait_for(lambda: feed.metrics.silences >= 1, what="PONGs missed")
        assert "RESYNCING" in {t["status"] for t in col.ticks}
        server.pongs = True
        await wait_for(lambda: server.connections >= 2 and all(b.status == "OK" for b in feed.books.books.values()),
                       what="resubscribed after reconnect")
        assert feed.metrics.reconnects >= 1


async def test_poly_quiet_socket_that_answers_pongs_is_kept() -> None:
    # Before: no data for ARB_FEED_SILENCE_S marked the books STALE and reconnected, every time.
    async with poly_feed(LIVE) as (server, feed, col):
        await wait_for(lambda: all(b.status == "OK" for b in feed.books.books.values()), what="initial dump")
        pings = server.pings
        await wait_for(lambda: server.pings >= pings + 15, what="1.5 s of PING/PONG, nearly 4 keep-alive timeouts")
        assert server.connections == 1 and feed.metrics.reconnects == 0 and feed.metrics.silences == 0
        assert {t["status"] for t in col.ticks} == {"OK"}


async def test_poly_disagreement_is_checked_at_once() -> None:
    """A price_change whose best bid/ask differs from our book while it is not crossed means a lost change:
    the book is checked against the REST book at once (not after ARB_FEED_BOOK_CHECK_S of quiet), and a
    confirmed difference makes it RESYNCING and re-snapshots it. Before, it was only counted."""
    fetched: list[str] = []
    truth = ({4900: 700, 4800: 10000, 4700: 5000}, {5200: 8000, 5300: 1000})  # the venue's book after the change

    async def fetch(asset: str) -> tuple[dict[int, int], dict[int, int]]:
        fetched.append(asset)
        return truth

    settings = dataclasses.replace(LIVE, book_check_s=60.0)
    from producers.polymarket_feed import PolymarketFeed

    server = await PolyServer().start()
    feed = PolymarketFeed(url=server.url, markets={YES: "g1"}, handoff=Handoff(1000), settings=settings, book_fetcher=fetch)
    try:
        async with collected(feed) as col:
            await wait_for(lambda: feed.books.books[YES].status == "OK", what="initial dump")
            scale = feed.books.books[YES].bids[4800] // 10000  # sizes per 1e-2 share in the book (the book may keep them finer)
            truth = ({p: s * scale for p, s in truth[0].items()}, {p: s * scale for p, s in truth[1].items()})
            # the venue says best bid 0.49 after this entry, but our book (which missed a change) has 0.48
            await server.push(change(2000, (YES, "0.47", "50", "BUY", "0.49", "0.52")))
            await wait_for(lambda: feed.metrics.stale_books == 1, what="checked at once and found stale")
            assert fetched[:2] == [YES, YES] and feed.disagreements >= 1
            await wait_for(lambda: "RESYNCING" in {t["status"] for t in col.ticks}, what="its RESYNCING tick")
    finally:
        await server.stop()


# --- Polymarket, against the project simulator (market channel and REST /book of one engine) ----------

@contextlib.asynccontextmanager
async def poly_sim_feed(settings: FeedSettings = LIVE) -> AsyncIterator[tuple[Simulator, Any, Collector]]:
    from producers.polymarket_feed import PolymarketFeed
    from producers.polymarket_feed import rest_books as poly_rest_books
    from venues.polymarket.rest import PolymarketBookApi

    sim_settings = SimSettings(games=2, updates_per_s=0.0, autostart=False, arb_rate_per_min=0.0, kalshi_tier="unlimited")
    async with Simulator(sim_settings) as sim:
        markets = {tok: "g" for pm in sim.world.poly_markets.values() for tok in pm.token_ids}
        api = PolymarketBookApi(sim.poly_clob_url, timeout_s=settings.book_check_timeout_s)
        feed = PolymarketFeed(url=sim.poly_ws_url, markets=markets, handoff=Handoff(1000), settings=settings, rng=random.Random(5),
                              book_fetcher=poly_rest_books(api))
        try:
            async with collected(feed) as collector:
                yield sim, feed, collector
        finally:
            await api.aclose()


def poly_truth(sim: Simulator, asset: str) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    from simulators.polymarket.wire import token_levels, token_ref

    ref = token_ref(sim.world, asset)
    assert ref is not None
    bids, asks = token_levels(sim.world, ref)
    return bids[:100], asks[:100]


def poly_in_sync(sim: Simulator, feed: Any) -> bool:
    return all(b.status == "OK" and b.top(100) == poly_truth(sim, a) for a, b in feed.books.books.items())


async def test_poly_quiet_books_stay_ok_without_reconnects() -> None:
    async with poly_sim_feed() as (sim, feed, col):
        await wait_for(lambda: poly_in_sync(sim, feed), what="initial dump")
        n = len(feed.books.books)
        await wait_for(lambda: feed.metrics.book_checks >= 4 * n, timeout=10, what="book checks of quiet books")
        assert feed.metrics.reconnects == 0 and feed.metrics.silences == 0 and feed.metrics.stale_books == 0
        assert feed.metrics.book_check_errors == 0
        assert {t["status"] for t in col.ticks} == {"OK"} and poly_in_sync(sim, feed)


async def test_poly_socket_that_answers_pings_but_drops_changes_is_caught_by_the_book_check() -> None:
    """No seq on this channel: without the check, levels changed while the socket dropped data would stay wrong
    for good (later price_changes only set the levels they name)."""
    async with poly_sim_feed() as (sim, feed, col):
        await wait_for(lambda: poly_in_sync(sim, feed), what="initial dump")
        col.take()
        sim.world.faults["POLYMARKET"].silence = True  # PONGs continue, data is dropped
        sim.world.scenario.run_steps(300)
        changed = {a for a, b in feed.books.books.items() if b.top(100) != poly_truth(sim, a)}
        assert changed
        await wait_for(lambda: feed.metrics.stale_books >= 1, what="a wrong book caught while the socket is silent")
        await wait_for(lambda: "RESYNCING" in {t["status"] for t in col.ticks if t["market"] in changed}, what="its RESYNCING tick")
        assert feed.metrics.silences == 0
        sim.world.faults["POLYMARKET"].silence = False
        await wait_for(lambda: poly_in_sync(sim, feed), timeout=10, what="books resynced after the socket speaks again")


async def test_poly_disconnect_resubscribes_and_live_add_remove() -> None:
    async with poly_feed(markets={YES: "g1"}) as (server, feed, col):
        await wait_for(lambda: feed.books.books[YES].status == "OK", what="initial dump")
        await feed.add_markets({NO: "g1"})
        await wait_for(lambda: feed.books.books[NO].status == "OK", what="added asset")
        assert server.received[-1] == {"operation": "subscribe", "assets_ids": [NO], "initial_dump": True}
        await feed.remove_markets([YES])
        await wait_for(lambda: server.received[-1] == {"operation": "unsubscribe", "assets_ids": [YES]}, what="unsubscribe sent")
        assert YES not in feed.books.books
        await server.drop()
        await wait_for(lambda: server.connections >= 2 and feed.books.books[NO].status == "OK", what="reconnected")
        assert server.received[-1]["type"] == "market" and server.received[-1]["assets_ids"] == [NO]
        assert "RESYNCING" in [t["status"] for t in col.ticks if t["market"] == NO]
