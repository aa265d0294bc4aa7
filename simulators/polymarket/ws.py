"""Simulated Polymarket market channel (/ws/market), P2 of venue-protocols.md.

First client message {"type":"market","assets_ids":[...],"initial_dump":true}; later
{"operation":"subscribe"|"unsubscribe","assets_ids":[...]}. The initial dump is ONE JSON array of `book`
events. Every book change sends a `price_change` whose `price_changes[]` carry absolute level sizes for
both tokens of the market (those the connection subscribed), with best_bid/best_ask after the change.
Trades send `last_trade_price`. Text `PING` gets `PONG`; a client that sends nothing for
`poly_ws_idle_s` is disconnected, as the venue drops clients that stop pinging. There is no seq.

Switches on the hub (`hub_of(world)`), for behaviour the engine does not produce or the venue does not document:
- `fractional_sizes`: level sizes carry up to 6 decimals, the venue's precision (a real fill left 1.464786 shares,
  NautilusTrader crates/adapters/polymarket/test_data/data_api_trades_captured_response.json): each level's
  size gets a stable sub-cent part, the same in `book` and `price_change` (`exact_levels` is that wire book).
- `dump_on_subscribe`: whether a live `{"operation": "subscribe", "initial_dump": true}` sends `book`s (the docs
  list no `initial_dump` for it; the project's feed relies on it): True (default) or False (it sends none).
- `bad_entries` / `bad_entry`: the next N `price_change` frames carry one malformed entry (the first), the others
  intact: "size" (a 7th decimal) or "asset" (an `asset_id` that is not a string).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from core.units import ONE_DOLLAR, SIZE_DP, format_fixed
from simulators import lifecycle
from simulators.catalogue import POLYMARKET, SimGame
from simulators.engine import BookSide, Trade
from simulators.lifecycle import GameLife
from simulators.polymarket.gamma import market_id
from simulators.polymarket.wire import TokenRef, book_event, price_text, size_text, token_levels, token_price, token_ref
from simulators.world import SimWorld
from venues.polymarket.messages import SIZE_DP as WIRE_SIZE_DP

log = logging.getLogger(__name__)


@dataclass(eq=False)
class Conn:
    ws: web.WebSocketResponse
    assets: set[str] = field(default_factory=set)
    queue: asyncio.Queue[str | None] = field(default_factory=asyncio.Queue)
    started: bool = False
    custom: bool = False  # custom_feature_enabled: best_bid_ask, new_market and market_resolved events (P2)


class PolyWsHub:
    def __init__(self, world: SimWorld) -> None:
        self.world = world
        self.conns: set[Conn] = set()
        self.by_asset: dict[str, set[Conn]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self.fractional_sizes = False
        self.dump_on_subscribe = True
        self.bad_entries = 0
        self.bad_entry = "size"  # or "asset"
        world.level_listeners.append(self.on_level)
        world.trade_listeners.append(self.on_trade)
        world.faults.on_disconnect.append(self.disconnect_all)
        world.life.listeners.append(self.on_life)

    def _ts(self) -> int:
        return self.world.now_us() // 1000

    def _send(self, conn: Conn, payload: Any, *, data: bool = True) -> None:
        if data and self.world.faults[POLYMARKET].silence:
            return
        text = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
        conn.queue.put_nowait(self.world.faults[POLYMARKET].garble(text) if data else text)

    # --- wire sizes ------------------------------------------------------------------------------------

    def wire_size(self, book_id: str, engine_price: int, total: int) -> int:
        """The size the venue shows for an engine level (1e-2 shares), in 1e-6 shares: the engine's, plus a stable
        sub-cent part (0 .. 0.009999) when `fractional_sizes` is on. Both tokens of the level show the same."""
        scale = 10 ** (WIRE_SIZE_DP - SIZE_DP)
        if not self.fractional_sizes or total == 0:
            return total * scale
        digest = hashlib.sha1(f"{book_id}:{engine_price}:{total}".encode(), usedforsecurity=False).digest()
        return total * scale + int.from_bytes(digest[:4], "big") % scale

    def _size_text(self, book_id: str, engine_price: int, total: int) -> str:
        if not self.fractional_sizes:
            return size_text(total)
        whole, _, frac = format_fixed(self.wire_size(book_id, engine_price, total), WIRE_SIZE_DP).partition(".")
        return f"{whole}.{frac.rstrip('0')}" if frac.rstrip("0") else whole  # as the venue writes it: "1.464786"

    def exact_levels(self, token_id: str) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """The token's book as this hub sends it, best first: (price 1e-4, size 1e-6 shares)."""
        ref = token_ref(self.world, token_id)
        if ref is None:
            return [], []
        bids, asks = token_levels(self.world, ref)
        cond = ref.condition_id
        return ([(p, self.wire_size(cond, token_price(ref, p), s)) for p, s in bids],
                [(p, self.wire_size(cond, token_price(ref, p), s)) for p, s in asks])

    def _book(self, ref: TokenRef) -> dict[str, object]:
        ev = book_event(self.world, ref, self._ts())
        if self.fractional_sizes:
            tick, cond = ref.market.tick, ref.condition_id
            bids, asks = token_levels(self.world, ref)
            ev["bids"] = [{"price": price_text(p, tick), "size": self._size_text(cond, token_price(ref, p), s)} for p, s in reversed(bids)]
            ev["asks"] = [{"price": price_text(p, tick), "size": self._size_text(cond, token_price(ref, p), s)} for p, s in reversed(asks)]
            ev["hash"] = ""
            ev["hash"] = hashlib.sha1(json.dumps(ev, sort_keys=True).encode(), usedforsecurity=False).hexdigest()
        return ev

    def _malformed(self, entry: dict[str, Any]) -> dict[str, Any]:
        bad = dict(entry)
        if self.bad_entry == "asset":
            bad["asset_id"] = int(entry["asset_id"]) if str(entry["asset_id"]).isdigit() else None
        else:
            whole, _, frac = str(entry["size"]).partition(".")
            bad["size"] = f"{whole}.{frac.ljust(WIRE_SIZE_DP, '0')}1"  # one decimal more than the venue's precision
        return bad

    # --- world notifications ----------------------------------------------------------------------

    def on_level(self, venue: str, book_id: str, side: BookSide, price: int, total: int, delta: int) -> None:
        if venue != POLYMARKET:
            return
        pm = self.world.poly_markets.get(book_id)
        if pm is None:
            return
        conns = set().union(*(self.by_asset.get(t, set()) for t in pm.token_ids))
        if not conns:
            return
        ts = str(self._ts())
        entries = {}
        for index in (0, 1):
            ref = TokenRef(pm, index)
            bids, asks = token_levels(self.world, ref)
            # Engine BUY at p is a token-0 bid at p and a token-1 ask at 1 - p.
            is_bid = (side is BookSide.BUY) == (index == 0)
            p = price if index == 0 else ONE_DOLLAR - price
            entries[ref.token_id] = {"asset_id": ref.token_id, "price": price_text(p, pm.tick), "size": self._size_text(book_id, price, total),
                                     "side": "BUY" if is_bid else "SELL", "hash": f"{book_id[2:18]}{ts}{index}",
                                     "best_bid": price_text(bids[0][0], pm.tick) if bids else "0",
                                     "best_ask": price_text(asks[0][0], pm.tick) if asks else "1"}
        for conn in conns:
            changes = [e for t, e in entries.items() if t in conn.assets]
            if self.bad_entries > 0 and changes:
                self.bad_entries -= 1
                changes[0] = self._malformed(changes[0])
            self._send(conn, {"event_type": "price_change", "market": book_id, "timestamp": ts, "price_changes": changes})

    def on_trade(self, venue: str, book_id: str, trade: Trade, trade_id: str, ts_us: int) -> None:
        if venue != POLYMARKET:
            return
        pm = self.world.poly_markets.get(book_id)
        if pm is None:
            return
        for index in (0, 1):
            ref = TokenRef(pm, index)
            p = trade.price if index == 0 else ONE_DOLLAR - trade.price
            taker_buys_token = (trade.taker_side is BookSide.BUY) == (index == 0)
            msg = {"event_type": "last_trade_price", "asset_id": ref.token_id, "market": book_id, "price": price_text(p, pm.tick),
                   "side": "BUY" if taker_buys_token else "SELL", "size": size_text(trade.size), "fee_rate_bps": "0",
                   "timestamp": str(ts_us // 1000)}
            for conn in self.by_asset.get(ref.token_id, ()):
                self._send(conn, msg)

    def on_life(self, phase: str, game: SimGame, life: GameLife) -> None:
        """A resolved market sends `market_resolved` to the connections that asked for custom features, in the shape of
        tests/resources/polymarket/ws_market_resolved_msg.json (event_type, id, market, assets_ids, winning_asset_id,
        winning_outcome, timestamp in ms as a string, tags)."""
        if phase != lifecycle.DETERMINED:
            return
        for pm in game.poly_markets:
            conns = {c for tok in pm.token_ids for c in self.by_asset.get(tok, ()) if c.custom}
            if not conns:
                continue
            win = 0 if lifecycle.poly_yes_value(game, pm, life.winner) == ONE_DOLLAR else 1
            msg = {"event_type": "market_resolved", "id": market_id(pm.condition_id), "market": pm.condition_id,
                   "assets_ids": list(pm.token_ids), "winning_asset_id": pm.token_ids[win], "winning_outcome": pm.outcomes[win],
                   "timestamp": str(life.determine_us // 1000), "tags": ["sports", game.league]}
            for conn in conns:
                self._send(conn, msg)

    # --- subscriptions ----------------------------------------------------------------------------

    def _add(self, conn: Conn, assets: list[str], dump: bool) -> None:
        new = [a for a in assets if a not in conn.assets]
        books = []
        for a in new:
            conn.assets.add(a)
            self.by_asset.setdefault(a, set()).add(conn)
            ref = token_ref(self.world, a)
            if ref is not None and dump:
                books.append(self._book(ref))
        if books:
            self._send(conn, books)  # the dump is batched: one JSON array

    def _remove(self, conn: Conn, assets: list[str]) -> None:
        for a in assets:
            conn.assets.discard(a)
            subs = self.by_asset.get(a)
            if subs is not None:
                subs.discard(conn)
                if not subs:
                    del self.by_asset[a]

    def handle_text(self, conn: Conn, text: str) -> None:
        if text == "PING":
            self._send(conn, "PONG", data=False)
            return
        try:
            msg = json.loads(text)
        except ValueError:
            self._send(conn, "INVALID OPERATION", data=False)
            return
        if not isinstance(msg, dict):
            self._send(conn, "INVALID OPERATION", data=False)
            return
        assets = [str(a) for a in msg.get("assets_ids") or [] if isinstance(a, (str, int))]
        if msg.get("type") == "market" or msg.get("type") == "MARKET":
            conn.started = True
            conn.custom = msg.get("custom_feature_enabled") is True
            self._add(conn, assets, bool(msg.get("initial_dump", True)))
        elif msg.get("operation") == "subscribe" and conn.started:
            self._add(conn, assets, bool(msg.get("initial_dump", True)) and self.dump_on_subscribe)
        elif msg.get("operation") == "unsubscribe" and conn.started:
            self._remove(conn, assets)
        else:
            self._send(conn, "INVALID OPERATION", data=False)

    # --- connections ------------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoping=True, max_msg_size=1 << 20)
        await ws.prepare(request)
        conn = Conn(ws)
        self.conns.add(conn)
        writer = asyncio.create_task(self._writer(conn))
        idle = self.world.settings.poly_ws_idle_s
        try:
            while True:
                try:
                    msg = await ws.receive(timeout=idle if idle > 0 else None)
                except TimeoutError:
                    await ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"no PING received")
                    break
                if msg.type == WSMsgType.TEXT:
                    try:
                        self.handle_text(conn, msg.data)
                    except Exception:
                        log.exception("polymarket sim: message handling failed")
                elif msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                    break
        finally:
            self.conns.discard(conn)
            self._remove(conn, list(conn.assets))
            conn.queue.put_nowait(None)
            with contextlib.suppress(asyncio.CancelledError):
                await writer
        return ws

    async def _writer(self, conn: Conn) -> None:
        with contextlib.suppress(ConnectionResetError, RuntimeError):
            while True:
                text = await conn.queue.get()
                if text is None or conn.ws.closed:
                    return
                await conn.ws.send_str(text)

    def disconnect_all(self, venue: str) -> int:
        if venue != POLYMARKET:
            return 0
        n = 0
        for conn in list(self.conns):
            n += 1
            task = asyncio.get_running_loop().create_task(conn.ws.close(code=WSCloseCode.GOING_AWAY, message=b"sim fault: disconnect"))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return n

    async def close(self) -> None:
        for conn in list(self.conns):
            await conn.ws.close(code=WSCloseCode.GOING_AWAY, message=b"simulator stopping")


def hub_of(world: SimWorld) -> PolyWsHub | None:
    """The market-channel hub serving `world`, to flip its switches (it registers as a level listener)."""
    for listener in world.level_listeners:
        hub = getattr(listener, "__self__", None)
        if isinstance(hub, PolyWsHub):
            return hub
    return None
