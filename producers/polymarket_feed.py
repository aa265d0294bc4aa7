"""Polymarket market-channel feed: subscribe with `initial_dump`, text PING every 10 s, exact books
(`book` replaces, `price_changes[]` set absolute levels, `tick_size_change`), CROSSED status while a
rebuilt book is crossed, silence detection, reconnect with jittered backoff, live asset add/remove.
Emits a Tick per changed token per event into a Handoff; no Kafka here.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from core import metrics
from core.backoff import Backoff
from core.units import now_us
from producers.feed_metrics import FeedMetrics
from producers.handoff import Handoff
from producers.settings import FeedSettings
from producers.tick import build_tick
from venues.polymarket.book import PolyBooks
from venues.polymarket.parse import parse_frame

log = logging.getLogger(__name__)
_MAX_LOGGED_FRAME = 500


class PolymarketFeed:
    def __init__(self, *, url: str, markets: Mapping[str, str], handoff: Handoff[dict[str, Any]],
                 settings: FeedSettings | None = None, metrics: FeedMetrics | None = None, rng: random.Random | None = None,
                 clock: Callable[[], int] = now_us) -> None:
        """`markets`: token id (asset_id) -> game_id (the Tick key)."""
        self.url = url
        self.settings = settings or FeedSettings()
        self.handoff = handoff
        self.metrics = metrics or FeedMetrics()
        self.clock = clock
        self.backoff = Backoff(self.settings.backoff_base_s, self.settings.backoff_cap_s, rng)
        self.books = PolyBooks()
        self.markets: dict[str, str] = {}
        self.disagreements = 0  # entries whose best_bid/best_ask differ from our book (expected while crossed)
        self._ws: ClientConnection | None = None
        self._stopping = False
        self._unreadable = False  # set by a frame that is not JSON: reconnect for a fresh dump
        self.connected = asyncio.Event()
        for a, g in markets.items():
            self.markets[a] = g
            self.books.add(a)

    # --- public ------------------------------------------------------------------------------------

    async def run(self) -> None:
        first = True
        while not self._stopping:
            if not first:
                self.metrics.reconnects += 1
                delay = self.backoff.next_delay()
                log.info("polymarket feed: reconnecting in %.2fs", delay)
                await asyncio.sleep(delay)
                if self._stopping:
                    break
            first = False
            try:
                await self._session()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("polymarket feed: connection lost: %s", exc.__class__.__name__ + (f": {exc}" if str(exc) else ""))
            finally:
                self._ws = None
                self.connected.clear()
                self._emit(self.books.invalidate_all(), self.clock())

    def stop(self) -> None:
        self._stopping = True
        ws = self._ws
        if ws is not None:
            asyncio.ensure_future(ws.close())

    async def add_markets(self, markets: Mapping[str, str]) -> None:
        new = [a for a in markets if a not in self.markets]
        for a, g in markets.items():
            self.markets[a] = g
            self.books.add(a)
        if new and self._ws is not None:
            await self._ws.send(json.dumps({"operation": "subscribe", "assets_ids": new, "initial_dump": True}))

    async def remove_markets(self, asset_ids: Iterable[str]) -> None:
        gone = [a for a in asset_ids if a in self.markets]
        for a in gone:
            del self.markets[a]
            self.books.remove(a)
        if gone and self._ws is not None:
            await self._ws.send(json.dumps({"operation": "unsubscribe", "assets_ids": gone}))

    # --- connection --------------------------------------------------------------------------------

    async def _session(self) -> None:
        # Keepalive is the venue's text PING; protocol pings are left to the library defaults.
        async with connect(self.url, open_timeout=self.settings.connect_timeout_s, max_size=2**24) as ws:
            self._ws = ws
            self.connected.set()
            # Send the subscription at once: the server may close a connection that stays unsubscribed.
            await ws.send(json.dumps({"type": "market", "assets_ids": sorted(self.markets), "initial_dump": True,
                                      "level": 2, "custom_feature_enabled": False}))
            pinger = asyncio.create_task(self._pinger(ws), name="polymarket-pinger")
            pinger.add_done_callback(lambda task: self._pinger_ended(task, ws))
            loop = asyncio.get_running_loop()
            last_data = subscribed_at = loop.time()
            dump_checked = False
            try:
                while not self._stopping:
                    # PONG / NO NEW ASSETS do not count as data: a socket can answer pings and deliver nothing.
                    remaining = last_data + self.settings.silence_s - loop.time()
                    try:
                        raw = await asyncio.wait_for(ws.recv(), timeout=max(remaining, 0.0))
                    except TimeoutError:
                        self.metrics.silences += 1
                        log.warning("polymarket feed: no data for %.1fs; marking books stale and reconnecting", self.settings.silence_s)
                        self._emit(self.books.mark_stale(), self.clock())
                        return
                    if self._on_frame(raw, self.clock()):
                        last_data = loop.time()
                    if self._unreadable:
                        self._unreadable = False
                        self.metrics.resyncs += 1
                        log.warning("polymarket feed: unreadable frame; reconnecting for a fresh book of every market")
                        return
                    if not dump_checked and loop.time() - subscribed_at > self.settings.silence_s:
                        # The initial dump can be lost (measured with the simulator's silence fault: a
                        # reconnect while the venue was silent); price changes never sync a book, so the
                        # books it missed would stay RESYNCING while the others stream: resubscribe.
                        dump_checked = True
                        missing = [a for a in self.markets if (b := self.books.books.get(a)) is not None and not b.synced]
                        if missing:
                            log.warning("polymarket feed: no book for %d markets %.1fs after subscribing; reconnecting",
                                        len(missing), self.settings.silence_s)
                            return
            finally:
                pinger.cancel()
                await asyncio.gather(pinger, return_exceptions=True)  # its own end was logged (_pinger_ended)

    async def _pinger(self, ws: ClientConnection) -> None:
        while True:
            await asyncio.sleep(self.settings.poly_ping_s)
            await ws.send("PING")

    def _pinger_ended(self, task: asyncio.Task[None], ws: ClientConnection) -> None:
        """The pinger runs until its session ends (cancelled). Ending on its own it is logged and counted, and the
        socket is closed: without keepalives the venue would drop the connection anyway, and the session that
        follows starts a new pinger (a restart with the connection)."""
        if task.cancelled() or self._ws is not ws:
            return
        exc = task.exception()
        metrics.TASK_FAILURES.labels("polymarket-pinger").inc()
        log.error("polymarket feed: the pinger stopped (%s); reconnecting", "returned" if exc is None else f"{type(exc).__name__}: {exc}")
        asyncio.ensure_future(ws.close())

    # --- frames ------------------------------------------------------------------------------------

    def _on_frame(self, raw: str | bytes, received: int) -> bool:
        """Apply one frame; True if it carried data (anything but a control text)."""
        self.metrics.frames += 1
        parsed = parse_frame(raw)
        if parsed.control:
            return False
        if parsed.errors:
            self.metrics.parse_errors += len(parsed.errors)
            log.warning("polymarket feed: bad frame (%s): %.*s", "; ".join(parsed.errors), _MAX_LOGGED_FRAME, raw)
        if not parsed.readable:
            # No seq on this channel: a frame we cannot read may have carried changes to any book, and
            # nothing later would tell. Only a fresh dump makes the books exact again.
            self._unreadable = True
        for ev in parsed.events:
            res = self.books.apply(ev)
            if res.error:
                self.metrics.bad_input += 1
                log.warning("polymarket feed: %s: %.*s", res.error, _MAX_LOGGED_FRAME, raw)
            if res.disagreements:
                self.disagreements += len(res.disagreements)
                log.debug("polymarket feed: venue best bid/ask differs from rebuilt book: %s", res.disagreements)
            self._emit(res.changed, received)
        if any(b.synced for b in self.books.books.values()):
            self.backoff.reset()  # data is flowing: the connection works
        return True

    def _emit(self, assets: Iterable[str], received: int) -> None:
        depth = self.settings.depth
        for a in assets:
            book = self.books.books.get(a)
            game = self.markets.get(a)
            if book is None or game is None:
                continue
            tick = build_tick(venue="POLYMARKET", market=a, game_id=game, book=book, depth=depth,
                              position=book.position or "0/0", received_ts=received, produced_ts=self.clock())
            before = self.handoff.stats.coalesced
            accepted = self.handoff.put(f"POLYMARKET:{a}", tick)
            self.metrics.ticks += 1
            self.metrics.coalesced += self.handoff.stats.coalesced - before
            if not accepted:
                self.metrics.dropped += 1
