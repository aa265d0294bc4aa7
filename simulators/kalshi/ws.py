"""Kalshi WebSocket (`/trade-api/ws/v2`) served by the simulator.

Per connection: commands subscribe / unsubscribe / update_subscription (add_markets, delete_markets,
get_snapshot) / list_subscriptions; one `subscribed` per channel; `orderbook_snapshot` then
`orderbook_delta` with a per-sid `seq`; NO-leg pricing by default, `use_yes_price` on request; `ticker` and
`trade` channels (sid, no seq); Ping frames with body `heartbeat`. Faults: seq skip, silence, disconnect, error
codes (10/17/25 terminal).

The seq rule is not documented beyond "per subscription" and no real capture settles it, so it is a switch
(SimSettings.kalshi_ws_seq / kalshi_ws_reply_seq): numbers continue across snapshots, or each snapshot restarts
them at 1 as NautilusTrader's handler reads it (crates/adapters/kalshi/src/websocket/handler.rs: "Snapshots
reset the sequence"; its fixtures carry snapshot seq 1, delta seq 2); ok/unsubscribed replies take the next
number, repeat the last one, or carry none. Error 16 says "Market not found" and nothing else (docs
getting_started/quick_start_websockets error table: "16 | Market not found | Invalid market_ticker or
market_id"): it never names the market.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from core.units import ONE_DOLLAR, format_price, format_size
from simulators.catalogue import KALSHI
from simulators.engine import BookSide, Trade
from simulators.kalshi.rest import ACCOUNT_KEY, levels_yes_no, market_id
from simulators.world import SimWorld
from venues.kalshi import constants as C

log = logging.getLogger(__name__)
SUPPORTED_CHANNELS = ("orderbook_delta", "ticker", "trade")


@dataclass(eq=False)
class Sub:
    sid: int
    channel: str
    conn: Conn
    markets: set[str] | None  # None: every market (ticker/trade without a filter)
    use_yes_price: bool = False
    seq: int = 0


@dataclass(eq=False)
class Conn:
    ws: web.WebSocketResponse
    account: str
    queue: asyncio.Queue[str | None] = field(default_factory=asyncio.Queue)
    subs: dict[int, Sub] = field(default_factory=dict)
    next_sid: int = 1
    replaying: bool = False
    overflowed: bool = False


class KalshiWsHub:
    def __init__(self, world: SimWorld) -> None:
        self.world = world
        self.settings = world.settings
        self.conns: set[Conn] = set()
        self.book_subs: dict[str, set[Sub]] = {}  # ticker -> orderbook_delta subs
        self.ticker_subs: set[Sub] = set()
        self.trade_subs: set[Sub] = set()
        self._tob: dict[str, tuple[Any, Any]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        world.level_listeners.append(self.on_level)
        world.trade_listeners.append(self.on_trade)
        world.faults.on_disconnect.append(self.disconnect_all)
        world.faults.on_ws_error.append(self.error_all)

    # --- sending ---------------------------------------------------------------------------------

    def _send(self, conn: Conn, msg: dict[str, Any], *, data: bool = True) -> None:
        """Queue one message; silence drops it (seq already consumed); a full queue ends the subs with error 25."""
        if data and self.world.faults[KALSHI].silence:
            return
        if conn.overflowed:
            return
        if conn.queue.qsize() >= self.settings.kalshi_ws_queue:
            conn.overflowed = True
            for sub in list(conn.subs.values()):
                conn.queue.put_nowait(json.dumps({"type": "error", "sid": sub.sid, "msg": {"code": 25, "msg": C.WS_ERRORS[25]}}))
                self._drop(sub)
            return
        text = json.dumps(msg, separators=(",", ":"))
        conn.queue.put_nowait(self.world.faults[KALSHI].garble(text) if data else text)

    def _seq(self, sub: Sub) -> int:
        sub.seq += 2 if self.world.faults[KALSHI].take_seq_skip() else 1
        return sub.seq

    def _snapshot_seq(self, sub: Sub) -> int:
        if self.settings.kalshi_ws_seq == "snapshot_reset":
            sub.seq = 1
            return 1
        return self._seq(sub)

    def _reply(self, sub: Sub, msg: dict[str, Any]) -> dict[str, Any]:
        """An ok/unsubscribed reply of `sub` with the seq the reply convention gives it (none: no field)."""
        mode = self.settings.kalshi_ws_reply_seq
        if mode == "none":
            return msg
        return {**msg, "seq": self._seq(sub) if mode == "next" else sub.seq}

    def _error(self, conn: Conn, cmd_id: Any, code: int, detail: str = "") -> None:
        msg: dict[str, Any] = {"type": "error", "msg": {"code": code, "msg": detail or C.WS_ERRORS.get(code, "error")}}
        if cmd_id is not None:
            msg = {"id": cmd_id, **msg}
        self._send(conn, msg, data=False)

    def _snapshot(self, sub: Sub, ticker: str) -> None:
        yes, no = levels_yes_no(self.world, ticker, use_yes_price=sub.use_yes_price)
        body: dict[str, Any] = {"market_ticker": ticker, "market_id": market_id(ticker)}
        if yes:
            body["yes_dollars_fp"] = yes
        if no:
            body["no_dollars_fp"] = no
        self._send(sub.conn, {"type": "orderbook_snapshot", "sid": sub.sid, "seq": self._snapshot_seq(sub), "msg": body})

    def _ticker_msg(self, sub: Sub, ticker: str) -> None:
        book = self.world.kalshi_books[ticker]
        bb, ba = book.best_bid(), book.best_ask()
        last = self.world.last_trade.get(ticker)
        vol = self.world.volume.get(ticker, 0)
        self._send(sub.conn, {"type": "ticker", "sid": sub.sid, "msg": {
            "market_ticker": ticker, "market_id": market_id(ticker),
            "price_dollars": format_price(last[0]) if last else "0.0000",
            "yes_bid_dollars": format_price(bb[0]) if bb else "0.0000", "yes_ask_dollars": format_price(ba[0]) if ba else "1.0000",
            "yes_bid_size_fp": format_size(bb[1]) if bb else "0.00", "yes_ask_size_fp": format_size(ba[1]) if ba else "0.00",
            "volume_fp": format_size(vol), "open_interest_fp": format_size(vol), "ts_ms": self.world.now_us() // 1000}})

    # --- world notifications --------------------------------------------------------------------

    def on_level(self, venue: str, book_id: str, side: BookSide, price: int, total: int, delta: int) -> None:
        if venue != KALSHI:
            return
        subs = self.book_subs.get(book_id)
        if subs:
            ts_ms = self.world.now_us() // 1000
            for sub in list(subs):
                if side is BookSide.BUY:
                    k_side, k_price = "yes", price
                else:
                    k_side, k_price = "no", (price if sub.use_yes_price else ONE_DOLLAR - price)
                self._send(sub.conn, {"type": "orderbook_delta", "sid": sub.sid, "seq": self._seq(sub), "msg": {
                    "market_ticker": book_id, "market_id": market_id(book_id), "price_dollars": format_price(k_price),
                    "delta_fp": format_size(delta), "side": k_side, "ts_ms": ts_ms}})
        if self.ticker_subs:
            book = self.world.kalshi_books[book_id]
            tob = (book.best_bid(), book.best_ask())
            if self._tob.get(book_id) != tob:
                self._tob[book_id] = tob
                for sub in list(self.ticker_subs):
                    if sub.markets is None or book_id in sub.markets:
                        self._ticker_msg(sub, book_id)

    def on_trade(self, venue: str, book_id: str, trade: Trade, trade_id: str, ts_us: int) -> None:
        if venue != KALSHI or not self.trade_subs:
            return
        taker = "yes" if trade.taker_side is BookSide.BUY else "no"
        body = {"trade_id": trade_id, "market_ticker": book_id, "yes_price_dollars": format_price(trade.price),
                "no_price_dollars": format_price(ONE_DOLLAR - trade.price), "count_fp": format_size(trade.size),
                "taker_side": taker, "taker_outcome_side": taker, "ts_ms": ts_us // 1000}
        for sub in list(self.trade_subs):
            if sub.markets is None or book_id in sub.markets:
                self._send(sub.conn, {"type": "trade", "sid": sub.sid, "msg": body})

    # --- faults ----------------------------------------------------------------------------------

    def disconnect_all(self, venue: str) -> int:
        if venue != KALSHI:
            return 0
        n = 0
        for conn in list(self.conns):
            n += 1
            self._spawn(conn.ws.close(code=WSCloseCode.GOING_AWAY, message=b"sim fault: disconnect"))
        return n

    def error_all(self, venue: str, code: int) -> int:
        if venue != KALSHI:
            return 0
        n = 0
        for conn in list(self.conns):
            for sub in list(conn.subs.values()):
                n += 1
                self._send(conn, {"type": "error", "sid": sub.sid, "msg": {"code": code, "msg": C.WS_ERRORS.get(code, "error")}}, data=False)
                if code in C.WS_TERMINAL_ERRORS:
                    self._drop(sub)
        return n

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- subscriptions ---------------------------------------------------------------------------

    def _index(self, sub: Sub, markets: set[str]) -> None:
        if sub.channel == "orderbook_delta":
            for t in markets:
                self.book_subs.setdefault(t, set()).add(sub)
        elif sub.channel == "ticker":
            self.ticker_subs.add(sub)
        elif sub.channel == "trade":
            self.trade_subs.add(sub)

    def _unindex(self, sub: Sub, markets: set[str]) -> None:
        if sub.channel == "orderbook_delta":
            for t in markets:
                s = self.book_subs.get(t)
                if s is not None:
                    s.discard(sub)
                    if not s:
                        del self.book_subs[t]

    def _drop(self, sub: Sub) -> None:
        sub.conn.subs.pop(sub.sid, None)
        self._unindex(sub, set(sub.markets or ()))
        self.ticker_subs.discard(sub)
        self.trade_subs.discard(sub)

    # --- commands --------------------------------------------------------------------------------

    def handle_text(self, conn: Conn, text: str) -> None:
        try:
            cmd = json.loads(text)
        except ValueError:
            self._error(conn, None, 1)
            return
        if not isinstance(cmd, dict):
            self._error(conn, None, 1)
            return
        cmd_id = cmd.get("id", 0)
        name = cmd.get("cmd")
        handler = {"subscribe": self.cmd_subscribe, "unsubscribe": self.cmd_unsubscribe,
                   "update_subscription": self.cmd_update, "list_subscriptions": self.cmd_list}.get(name)  # type: ignore[arg-type]
        if handler is None:
            self._error(conn, cmd_id, 5)
            return
        params = cmd.get("params")
        if name != "list_subscriptions" and not isinstance(params, dict):
            self._error(conn, cmd_id, 2)
            return
        handler(conn, cmd_id, params or {})

    def _markets_param(self, conn: Conn, cmd_id: Any, params: dict[str, Any]) -> list[str] | None:
        """market_ticker / market_tickers -> list (possibly empty); None after sending an error."""
        if "market_ticker" in params and "market_tickers" in params:
            self._error(conn, cmd_id, 11, "market_ticker cannot be combined with market_tickers")
            return None
        raw = params.get("market_tickers", [params["market_ticker"]] if "market_ticker" in params else [])
        if not isinstance(raw, list) or not all(isinstance(t, str) for t in raw):
            self._error(conn, cmd_id, 11, "market_tickers must be a list of strings")
            return None
        if any(not self._market_found(t) for t in raw):  # the whole command fails; the text names no market
            self._error(conn, cmd_id, 16)
            return None
        return list(dict.fromkeys(raw))

    def _market_found(self, ticker: str) -> bool:
        """Unlisted: never. Not active (closed): per kalshi_ws_closed_market, as no source says whether the venue
        answers 16 for a closed market or subscribes it."""
        if ticker not in self.world.kalshi_books:
            return False
        m = self.world.kalshi_markets.get(ticker)
        return self.settings.kalshi_ws_closed_market == "accepted" or m is None or m.status == "active"

    def cmd_subscribe(self, conn: Conn, cmd_id: Any, params: dict[str, Any]) -> None:
        channels = params.get("channels")
        if not channels or not isinstance(channels, list):
            self._error(conn, cmd_id, 3)
            return
        bad = [c for c in channels if c not in SUPPORTED_CHANNELS]
        if bad:
            self._error(conn, cmd_id, 8, f"Unknown channel name: {bad[0]}" + (" (not simulated)" if bad[0] in C.WS_CHANNELS else ""))
            return
        markets = self._markets_param(conn, cmd_id, params)
        if markets is None:
            return
        if "orderbook_delta" in channels and not markets:
            self._error(conn, cmd_id, 14)
            return
        for ch in channels:
            for sub in conn.subs.values():
                if sub.channel == ch and (sub.markets is None or not markets or sub.markets & set(markets)):
                    self._error(conn, cmd_id, 6, f"Already subscribed to {ch}")
                    return
        if conn.replaying or self.settings.kalshi_replay is not None:
            self._subscribe_replay(conn, cmd_id, channels)
            return
        use_yes = bool(params.get("use_yes_price", False))
        for ch in channels:
            sub = Sub(conn.next_sid, ch, conn, set(markets) if markets else None, use_yes)
            conn.next_sid += 1
            conn.subs[sub.sid] = sub
            self._send(conn, {"id": cmd_id, "type": "subscribed", "msg": {"channel": ch, "sid": sub.sid}}, data=False)
            self._index(sub, set(markets))
            if ch == "orderbook_delta" and params.get("send_initial_snapshot", True) is not False:
                for t in markets:
                    self._snapshot(sub, t)
            elif ch == "ticker" and params.get("send_initial_snapshot"):
                for t in markets:
                    self._ticker_msg(sub, t)

    def cmd_unsubscribe(self, conn: Conn, cmd_id: Any, params: dict[str, Any]) -> None:
        sids = params.get("sids")
        if not sids or not isinstance(sids, list):
            self._error(conn, cmd_id, 4)
            return
        unknown = [s for s in sids if s not in conn.subs]
        if unknown:
            self._error(conn, cmd_id, 7, f"Unknown subscription ID: {unknown[0]}")
            return
        for sid in sids:
            sub = conn.subs[sid]
            self._drop(sub)
            self._send(conn, self._reply(sub, {"id": cmd_id, "sid": sid, "type": "unsubscribed"}), data=False)

    def cmd_update(self, conn: Conn, cmd_id: Any, params: dict[str, Any]) -> None:
        sids = params.get("sids")
        if sids is None and "sid" in params:
            sids = [params["sid"]]
        if not sids or not isinstance(sids, list):
            self._error(conn, cmd_id, 4)
            return
        if len(sids) != 1:
            self._error(conn, cmd_id, 12)
            return
        sub = conn.subs.get(sids[0])
        if sub is None:
            self._error(conn, cmd_id, 7)
            return
        action = params.get("action")
        if not action:
            self._error(conn, cmd_id, 15)
            return
        if action not in ("add_markets", "delete_markets", "get_snapshot"):
            self._error(conn, cmd_id, 13)
            return
        markets = self._markets_param(conn, cmd_id, params)
        if markets is None:
            return
        if not markets:
            self._error(conn, cmd_id, 14)
            return
        current = sub.markets if sub.markets is not None else set()
        if action == "get_snapshot":
            if sub.channel != "orderbook_delta":
                self._error(conn, cmd_id, 13, "get_snapshot applies to orderbook_delta")
                return
            if any(t not in current for t in markets):
                self._error(conn, cmd_id, 11, "get_snapshot needs markets of this subscription")
                return
            self._send(conn, self._reply(sub, {"id": cmd_id, "sid": sub.sid, "type": "ok",
                                               "msg": {"market_tickers": sorted(current)}}), data=False)
            for t in markets:
                self._snapshot(sub, t)
            return
        if action == "add_markets":
            added = [t for t in markets if t not in current]
            sub.markets = current | set(added)
            self._index(sub, set(added))
        else:
            removed = {t for t in markets if t in current}
            sub.markets = current - removed
            self._unindex(sub, removed)
            added = []
        self._send(conn, self._reply(sub, {"id": cmd_id, "sid": sub.sid, "type": "ok",
                                           "msg": {"market_tickers": sorted(sub.markets)}}), data=False)
        if sub.channel == "orderbook_delta":
            for t in added:
                self._snapshot(sub, t)

    def cmd_list(self, conn: Conn, cmd_id: Any, params: dict[str, Any]) -> None:
        self._send(conn, {"id": cmd_id, "type": "ok", "msg": [{"channel": s.channel, "sid": s.sid} for s in conn.subs.values()]}, data=False)

    # --- recorded-frame mode ---------------------------------------------------------------------

    def _subscribe_replay(self, conn: Conn, cmd_id: Any, channels: list[str]) -> None:
        for ch in channels:
            sid = conn.next_sid
            conn.next_sid += 1
            conn.subs[sid] = Sub(sid, ch, conn, None)
            self._send(conn, {"id": cmd_id, "type": "subscribed", "msg": {"channel": ch, "sid": sid}}, data=False)
        if not conn.replaying:
            conn.replaying = True
            self._spawn(self._replay(conn))

    async def _replay(self, conn: Conn) -> None:
        """Stream the recorded file's data frames byte for byte (acks and errors in it are skipped)."""
        path = self.settings.kalshi_replay
        if path is None:
            return
        lines = await asyncio.to_thread(Path(path).read_text)
        delay = 1.0 / self.settings.replay_rate if self.settings.replay_rate > 0 else 0.0
        for line in lines.splitlines():
            line = line.strip()
            if not line:
                continue
            try:
                kind = json.loads(line).get("type")
            except (ValueError, AttributeError):
                continue
            if kind in ("subscribed", "ok", "unsubscribed", "error"):
                continue
            if conn.ws.closed:
                return
            conn.queue.put_nowait(line)
            await asyncio.sleep(delay)

    # --- connection ------------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        account = request.get(ACCOUNT_KEY)
        if not account:
            raise web.HTTPUnauthorized(text=json.dumps({"code": "authentication_error", "message": "authentication required"}),
                                       content_type="application/json")
        ws = web.WebSocketResponse(autoping=True, max_msg_size=1 << 20)
        await ws.prepare(request)
        conn = Conn(ws, str(account))
        self.conns.add(conn)
        writer = asyncio.create_task(self._writer(conn))
        pinger = asyncio.create_task(self._pinger(conn))
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    try:
                        self.handle_text(conn, msg.data)
                    except Exception:  # a simulator bug must look like the venue's internal error, not a dropped socket
                        log.exception("kalshi sim: command failed")
                        self._error(conn, None, 17)
                elif msg.type == WSMsgType.BINARY:
                    self._error(conn, None, 1)
                elif msg.type == WSMsgType.ERROR:
                    break
        finally:
            self.conns.discard(conn)
            for sub in list(conn.subs.values()):
                self._drop(sub)
            conn.queue.put_nowait(None)
            pinger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pinger
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
        return ws

    async def _writer(self, conn: Conn) -> None:
        ws = conn.ws
        try:
            while True:
                text = await conn.queue.get()
                if text is None or ws.closed:
                    return
                await ws.send_str(text)
                if conn.queue.empty():
                    conn.overflowed = False
        except (ConnectionResetError, RuntimeError):
            return

    async def _pinger(self, conn: Conn) -> None:
        interval = self.settings.kalshi_ping_interval_s
        if interval <= 0:
            return
        with contextlib.suppress(ConnectionResetError, RuntimeError):
            while not conn.ws.closed:
                await asyncio.sleep(interval)
                await conn.ws.ping(C.WS_PING_BODY)

    async def close(self) -> None:
        for conn in list(self.conns):
            await conn.ws.close(code=WSCloseCode.GOING_AWAY, message=b"simulator stopping")
        for t in list(self._tasks):
            t.cancel()
