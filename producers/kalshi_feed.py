"""Kalshi order-book feed: signed WS connection, one `orderbook_delta` subscription (use_yes_price: true),
exact books with the per-sid seq check, resync on gaps / terminal errors, liveness from the protocol
keep-alive (producers/liveness.py), quiet books checked against the REST book (producers/book_check.py),
live market add/remove; the reconnect loop, book check and Ticks are producers/ws_feed.py's. Emits a Tick per
book change into a Handoff; no Kafka here.

Error 16 ("Market not found") names no market (docs getting_started/quick_start_websockets: "16 | Market not
found | Invalid market_ticker or market_id"; independent clients' tests use {"code": 16, "msg": "Market not
found"}), and it fails the whole command. The feed finds the markets it means by halving the command until
single markets fail; those are left out (their books stay RESYNCING, counted in `metrics.not_found`) and tried
again alone on the next connection, so the good markets always stream and a closed market costs one command
per reconnect, not a bisection. Not a REST status lookup: which statuses the WS refuses is not documented, and
the halving asks the WS itself, with no REST budget or REST outage in the way.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from websockets.asyncio.client import connect

from core.units import now_us
from producers.book_check import BookFetcher, Sides
from producers.feed_metrics import FeedMetrics
from producers.handoff import Handoff
from producers.liveness import keepalive_options
from producers.settings import FeedSettings
from producers.tick import Venue
from producers.ws_feed import WsFeed
from venues.kalshi.auth import auth_headers
from venues.kalshi.book import KalshiBook, KalshiBooks
from venues.kalshi.messages import Error, Ok, Unsubscribed
from venues.kalshi.parse import ParseError, parse_frame

if TYPE_CHECKING:
    from venues.kalshi.rest import KalshiRest

log = logging.getLogger(__name__)
WS_SIGN_PATH = "/trade-api/ws/v2"
CHANNEL = "orderbook_delta"
_MAX_LOGGED_FRAME = 500
NOT_FOUND = 16  # "Market not found"


@dataclass(frozen=True)
class _Command:
    """A command awaiting its reply, and what it was for (to act on an error 16)."""

    action: Literal["subscribe", "add_markets", "get_snapshot"]
    tickers: tuple[str, ...]
    sid: int | None = None


def rest_books(rest: KalshiRest) -> BookFetcher:
    """The book check's source: `GET /markets/{t}/orderbook` (YES bids and NO-leg NO bids), converted to the
    YES scale exactly as the WS book is (KalshiBook.apply_snapshot)."""

    async def fetch(ticker: str) -> Sides:
        book = KalshiBook(ticker)
        book.apply_snapshot(await rest.get_orderbook(ticker), yes_price=False)
        return book.bids, book.asks

    return fetch


class KalshiFeed(WsFeed[KalshiBook]):
    venue: ClassVar[Venue] = "KALSHI"
    log = log
    books: KalshiBooks

    def __init__(self, *, url: str, key_id: str, private_key: Any, markets: Mapping[str, str], handoff: Handoff[dict[str, Any]],
                 settings: FeedSettings | None = None, metrics: FeedMetrics | None = None, rng: random.Random | None = None,
                 clock: Callable[[], int] = now_us, book_fetcher: BookFetcher | None = None) -> None:
        """`markets`: ticker -> game_id (the Tick key). `book_fetcher`: the venue's REST books for the book check
        (rest_books(KalshiRest)); None: no check."""
        self.url, self.key_id, self._key = url, key_id, private_key
        self._next_id = 1
        self._pending: dict[int, _Command] = {}  # cmd id -> subscribe / add_markets / get_snapshot awaiting its reply
        self._not_found: set[str] = set()  # markets the venue answered error 16 for alone: subscribed alone from now on
        self._sid_tickers: dict[int, set[str]] = {}  # live orderbook subscriptions
        self._snapshot_asked: dict[int, int] = {}  # sid -> when (clock, µs) its snapshots were last asked for
        self._check_resnapshot: dict[str, int] = {}  # ticker the book check found stale -> when (µs) its snapshot was asked
        super().__init__(books=KalshiBooks(yes_price=True), markets=markets, handoff=handoff, settings=settings, metrics=metrics,
                         rng=rng, clock=clock, book_fetcher=book_fetcher)

    # --- public ------------------------------------------------------------------------------------

    async def add_markets(self, markets: Mapping[str, str]) -> None:
        new = self._track(markets)
        if new and self._ws is not None:
            sid = next(iter(self._sid_tickers), None)
            if sid is None:
                await self._subscribe(new)
            else:
                self._sid_tickers[sid].update(new)
                self._snapshot_asked[sid] = self.clock()  # the new markets' snapshots are due
                self._pending[self._next_id] = _Command("add_markets", tuple(new), sid)
                await self._send({"cmd": "update_subscription", "params": {"sids": [sid], "market_tickers": new, "action": "add_markets"}})

    async def remove_markets(self, tickers: Iterable[str]) -> None:
        gone = set(self._untrack(tickers))
        self._not_found -= gone
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
        """One connection. Liveness is the protocol keep-alive (producers/liveness.py): a Ping without a Pong
        within keepalive_timeout_s ends it. A quiet market sends nothing, so waiting for data is no fault; the
        book check (producers/book_check.py) catches a socket that answers pings but delivers no changes."""
        headers = auth_headers(self.key_id, self._key, "GET", WS_SIGN_PATH)
        async with connect(self.url, additional_headers=headers, open_timeout=self.settings.connect_timeout_s,
                           max_size=2**24, **keepalive_options(self.settings)) as ws:
            self._ws = ws
            self.connected.set()
            self._snapshot_asked.clear()
            self._check_resnapshot.clear()
            async with self._watched(ws):
                if self.markets:
                    await self._subscribe(sorted(self.markets))
                while not self._stopping:
                    try:
                        raw: str | bytes | None = await asyncio.wait_for(ws.recv(), timeout=self._wake_in(self.clock()))
                    except TimeoutError:
                        raw = None  # a snapshot deadline (_ask_again), not a fault
                    now = self.clock()
                    if raw is not None and not await self._on_frame(raw, now):
                        return
                    if not await self._ask_again(now):
                        return

    def _connection_ended(self) -> None:
        self._pending.clear()
        self._sid_tickers.clear()

    async def _on_stale(self, ticker: str) -> None:
        """The book check found this book wrong: RESYNCING until a snapshot replaces it (a STALE book would turn OK
        again with the next delta), and re-snapshot its subscription (get_snapshot)."""
        book = self.books.books.get(ticker)
        if book is None or not book.synced or self._ws is None:
            return
        now = self.clock()
        self._emit(self.books.invalidate([ticker]), now)
        sid = next((s for s, ts in self._sid_tickers.items() if ticker in ts), None)
        if sid is None:
            return  # no live subscription: the one being made snapshots it
        self._check_resnapshot[ticker] = now
        await self._resnapshot(sid)

    def _wake_in(self, now: int) -> float | None:
        """Seconds until the next snapshot deadline of _ask_again (None: none pending)."""
        pending = [*self._snapshot_asked.values(), *self._check_resnapshot.values()]
        if not pending:
            return None
        return max(0.0, (min(pending) + int(self.settings.snapshot_timeout_s * 1_000_000) - now) / 1_000_000)

    async def _send(self, cmd: dict[str, Any]) -> int:
        cmd_id = self._next_id
        self._next_id += 1
        if self._ws is not None:
            await self._ws.send(json.dumps({"id": cmd_id, **cmd}))
        return cmd_id

    async def _subscribe(self, tickers: list[str]) -> None:
        """Subscribe `tickers`: one command, except that each market the venue did not find before goes alone
        (its error 16 then fails nobody else and costs no bisection)."""
        known_bad = [t for t in tickers if t in self._not_found]
        rest = [t for t in tickers if t not in self._not_found]
        for group in ([rest] if rest else []) + [[t] for t in known_bad]:
            await self._send_subscribe(group)

    async def _send_subscribe(self, tickers: list[str]) -> None:
        self._pending[self._next_id] = _Command("subscribe", tuple(tickers))
        await self._send({"cmd": "subscribe", "params": {"channels": [CHANNEL], "market_tickers": tickers, "use_yes_price": True}})

    async def _market_not_found(self, cmd: _Command) -> None:
        """Error 16 answered `cmd`: the whole command failed and the text does not say for which market. Halve it
        until single markets fail; a single market failing is left out."""
        wanted = [t for t in cmd.tickers if t in self.markets]
        if cmd.action == "get_snapshot" and cmd.sid is not None:
            # A market of a live subscription is gone (closed): replace the subscription, halving the new one.
            sid_tickers = self._sid_tickers.pop(cmd.sid, set())
            wanted = sorted(sid_tickers & set(self.markets))
            self._emit(self.books.invalidate(wanted), self.clock())
            await self._send({"cmd": "unsubscribe", "params": {"sids": [cmd.sid]}})
            await self._subscribe(wanted)
        elif cmd.action == "add_markets":
            if cmd.sid in self._sid_tickers:
                self._sid_tickers[cmd.sid].difference_update(wanted)
            await self._subscribe(wanted)  # as a subscription of their own, halved if it fails again
        elif len(wanted) == 1:
            t = wanted[0]
            self.metrics.not_found += 1
            if t in self._not_found:
                log.info("kalshi feed: venue still does not find %s", t)
            else:
                self._not_found.add(t)
                log.warning("kalshi feed: venue does not find market %s (closed?): left out, its book stays RESYNCING; "
                            "tried again alone on the next connection", t)
        elif wanted:
            half = len(wanted) // 2
            await self._send_subscribe(wanted[:half])
            await self._send_subscribe(wanted[half:])

    async def _ask_again(self, now: int) -> bool:
        """Ask again for the snapshots of a subscription whose books have waited for one longer than
        snapshot_timeout_s. A venue can lose the answer (measured with the simulator's silence fault: a
        get_snapshot answered while the socket was silent never came, so those books stayed RESYNCING for good).
        False (reconnect): a book the book check found wrong got no snapshot in that time either, so the REST
        book changed and this socket delivered neither the change nor the snapshot asked for it."""
        bound = int(self.settings.snapshot_timeout_s * 1_000_000)
        for t, asked in list(self._check_resnapshot.items()):
            b = self.books.books.get(t)
            if b is None or b.synced:
                del self._check_resnapshot[t]
            elif now - asked >= bound:
                self.metrics.resyncs += 1
                log.warning("kalshi feed: no snapshot of %s %.1fs after the book check found it stale; reconnecting",
                            t, self.settings.snapshot_timeout_s)
                return False
        for sid, asked in list(self._snapshot_asked.items()):
            if now - asked < bound:
                continue
            tickers = self._sid_tickers.get(sid, set())
            if any(not b.synced for t in tickers if (b := self.books.books.get(t)) is not None):
                log.warning("kalshi feed: no snapshot on sid %s for %.1fs; asking again", sid, self.settings.snapshot_timeout_s)
                await self._resnapshot(sid)
                return True  # one request per wake at most
            del self._snapshot_asked[sid]  # every book synced, or the subscription is gone
        return True

    async def _resnapshot(self, sid: int) -> None:
        tickers = sorted(self._sid_tickers.get(sid, ()))
        if tickers:
            self.metrics.resyncs += 1
            self._snapshot_asked[sid] = self.clock()
            self.books.expect(tickers)
            self._pending[self._next_id] = _Command("get_snapshot", tuple(tickers), sid)
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
        reply = res.reply
        if res.error:
            if isinstance(reply, Error):
                self.metrics.venue_errors += 1
            else:
                self.metrics.bad_input += 1
            halving = isinstance(reply, Error) and reply.code == NOT_FOUND and reply.id in self._pending  # logs its outcome
            log.log(logging.DEBUG if halving else logging.WARNING, "kalshi feed: %s: %.*s", res.error, _MAX_LOGGED_FRAME, raw)
        self._emit(res.changed, received)
        if res.subscribed is not None:
            sid, channel = res.subscribed
            cmd = self._pending.pop(getattr(msg, "id", 0), None)
            tickers = set(cmd.tickers) if cmd is not None else set()
            self._not_found -= tickers  # tried alone again, and found
            if channel == CHANNEL:
                self._sid_tickers[sid] = {t for t in tickers if t in self.markets}
                self._snapshot_asked[sid] = received  # its snapshots are due now
                self.backoff.reset()  # a subscription stood up: the connection works
        if res.gap:
            self.metrics.gaps += 1
            log.warning("kalshi feed: seq gap on sid %s; re-snapshotting", res.resync)
        for sid in dict.fromkeys(res.resync):
            await self._resnapshot(sid)
        if isinstance(reply, Error):
            cmd = self._pending.pop(reply.id, None) if reply.id is not None else None
            if cmd is not None and reply.code == NOT_FOUND:  # one closed market must not block the others
                await self._market_not_found(cmd)
            if reply.terminal:
                if reply.sid is None:
                    log.warning("kalshi feed: terminal error %d without sid; reconnecting", reply.code)
                    return False
                lost = sorted(self._sid_tickers.pop(reply.sid, set()) & set(self.markets))
                log.warning("kalshi feed: subscription %d ended (error %d); resubscribing %d markets", reply.sid, reply.code, len(lost))
                if lost:
                    self.metrics.resyncs += 1
                    await self._subscribe(lost)
        elif isinstance(reply, Ok):
            self._pending.pop(reply.id, None)
        elif isinstance(reply, Unsubscribed):
            self._sid_tickers.pop(reply.sid, None)
        return True

    def _position(self, book: KalshiBook) -> str:
        return f"{book.sid or 0}:{book.seq or 0}"
