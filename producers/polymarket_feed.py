"""Polymarket market-channel feed: subscribe with `initial_dump`, text PING every 10 s, exact books
(`book` replaces, `price_changes[]` set absolute levels, `tick_size_change`), CROSSED status while a
rebuilt book is crossed, liveness from the keep-alive (PONG answers, protocol pings: producers/liveness.py),
quiet books checked against the REST book (producers/book_check.py), live asset add/remove; the reconnect loop,
book check and Ticks are producers/ws_feed.py's. Emits a Tick per changed token per event into a Handoff; no Kafka
here.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from websockets.asyncio.client import ClientConnection, connect

from core import metrics
from core.supervise import spawn
from core.units import now_us
from producers.book_check import BookFetcher, Sides
from producers.feed_metrics import FeedMetrics
from producers.handoff import Handoff
from producers.liveness import keepalive_options
from producers.settings import FeedSettings
from producers.tick import Venue
from producers.ws_feed import WsFeed
from venues.polymarket.book import PolyBook, PolyBooks
from venues.polymarket.parse import parse_frame

if TYPE_CHECKING:
    from venues.polymarket.rest import PolymarketBookApi

log = logging.getLogger(__name__)
_MAX_LOGGED_FRAME = 500


def rest_books(api: PolymarketBookApi) -> BookFetcher:
    """The book check's source: `GET /book?token_id=`, read into a book exactly as a WS `book` event is."""

    async def fetch(asset_id: str) -> Sides:
        book = PolyBook(asset_id)
        book.replace(await api.get_book(asset_id))
        return book.bids, book.asks

    return fetch


def _is_pong(raw: str | bytes) -> bool:
    return (raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw).strip() == "PONG"


@dataclass(eq=False)
class _Resync:
    """One re-snapshot request (see PolymarketFeed._resync): the connection it was sent on."""

    ws: ClientConnection


class PolymarketFeed(WsFeed[PolyBook]):
    venue: ClassVar[Venue] = "POLYMARKET"
    log = log
    books: PolyBooks

    def __init__(self, *, url: str, markets: Mapping[str, str], handoff: Handoff[dict[str, Any]],
                 settings: FeedSettings | None = None, metrics: FeedMetrics | None = None, rng: random.Random | None = None,
                 clock: Callable[[], int] = now_us, book_fetcher: BookFetcher | None = None) -> None:
        """`markets`: token id (asset_id) -> game_id (the Tick key). `book_fetcher`: the venue's REST books for the
        book check (rest_books(PolymarketBookApi)); None: no check."""
        self.url = url
        self.disagreements = 0  # entries whose best_bid/best_ask differ from our book (expected while crossed)
        self._unreadable = False  # set by a frame that is not JSON: reconnect for a fresh dump
        self._resyncing: dict[str, _Resync] = {}  # asset -> its pending re-snapshot (see _resync)
        self._tasks: set[asyncio.Task[Any]] = set()  # re-snapshot requests in flight (_keep)
        super().__init__(books=PolyBooks(), markets=markets, handoff=handoff, settings=settings, metrics=metrics,
                         rng=rng, clock=clock, book_fetcher=book_fetcher)

    # --- public ------------------------------------------------------------------------------------

    async def add_markets(self, markets: Mapping[str, str]) -> None:
        new = self._track(markets)
        if new and self._ws is not None:
            await self._ws.send(json.dumps({"operation": "subscribe", "assets_ids": new, "initial_dump": True}))

    async def remove_markets(self, asset_ids: Iterable[str]) -> None:
        gone = self._untrack(asset_ids)
        if gone and self._ws is not None:
            await self._ws.send(json.dumps({"operation": "unsubscribe", "assets_ids": gone}))

    # --- connection --------------------------------------------------------------------------------

    async def _session(self) -> None:
        """One connection. Liveness (producers/liveness.py): the venue's PONG answer to our text PING must come
        within keepalive_timeout_s, and the library's protocol Ping its Pong. A quiet market sends nothing, so
        waiting for data is no fault; the book check catches a socket that answers pings but delivers nothing."""
        s = self.settings
        async with connect(self.url, open_timeout=s.connect_timeout_s, max_size=2**24, **keepalive_options(s)) as ws:
            self._ws = ws
            self.connected.set()
            # Send the subscription at once: the server may close a connection that stays unsubscribed.
            await ws.send(json.dumps({"type": "market", "assets_ids": sorted(self.markets), "initial_dump": True,
                                      "level": 2, "custom_feature_enabled": False}))
            pinger = asyncio.create_task(self._pinger(ws), name="polymarket-pinger")
            pinger.add_done_callback(lambda task: self._pinger_ended(task, ws))
            async with self._watched(ws):
                try:
                    await self._read(ws)
                finally:
                    pinger.cancel()
                    await asyncio.gather(pinger, return_exceptions=True)  # its own end was logged (_pinger_ended)

    async def _read(self, ws: ClientConnection) -> None:
        """Read frames until the connection fails or is given up: no PONG for keepalive_timeout_s, an unreadable
        frame, or books still without their initial dump snapshot_timeout_s after subscribing."""
        s = self.settings
        loop = asyncio.get_running_loop()
        last_pong = subscribed_at = loop.time()
        dump_checked = False
        while not self._stopping:
            deadline = last_pong + s.keepalive_timeout_s
            if not dump_checked:
                deadline = min(deadline, subscribed_at + s.snapshot_timeout_s)
            try:
                raw: str | bytes | None = await asyncio.wait_for(ws.recv(), timeout=max(deadline - loop.time(), 0.0))
            except TimeoutError:
                raw = None
            if raw is not None:
                if _is_pong(raw):
                    last_pong = loop.time()
                self._on_frame(raw, self.clock())
            if self._unreadable:
                self._unreadable = False
                self.metrics.resyncs += 1
                log.warning("polymarket feed: unreadable frame; reconnecting for a fresh book of every market")
                return
            if loop.time() - last_pong > s.keepalive_timeout_s:
                self.metrics.silences += 1
                log.warning("polymarket feed: no PONG for %.1fs: the connection is dead; reconnecting", s.keepalive_timeout_s)
                return
            if not dump_checked and loop.time() - subscribed_at > s.snapshot_timeout_s:
                # The initial dump can be lost (measured with the simulator's silence fault: a
                # reconnect while the venue was silent); price changes never sync a book, so the
                # books it missed would stay RESYNCING while the others stream: resubscribe.
                dump_checked = True
                missing = [a for a in self.markets if (b := self.books.books.get(a)) is not None and not b.synced]
                if missing:
                    log.warning("polymarket feed: no book for %d markets %.1fs after subscribing; reconnecting",
                                len(missing), s.snapshot_timeout_s)
                    return

    async def _on_stale(self, asset_id: str) -> None:
        """The book check found this book wrong: RESYNCING (a STALE book would turn OK again with the next change)
        and re-snapshotted like a book a bad entry touched (_resync; a reconnect if no fresh book comes)."""
        book = self.books.books.get(asset_id)
        if book is None or not book.synced:
            return
        book.synced = False
        self._emit([asset_id], self.clock())
        self._resync([asset_id])

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
        """Apply one frame; True if it carried data (anything but a control text).

        No seq on this channel: what could not be parsed may have changed a book, and nothing later would tell,
        so a failure never passes silently. A bad entry or event whose token id is readable makes that book
        RESYNCING at once (the Tick is emitted with the frame) and re-snapshots it (_resync); the frame's other
        entries still apply. One whose token id cannot be read (or a frame that is not JSON) may have touched
        any book: reconnect for a fresh dump of every market."""
        self.metrics.frames += 1
        parsed = parse_frame(raw)
        if parsed.control:
            return False
        if not parsed.readable:
            self._unreadable = True
        invalidated: list[str] = []
        for ev in parsed.events:
            res = self.books.apply(ev)
            if res.error:
                self.metrics.bad_input += 1
                log.warning("polymarket feed: %s: %.*s", res.error, _MAX_LOGGED_FRAME, raw)
            if res.disagreements:
                self.disagreements += len(res.disagreements)
                log.debug("polymarket feed: venue best bid/ask differs from rebuilt book: %s", res.disagreements)
                for d in res.disagreements:
                    if not d.crossed:  # expected while crossed; otherwise a lost change: check it at once
                        self.checks.urgent(d.asset_id)
            invalidated += [a for a in res.invalidated if a not in invalidated]
            self._emit(res.changed, received)
        if parsed.errors:
            self.metrics.parse_errors += len(parsed.errors)
            action = ("reconnecting for a fresh book of every market" if self._unreadable else
                      f"re-snapshotting {len(invalidated)} book(s)" if invalidated else "no book affected")
            log.warning("polymarket feed: %d parse error(s), %s: %.*s; frame: %.*s", len(parsed.errors), action,
                        _MAX_LOGGED_FRAME, "; ".join(parsed.errors[:5]), _MAX_LOGGED_FRAME, raw)
        if invalidated and not self._unreadable:
            self._resync(invalidated)
        for a in [a for a, r in self._resyncing.items() if r.ws is not self._ws or self.books.books.get(a) is None
                  or self.books.books[a].synced]:
            del self._resyncing[a]  # its fresh book came (or its connection or market is gone)
        if any(b.synced for b in self.books.books.values()):
            self.backoff.reset()  # data is flowing: the connection works
        return True

    def _resync(self, assets: list[str]) -> None:
        """Re-snapshot these books on the open connection: unsubscribe, then subscribe with `initial_dump`.

        The venue documents `{"operation": "subscribe"|"unsubscribe", "assets_ids": [...]}` for changing the set
        on a live connection (docs.polymarket.com developers/CLOB/websocket/wss-overview) and rejects a subscribe
        of an asset it already streams as a duplicate (Polymarket/py-sdk streams/clob/market_protocol.py), hence
        the unsubscribe first. Whether a live subscribe sends a `book` is not documented (add_markets relies on
        it too): if none comes within snapshot_timeout_s, the connection is closed and the reconnect's dump
        rebuilds every book."""
        ws = self._ws
        if ws is None:  # between connections: the next subscription's dump rebuilds every book
            return
        todo = [a for a in assets if a in self.markets and ((r := self._resyncing.get(a)) is None or r.ws is not ws)]
        if not todo:
            return
        req = _Resync(ws)
        for a in todo:
            self._resyncing[a] = req
        self.metrics.resyncs += 1
        self._keep(spawn(self._resubscribe(ws, todo), "polymarket-resubscribe"))
        asyncio.get_running_loop().call_later(self.settings.snapshot_timeout_s, self._resync_deadline, req, todo)

    async def _resubscribe(self, ws: ClientConnection, assets: list[str]) -> None:
        try:
            await ws.send(json.dumps({"operation": "unsubscribe", "assets_ids": assets}))
            keep = [a for a in assets if a in self.markets]  # remove_markets may have run meanwhile
            if keep:
                await ws.send(json.dumps({"operation": "subscribe", "assets_ids": keep, "initial_dump": True}))
        except Exception as exc:  # the connection is going: its successor's dump rebuilds every book
            log.info("polymarket feed: re-snapshot request not sent (%s)", type(exc).__name__)

    def _resync_deadline(self, req: _Resync, assets: list[str]) -> None:
        mine = [a for a in assets if self._resyncing.get(a) is req]
        for a in mine:
            del self._resyncing[a]
        missing = [a for a in mine if (b := self.books.books.get(a)) is not None and not b.synced]
        if missing and self._ws is req.ws:
            log.warning("polymarket feed: no fresh book for %d re-subscribed market(s) after %.1fs; reconnecting",
                        len(missing), self.settings.snapshot_timeout_s)
            self._keep(spawn(req.ws.close(), "polymarket-close"))

    def _keep(self, task: asyncio.Task[Any]) -> None:
        """Hold a reference until the task ends (the loop keeps only a weak one)."""
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _position(self, book: PolyBook) -> str:
        return book.position or "0/0"
