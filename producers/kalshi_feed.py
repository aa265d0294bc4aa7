"""Kalshi order-book feed: signed WS connection, one `orderbook_delta` subscription (use_yes_price: true),
exact books with the per-sid seq check, resync on gaps / terminal errors, silence detection, reconnect
with jittered backoff, live market add/remove. Emits a Tick per book change into a Handoff; no Kafka here.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from core.backoff import Backoff
from core.units import now_us
from producers.feed_metrics import FeedMetrics
from producers.handoff import Handoff
from producers.settings import FeedSettings
from producers.tick import build_tick
from venues.kalshi.auth import auth_headers
from venues.kalshi.book import KalshiBooks
from venues.kalshi.messages import Error, Unsubscribed
from venues.kalshi.parse import ParseError, parse_frame

log = logging.getLogger(__name__)
WS_SIGN_PATH = "/trade-api/ws/v2"
CHANNEL = "orderbook_delta"
_MAX_LOGGED_FRAME = 500


class KalshiFeed:
    def __init__(self, *, url: str, key_id: str, private_key: Any, markets: Mapping[str, str], handoff: Handoff[dict[str, Any]],
                 settings: FeedSettings | None = None, metrics: FeedMetrics | None = None, rng: random.Random | None = None,
                 clock: Callable[[], int] = now_us) -> None:
        """`markets`: ticker -> game_id (the Tick key)."""
        self.url, self.key_id, self._key = url, key_id, private_key
        self.settings = settings or FeedSettings()
        self.handoff = handoff
        self.metrics = metrics or FeedMetrics()
        self.clock = clock
        self.backoff = Backoff(self.settings.backoff_base_s, self.settings.backoff_cap_s, rng)
        self.books = KalshiBooks(yes_price=True)
        self.markets: dict[str, str] = {}
        self._ws: ClientConnection | None = None
        self._next_id = 1
        self._pending: dict[int, set[str]] = {}  # subscribe cmd id -> tickers awaiting `subscribed`
        self._sid_tickers: dict[int, set[str]] = {}  # live orderbook subscriptions
        self._snapshot_asked: dict[int, int] = {}  # sid -> when (clock, µs) its snapshots were last asked for
        self._stopping = False
        self.connected = asyncio.Event()
        for t, g in markets.items():
            self.markets[t] = g
            self.books.add(t)

    # --- public ------------------------------------------------------------------------------------

    async def run(self) -> None:
        """Connect, subscribe and read until stop(); reconnects on every failure."""
        first = True
        while not self._stopping:
            if not first:
                self.metrics.reconnects += 1
                delay = self.backoff.next_delay()
                log.info("kalshi feed: reconnecting in %.2fs", delay)
                await asyncio.sleep(delay)
                if self._stopping:
                    break
            first = False
            try:
                await self._session()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # connection refused, 401, closed socket, …: all mean reconnect
                log.warning("kalshi feed: connection lost: %s", exc.__class__.__name__ + (f": {exc}" if str(exc) else ""))
            finally:
                self._ws = None
                self.connected.clear()
                self._pending.clear()
                self._sid_tickers.clear()
                self._emit(self.books.invalidate_all(), self.clock())

    def stop(self) -> None:
        self._stopping = True
        ws = self._ws
        if ws is not None:
            asyncio.ensure_future(ws.close())

    async def add_markets(self, markets: Mapping[str, str]) -> None:
        new = [t for t in markets if t not in self.markets]
        for t, g in markets.items():
            self.markets[t] = g
            self.books.add(t)
        if new and self._ws is not None:
            sid = next(iter(self._sid_tickers), None)
            if sid is None:
                await self._subscribe(new)
            else:
                self._sid_tickers[sid].update(new)
                self._snapshot_asked[sid] = self.clock()  # the new markets' snapshots are due
                await self._send({"cmd": "update_subscription", "params": {"sids": [sid], "market_tickers": new, "action": "add_markets"}})

    async def remove_markets(self, tickers: Iterable[str]) -> None:
        gone = {t for t in tickers if t in self.markets}
        for t in gone:
            del self.markets[t]
            self.books.remove(t)
        for sid, ts in list(self._sid_tickers.items()):
            mine = sorted(ts & gone)
            if not mine or self._ws is None:
                continue
            ts.difference_update(mine)
            if ts:
                await self._send({"cmd": "update_subscription", "params": {"sids": [sid], "market_tickers": mine, "action": "delete_markets"}})
            else:
                del self._sid_tickers[sid]
                await self._send({"cmd": "unsubscribe", "params": {"sids": [sid]}})

    # --- connection --------------------------------------------------------------------------------

    async def _session(self) -> None:
        headers = auth_headers(self.key_id, self._key, "GET", WS_SIGN_PATH)
        async with connect(self.url, additional_headers=headers, open_timeout=self.settings.connect_timeout_s,
                           max_size=2**24) as ws:
            self._ws = ws
            self.connected.set()
            self._snapshot_asked.clear()
            if self.markets:
                await self._subscribe(sorted(self.markets))
            while not self._stopping:
                try:
                    raw = await asyncio.wait_for(ws.recv(), timeout=self.settings.silence_s)
                except TimeoutError:
                    self.metrics.silences += 1
                    log.warning("kalshi feed: no data for %.1fs; marking books stale and reconnecting", self.settings.silence_s)
                    self._emit(self.books.mark_stale(), self.clock())
                    return
                now = self.clock()
                if not await self._on_frame(raw, now):
                    return
                await self._ask_again(now)

    async def _send(self, cmd: dict[str, Any]) -> int:
        cmd_id = self._next_id
        self._next_id += 1
        if self._ws is not None:
            await self._ws.send(json.dumps({"id": cmd_id, **cmd}))
        return cmd_id

    async def _subscribe(self, tickers: list[str]) -> None:
        cmd_id = self._next_id
        self._pending[cmd_id] = set(tickers)
        await self._send({"cmd": "subscribe", "params": {"channels": [CHANNEL], "market_tickers": tickers, "use_yes_price": True}})

    async def _ask_again(self, now: int) -> None:
        """Ask again for the snapshots of a subscription whose books have waited for one longer than the
        silence bound. A venue can lose the answer (measured with the simulator's silence fault: a
        get_snapshot answered while the socket was silent never came, and with the other markets still
        streaming the silence bound never fired, so those books stayed RESYNCING for good)."""
        bound = int(self.settings.silence_s * 1_000_000)
        for sid, tickers in self._sid_tickers.items():
            asked = self._snapshot_asked.get(sid)
            if asked is None or now - asked < bound:
                continue
            if any(not b.synced for t in tickers if (b := self.books.books.get(t)) is not None):
                log.warning("kalshi feed: no snapshot on sid %s for %.1fs; asking again", sid, self.settings.silence_s)
                await self._resnapshot(sid)
            else:
                del self._snapshot_asked[sid]
            return  # one request per frame at most

    async def _resnapshot(self, sid: int) -> None:
        tickers = sorted(self._sid_tickers.get(sid, ()))
        if tickers:
            self.metrics.resyncs += 1
            self._snapshot_asked[sid] = self.clock()
            await self._send({"cmd": "update_subscription", "params": {"sids": [sid], "market_tickers": tickers, "action": "get_snapshot"}})

    # --- frames ------------------------------------------------------------------------------------

    async def _on_frame(self, raw: str | bytes, received: int) -> bool:
        """Apply one frame; False asks for a reconnect."""
        self.metrics.frames += 1
        try:
            msg = parse_frame(raw)
        except ParseError as exc:
            self.metrics.parse_errors += 1
            log.warning("kalshi feed: bad frame (%s): %.*s", exc, _MAX_LOGGED_FRAME, raw)
            return True
        res = self.books.apply(msg)
        if res.error:
            if isinstance(res.reply, Error):
                self.metrics.venue_errors += 1
            else:
                self.metrics.bad_input += 1
            log.warning("kalshi feed: %s: %.*s", res.error, _MAX_LOGGED_FRAME, raw)
        self._emit(res.changed, received)
        if res.subscribed is not None:
            sid, channel = res.subscribed
            tickers = self._pending.pop(getattr(msg, "id", 0), set())
            if channel == CHANNEL:
                self._sid_tickers[sid] = {t for t in tickers if t in self.markets}
                self._snapshot_asked[sid] = received  # its snapshots are due now
                self.backoff.reset()  # a subscription stood up: the connection works
        if res.gap:
            self.metrics.gaps += 1
            log.warning("kalshi feed: seq gap on sid %s; re-snapshotting", res.resync)
        for sid in dict.fromkeys(res.resync):
            await self._resnapshot(sid)
        reply = res.reply
        if isinstance(reply, Error):
            pending = self._pending.pop(reply.id, None) if reply.id is not None else None
            if pending and reply.code == 16:  # market not found: one closed market must not block the others
                bad = {t for t in pending if t in reply.msg}
                rest = sorted(pending - bad)
                if bad and rest:
                    log.warning("kalshi feed: venue does not know %s; subscribing the other %d markets", sorted(bad), len(rest))
                    await self._subscribe(rest)
            if reply.terminal:
                if reply.sid is None:
                    log.warning("kalshi feed: terminal error %d without sid; reconnecting", reply.code)
                    return False
                lost = sorted(self._sid_tickers.pop(reply.sid, set()) & set(self.markets))
                log.warning("kalshi feed: subscription %d ended (error %d); resubscribing %d markets", reply.sid, reply.code, len(lost))
                if lost:
                    self.metrics.resyncs += 1
                    await self._subscribe(lost)
        elif isinstance(reply, Unsubscribed):
            self._sid_tickers.pop(reply.sid, None)
        return True

    def _emit(self, tickers: Iterable[str], received: int) -> None:
        depth = self.settings.depth
        for t in tickers:
            book = self.books.books.get(t)
            game = self.markets.get(t)
            if book is None or game is None:
                continue
            pos = f"{book.sid or 0}:{book.seq or 0}"
            tick = build_tick(venue="KALSHI", market=t, game_id=game, book=book, depth=depth, position=pos,
                              received_ts=received, produced_ts=self.clock())
            before = self.handoff.stats.coalesced
            accepted = self.handoff.put(f"KALSHI:{t}", tick)
            self.metrics.ticks += 1
            self.metrics.coalesced += self.handoff.stats.coalesced - before
            if not accepted:
                self.metrics.dropped += 1
