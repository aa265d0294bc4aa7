"""Simulated Polymarket CLOB REST (P4, P5): L2-authenticated order entry on the shared matching engine.

POST /order verifies the EIP-712 signature by recovering the signer (the account's key) and the wallet roles
(EOA: maker = signer = the key's address; POLY_PROXY / GNOSIS_SAFE: signer = the key's address; POLY_1271:
maker = signer = the deposit wallet), uses the order hash as orderID,
refuses a resent order (INVALID_ORDER_DUPLICATED, forever), enforces tick and min size and the stricter
amount decimals of FAK/FOK orders (venues/polymarket/amounts.py, with the venue's text), and answers
`matched` / `unmatched` (FAK, FOK), `live` (resting GTC/GTD) or `delayed` (marketable orders on markets
with secondsDelay > 0, executed that much later). A marketable BUY spends its pUSD amount: matched at
better prices it receives more shares (pitfalls.md). Every order request, accepted or not, goes to the
ground-truth order log. A refusal is HTTP 400 {"error", "errorMsg", "success": false}; with the fault
`reject_in_200` (probability, 1 = always) it comes as the venue also sends some: HTTP 200 with
`success: true` and the reason in `errorMsg`.

Ambiguous-answer faults (simulators/faults.py): an accepted order executes (or is scheduled, when delayed) and then
answers 500 (`accept_then_5xx`; not 503 + Retry-After, which is cancel-only's "not accepted") or nothing
(`accept_then_timeout`: held `timeout_hold_ms`, then the connection closes unanswered); `lookup_lag_ms` hides it from
`GET /data/order/{id}` and `/data/trades` for a while; `delay_s` overrides the world's secondsDelay; `p401`/`next_401`
refuse `POST /order` with 401; an L2 `POLY_TIMESTAMP` further than `max_clock_skew_s` from the venue clock (wall clock
+ `clock_offset_s`) answers 401. `GET /clob-markets/{condition_id}` serves the market bundle the official client reads.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from core.errors import ArbError
from core.fees import polymarket_taker_fee
from core.units import ONE_DOLLAR, format_fixed, parse_fixed, parse_size
from simulators.catalogue import POLYMARKET
from simulators.engine import BookSide, TimeInForce
from simulators.faults import ACCEPT_THEN_5XX, CLOCK_SKEW, FAULT_401, client_gone, drop_connection
from simulators.orderlog import OrderRecord
from simulators.polymarket.wire import TokenRef, book_event, price_text, size_text, to_engine, token_price, token_ref
from simulators.world import SimWorld
from venues.polymarket import amounts
from venues.polymarket import constants as C
from venues.polymarket.auth import verify_l2
from venues.polymarket.signing import OrderStruct, order_from_wire, order_hash, recover_order_signer

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PRIVATE = ("/order", "/orders", "/data/", "/balance")
SIZE_UNIT = 10_000  # 1e-6 base units per 1e-2 share
NOT_READY = "the market is not yet ready to process new orders"  # PD resources/error-codes.md, POST order
NO_ORDERBOOK = "No orderbook exists for the requested token id"  # PD resources/error-codes.md, GET book


class OrderError(ArbError):
    def __init__(self, code: str, status: int = 400) -> None:
        super().__init__(code)
        self.code = code
        self.status = status


def _err(status: int, message: str, **extra: Any) -> web.Response:
    return web.json_response({"error": message, **extra}, status=status)


def usd_text(base_units: int) -> str:
    return format_fixed(base_units, 6)


class PolyClob:
    def __init__(self, world: SimWorld) -> None:
        self.world = world
        s = world.settings
        self.address = s.poly_address.lower()
        self.min_size = parse_size(s.poly_min_size)
        rate_ppm = parse_fixed(s.poly_fee_rate, 6)
        self.fee_rate_ppm, self.fee_exponent = rate_ppm, 1  # every simulated market: served by GET /clob-markets/{id}
        world.fee_fns[POLYMARKET] = lambda _book, price, size: polymarket_taker_fee(price, size, rate_ppm, 1)
        self.orders: dict[str, dict[str, Any]] = {}  # order hash -> state
        self._tasks: set[asyncio.Task[Any]] = set()

    # --- middleware: latency, faults, L2 auth -----------------------------------------------------

    def authenticate(self, request: web.Request, body: bytes) -> tuple[str, str] | None:
        """None when the L2 headers are valid, else (problem, fault name or "")."""
        s = self.world.settings
        h = request.headers
        if h.get("POLY_API_KEY") != s.poly_api_key or h.get("POLY_PASSPHRASE") != s.poly_passphrase.reveal():
            return "invalid api key or passphrase", ""
        if (h.get("POLY_ADDRESS") or "").lower() != self.address:
            return "address does not own this api key", ""
        ts = h.get("POLY_TIMESTAMP") or ""
        if not ts.isdigit():
            return "invalid timestamp", ""
        if self.world.faults[POLYMARKET].clock_skewed(int(ts) * 1000):  # POLY_TIMESTAMP is in seconds
            return "invalid timestamp", CLOCK_SKEW
        if not verify_l2(s.poly_secret.reveal(), ts, request.method, request.path, body, h.get("POLY_SIGNATURE") or ""):
            return "invalid signature", ""
        return None

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path == "/ws/market":
            return await handler(request)
        faults = self.world.faults[POLYMARKET]
        if faults.latency_ms:
            await asyncio.sleep(faults.latency_ms / 1000)
        body = await request.read()
        if request.path.startswith(PRIVATE) and (auth := self.authenticate(request, body)) is not None:
            problem, fault = auth
            self._log_refused(request, body, 401, problem, fault)
            return _err(401, f"Unauthorized/Invalid api key: {problem}")
        status = faults.http_fault(self.world.faults.rng)
        if status is not None:
            self._log_refused(request, body, status, "fault injected", "429" if status == 429 else "5xx")
            headers = {"Retry-After": str(int(faults.retry_after_s))} if faults.retry_after_s is not None else {}
            return web.json_response({"error": "too many requests" if status == 429 else "internal error"}, status=status, headers=headers)
        if faults.cancel_only and request.method == "POST" and request.path in ("/order", "/orders"):
            self._log_refused(request, body, 503, "cancel-only mode", "cancel_only")
            return web.json_response({"error": "Trading is currently cancel-only. Please retry later."}, status=503,
                                     headers={"Retry-After": str(int(faults.retry_after_s or 5))})
        return await handler(request)

    def _fault_on(self, name: str) -> bool:
        """A Polymarket-only fault given as a probability (True/1: always), drawn from the seeded fault RNG."""
        p = float(getattr(self.world.faults[POLYMARKET], name) or 0)
        return p >= 1 or (p > 0 and self.world.faults.rng.random() < p)

    def _log_refused(self, request: web.Request, body: bytes, status: int, reason: str, fault: str = "") -> None:
        if request.method != "POST" or request.path != "/order":
            return
        try:
            parsed = json.loads(body) if body else {}
        except ValueError:
            parsed = {"raw": body.decode("utf-8", "replace")}
        rec = self.world.orderlog.new(POLYMARKET, "create", self.world.now_us(), self.address, parsed if isinstance(parsed, dict) else {"body": parsed})
        rec.http_status, rec.status, rec.reason, rec.fault = status, "rejected", reason, fault

    # --- orders -----------------------------------------------------------------------------------

    def _validate(self, body: Any) -> tuple[OrderStruct, TokenRef, str, int, int, str]:
        """-> (order, token, BUY/SELL, token price 1e-4, size 1e-2, order type)."""
        if not isinstance(body, dict) or not isinstance(body.get("order"), dict):
            raise OrderError("invalid order payload")
        if body.get("owner") != self.world.settings.poly_api_key:
            raise OrderError("the order owner has to be the owner of the API KEY")
        order_type = str(body.get("orderType") or "GTC")
        if order_type not in C.ORDER_TYPES:
            raise OrderError(f"invalid order type {order_type}")
        try:
            order, signature = order_from_wire(body["order"])
        except ValueError:
            raise OrderError("invalid order payload") from None
        ref = token_ref(self.world, str(order.token_id))
        if ref is None:
            raise OrderError("MARKET_NOT_READY")
        if not self._trading(ref.condition_id):
            raise self._closed_error()
        game = self.world.game_of_book(POLYMARKET, ref.condition_id)
        exchange = C.NEG_RISK_EXCHANGE if game is not None and game.draw_possible else C.EXCHANGE
        digest_hex = "0x" + order_hash(order, exchange, "2", self.world.settings.poly_chain_id).hex()
        if digest_hex in self.orders:
            raise OrderError("INVALID_ORDER_DUPLICATED")
        try:
            signer = recover_order_signer(order, signature, exchange, "2", self.world.settings.poly_chain_id)
        except ValueError:
            signer = ""
        if order.signature_type == C.SIG_POLY_1271:
            # The deposit wallet is maker and signer; the exchange asks it (EIP-1271) to validate the owner's
            # signature (py_clob_client_v2 builder.py `_v2_order_signer`; clob-client-v2 createOrder.ts). A
            # type-3 order signed "by" the EOA fails that check on chain.
            roles_ok = order.signer == order.maker != self.address
        else:  # the key's own address signs; an EOA order is also its own maker
            roles_ok = order.signer == self.address and (order.signature_type != C.SIG_EOA or order.maker == order.signer)
        if signer != self.address or not roles_ok:
            raise OrderError("invalid signature")
        side = "BUY" if order.side == C.SIDE_BUY else "SELL"
        usd, shares = (order.maker_amount, order.taker_amount) if side == "BUY" else (order.taker_amount, order.maker_amount)
        if shares <= 0 or shares % SIZE_UNIT or (usd * 10_000) % shares:
            raise OrderError("INVALID_ORDER_MIN_TICK_SIZE")
        size = shares // SIZE_UNIT
        price = usd * 10_000 // shares  # 1e-4 USD per share
        if not 0 < price < ONE_DOLLAR or price % ref.market.tick:
            raise OrderError(f"INVALID_ORDER_MIN_TICK_SIZE: price ({price_text(price, 1)}) breaks minimum tick size rule: {price_text(ref.market.tick, 1)}")
        if size < self.min_size:
            raise OrderError(f"INVALID_ORDER_MIN_SIZE: Size ({size_text(size)}) lower than the minimum: {size_text(self.min_size)}")
        if order_type in ("FAK", "FOK") and not amounts.amounts_ok(order.maker_amount, order.taker_amount):
            raise OrderError(amounts.invalid_text(side))  # the same amounts would rest fine as GTC/GTD
        if order_type == "GTD" and order.expiration <= int(time.time()) + 60:
            raise OrderError("INVALID_ORDER_EXPIRATION")
        acct = self.world.poly_account(self.address)
        if side == "SELL":  # the shares of this token (holding the other token of the condition does not count)
            pos = acct.positions.get(ref.token_id)
            if (pos.qty if pos else 0) < size:
                raise OrderError("INVALID_ORDER_NOT_ENOUGH_BALANCE")
        elif not acct.unlimited and price * size > acct.balance:
            raise OrderError("INVALID_ORDER_NOT_ENOUGH_BALANCE")
        return order, ref, side, price, size, order_type

    def _trading(self, condition_id: str) -> bool:
        """False once the market's game ended (simulators/lifecycle.py: acceptingOrders false, then closed)."""
        game = self.world.game_of_book(POLYMARKET, condition_id)
        return game is None or self.world.life.trading(game.game_id)

    def _closed_error(self) -> OrderError:
        """How an order on a market that stopped trading is refused. The CLOB documents no refusal naming a closed
        market (PD resources/error-codes.md lists `the market is not yet ready to process new orders` and, for the
        book, `No orderbook exists for the requested token id`): ARB_SIM_POLY_CLOSED_ORDER picks one."""
        if self.world.settings.poly_closed_order == "no_orderbook":
            return OrderError(NO_ORDERBOOK)
        return OrderError(NOT_READY)

    def _execute(self, state: dict[str, Any]) -> None:
        """Match the order now; FAK/FOK never rest. A BUY keeps spending its pUSD budget while better prices remain."""
        ref: TokenRef = state["ref"]
        side, price, size, order_type = state["side"], state["price"], state["size"], state["order_type"]
        rec: OrderRecord = state["record"]
        tif = {"FAK": TimeInForce.IOC, "FOK": TimeInForce.FOK}.get(order_type, TimeInForce.GTC)
        eside, eprice = to_engine(ref, side, price)
        book = self.world.poly_books[ref.condition_id]
        if not self._trading(ref.condition_id):
            size_to_send = 0  # a delayed order whose market closed meanwhile: cancelled, never matched
        elif tif is TimeInForce.FOK and book.crossing_size(eside, eprice) < size:
            tif = TimeInForce.IOC  # an unfillable FOK fills nothing
            size_to_send = 0
        else:
            size_to_send = size
        filled = usd = 0
        if size_to_send:
            result = self.world.place(POLYMARKET, ref.condition_id, self.address, eside, eprice, size_to_send, tif, order_id=state["id"], record=rec,
                                      token_index=ref.index)
            for t in result.trades:
                filled += t.size
                usd += token_price(ref, t.price) * t.size
            state["rested"] = result.rested
            if side == "BUY" and tif is TimeInForce.IOC:
                budget = price * size - usd  # pUSD left of makerAmount after matching at better prices
                for step in range(1, 4):
                    best = book.best_ask() if eside is BookSide.BUY else book.best_bid()
                    if best is None:
                        break
                    p = token_price(ref, best[0])
                    extra = budget // p if p <= price else 0
                    if extra <= 0:
                        break
                    # the extra match is part of this order: its fills (and fees) go on the order's record
                    extra_id = f"{state['id']}+{step}"
                    self.world.orderlog.by_order_id[extra_id] = rec
                    try:
                        more = self.world.place(POLYMARKET, ref.condition_id, self.address, eside, eprice, extra, TimeInForce.IOC,
                                                order_id=extra_id, token_index=ref.index)
                    finally:
                        del self.world.orderlog.by_order_id[extra_id]
                    got = sum(t.size for t in more.trades)
                    spent = sum(token_price(ref, t.price) * t.size for t in more.trades)
                    if got == 0:
                        break
                    filled, usd, budget = filled + got, usd + spent, budget - spent
        else:
            rec.status, rec.order_id = "canceled", state["id"]
            self.world.orderlog.register(rec)
            self.world.orderlog.closed(rec)
        state["filled"], state["usd"] = filled, usd
        state["status"] = "live" if state.get("rested") else ("matched" if filled else "unmatched")

    async def post_order(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        if self.world.faults[POLYMARKET].deny_401(self.world.faults.rng):  # p401 / next_401: nothing executes
            self._log_refused(request, raw, 401, "authentication failed", FAULT_401)
            return _err(401, "Unauthorized/Invalid api key")
        try:
            body = json.loads(raw)
        except ValueError:
            self._log_refused(request, raw, 400, "invalid JSON")
            return _err(400, "Invalid order payload")
        rec = self.world.orderlog.new(POLYMARKET, "create", self.world.now_us(), self.address, body if isinstance(body, dict) else {"body": body})
        try:
            order, ref, side, price, size, order_type = self._validate(body)
        except OrderError as exc:
            rec.status, rec.reason = "rejected", exc.code
            if self._fault_on("reject_in_200"):
                rec.http_status = 200
                return web.json_response({"success": True, "errorMsg": exc.code, "orderID": "", "status": "", "makingAmount": "",
                                          "takingAmount": "", "transactionsHashes": [], "tradeIDs": []})
            rec.http_status = exc.status
            return _err(exc.status, exc.code, success=False, errorMsg=exc.code)
        oid = "0x" + order_hash(order, C.NEG_RISK_EXCHANGE if (g := self.world.game_of_book(POLYMARKET, ref.condition_id)) and g.draw_possible
                                else C.EXCHANGE, "2", self.world.settings.poly_chain_id).hex()
        rec.accepted, rec.http_status, rec.order_id, rec.book_id = True, 200, oid, ref.condition_id
        faults = self.world.faults[POLYMARKET]
        if faults.lookup_lag_ms > 0:
            rec.visible_us = rec.received_us + faults.lookup_lag_ms * 1000
        rec.side, rec.price, rec.size, rec.tif = side.lower(), price, size, order_type
        rec.extra = {"token_id": ref.token_id, "salt": order.salt, "signature_type": order.signature_type}
        state: dict[str, Any] = {"id": oid, "ref": ref, "side": side, "price": price, "size": size, "order_type": order_type, "record": rec,
                                 "created_at": int(time.time()), "status": "delayed", "filled": 0, "usd": 0, "order": body["order"]}
        self.orders[oid] = state
        eside, eprice = to_engine(ref, side, price)
        marketable = self.world.poly_books[ref.condition_id].crossing_size(eside, eprice) > 0
        delay = faults.poly_delay_s(self.world.settings.poly_seconds_delay)
        if marketable and delay > 0:
            rec.status = "delayed"
            task = asyncio.get_running_loop().create_task(self._delayed(state, delay))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return await self._answer_or_lose(request, rec, {"success": True, "errorMsg": "", "orderID": oid, "status": "delayed",
                                                             "makingAmount": "", "takingAmount": "", "transactionsHashes": [], "tradeIDs": []})
        self._execute(state)
        return await self._answer_or_lose(request, rec, self._answer(state))

    async def _answer_or_lose(self, request: web.Request, rec: OrderRecord, answer: dict[str, Any]) -> web.StreamResponse:
        """`answer` for an accepted order (executed or scheduled), unless an accept-then fault replaces it by a 500 or
        loses it. A 500, not 503 + Retry-After: that one means "not accepted" (cancel-only) at this venue."""
        faults = self.world.faults
        fault = faults[POLYMARKET].accept_fault(faults.rng)
        if fault is None:
            return web.json_response(answer)
        rec.fault = fault
        rec.http_status = 500 if fault == ACCEPT_THEN_5XX else 0
        if fault == ACCEPT_THEN_5XX:
            return web.json_response({"error": "internal error"}, status=500)
        await faults.hold(POLYMARKET, faults[POLYMARKET].timeout_hold_ms / 1000, lambda: client_gone(request))
        return drop_connection(request)

    def _visible(self, state: dict[str, Any]) -> bool:
        return self.world.orderlog.visible(state["record"], self.world.now_us())

    async def _delayed(self, state: dict[str, Any], delay: float) -> None:
        await asyncio.sleep(delay)
        self._execute(state)

    def _answer(self, state: dict[str, Any]) -> dict[str, Any]:
        shares, usd = state["filled"] * SIZE_UNIT, state["usd"]
        making, taking = (usd, shares) if state["side"] == "BUY" else (shares, usd)
        return {"success": True, "errorMsg": "", "orderID": state["id"], "status": state["status"], "makingAmount": usd_text(making),
                "takingAmount": usd_text(taking), "transactionsHashes": [], "tradeIDs": [f.trade_id for f in state["record"].fills]}

    async def get_order(self, request: web.Request) -> web.Response:
        state = self.orders.get(request.match_info["order_id"])
        if state is None or not self._visible(state):  # lookup_lag_ms: not there yet
            return _err(404, "order not found")
        ref: TokenRef = state["ref"]
        status = {"delayed": "ORDER_STATUS_LIVE", "live": "ORDER_STATUS_LIVE", "matched": "ORDER_STATUS_MATCHED",
                  "unmatched": "ORDER_STATUS_CANCELED", "canceled": "ORDER_STATUS_CANCELED"}[state["status"]]
        if state["status"] == "matched" and state["order_type"] == "FAK" and state["filled"] < state["size"]:
            status = "ORDER_STATUS_CANCELED"  # the unfilled rest of a FAK is cancelled; size_matched tells what filled
        return web.json_response({
            "id": state["id"], "status": status, "market": ref.condition_id, "asset_id": ref.token_id, "side": state["side"],
            "original_size": size_text(state["size"]), "size_matched": size_text(state["filled"]),
            "price": price_text(state["price"], 1), "outcome": ref.market.outcomes[ref.index], "maker_address": self.address,
            "owner": self.world.settings.poly_api_key, "order_type": state["order_type"], "created_at": state["created_at"], "expiration": "0",
            "associate_trades": [f.trade_id for f in state["record"].fills]})

    async def cancel(self, request: web.Request) -> web.Response:
        try:
            oid = str(json.loads(await request.read())["orderID"])
        except (ValueError, KeyError, TypeError):
            return _err(400, "Invalid payload")
        state = self.orders.get(oid)
        if state is None:
            return web.json_response({"canceled": [], "not_canceled": {oid: "order not found"}})
        if state["status"] != "live":
            return web.json_response({"canceled": [], "not_canceled": {oid: "order is not live"}})
        self.world.cancel(POLYMARKET, state["ref"].condition_id, oid)
        state["status"] = "canceled"
        return web.json_response({"canceled": [oid], "not_canceled": {}})

    async def trades(self, request: web.Request) -> web.Response:
        rows = []
        for state in self.orders.values():
            if not self._visible(state):
                continue
            ref: TokenRef = state["ref"]
            for f in state["record"].fills:
                rows.append({"id": f.trade_id, "taker_order_id": state["id"], "market": ref.condition_id, "asset_id": ref.token_id,
                             "side": state["side"], "size": size_text(f.size), "price": price_text(token_price(ref, f.price), 1),
                             "fee_rate_bps": "0", "status": "CONFIRMED", "match_time": str(f.ts_us // 1_000_000), "outcome": ref.market.outcomes[ref.index],
                             "owner": self.world.settings.poly_api_key, "maker_address": self.address, "trader_side": "TAKER"})
        if v := request.query.get("id"):
            rows = [r for r in rows if r["id"] == v or r["taker_order_id"] == v]
        if v := request.query.get("market"):
            rows = [r for r in rows if r["market"] == v]
        if v := request.query.get("asset_id"):
            rows = [r for r in rows if r["asset_id"] == v]
        start = 0 if request.query.get("next_cursor", "MA==") == "MA==" else int(request.query.get("next_cursor", "0") or 0)
        page = rows[start:start + 100]
        nxt = "LTE=" if start + 100 >= len(rows) else str(start + 100)
        return web.json_response({"data": page, "next_cursor": nxt, "limit": 100, "count": len(page)})

    async def book(self, request: web.Request) -> web.Response:
        ref = token_ref(self.world, request.query.get("token_id", ""))
        if ref is None or (self.world.settings.poly_closed_order == "no_orderbook" and not self._trading(ref.condition_id)):
            return _err(404, NO_ORDERBOOK)
        ev = book_event(self.world, ref, self.world.now_us() // 1000)
        game = self.world.game_of_book(POLYMARKET, ref.condition_id)
        return web.json_response({k: v for k, v in ev.items() if k != "event_type"} | {
            "min_order_size": size_text(self.min_size).rstrip("0").rstrip("."), "neg_risk": bool(game and game.draw_possible)})

    async def positions(self, request: web.Request) -> web.Response:
        """Simulator-only inspection route: the real CLOB host has no /positions. The venue's positions are
        the Data API's (`GET /positions` on the public app, simulators/polymarket/gamma.py), which
        reconciliation reads; this one stays for tests that inspect the account directly."""
        user = (request.query.get("user") or "").lower()
        out = []
        acct = self.world.accounts[POLYMARKET].get(user)
        for token, pos in sorted((acct.positions if acct else {}).items()):
            cond, index = self.world.poly_token_index.get(token, ("", 0))
            if pos.qty <= 0 or not cond:
                continue
            pm = self.world.poly_markets[cond]
            qty = pos.qty
            out.append({"proxy_wallet": user, "token_id": pm.token_ids[index], "condition_id": cond, "current_size": qty / 100,
                        "avg_price": round(pos.cost / qty / 10_000, 6), "entry_cost_usdc": pos.cost / 1e6, "outcome": pm.outcomes[index],
                        "outcome_index": index, "opposite_outcome": pm.outcomes[1 - index], "opposite_token_id": pm.token_ids[1 - index],
                        "size_fp": size_text(qty), "cost_usdc_fp": usd_text(pos.cost), "title": pm.question, "slug": pm.slug, "status": "OPEN"})
        return web.json_response({"data": out})

    async def clob_market(self, request: web.Request) -> web.Response:
        """The market bundle `GET /clob-markets/{condition_id}`, in the shape the official clients read:
        py-clob-client-v2 `ClobClient.get_clob_market_info` (py_clob_client_v2/client.py, 1.2.1: `t[].t`, `mts`, `nr`,
        `fd.r`, `fd.e`) and clob-client-v2 `MarketDetails` / `FeeDetails` (Polymarket/clob-client-v2 src/types/clob.ts:
        `c`; `t` = [{t: token id, o: outcome}, ...]; `mts` min tick; `nr` neg risk; `fd` = {r: rate, e: exponent, to:
        taker only}; optional v1 `mbf`/`tbf`, not sent). `mos` (min order size) is read by third-party clients, not
        in the official type. Fee parameters are the world's (`ARB_SIM_POLY_FEE_RATE`, exponent 1, takers only)."""
        pm = self.world.poly_markets.get(request.match_info["condition_id"])
        if pm is None:
            return _err(404, "market not found")
        game = self.world.game_of_book(POLYMARKET, pm.condition_id)
        return web.json_response({
            "c": pm.condition_id, "t": [{"t": tid, "o": outcome} for tid, outcome in zip(pm.token_ids, pm.outcomes, strict=True)],
            "mts": pm.tick / 10_000, "nr": bool(game and game.draw_possible), "mos": self.min_size / 100,
            "fd": {"r": self.fee_rate_ppm / 1_000_000, "e": self.fee_exponent, "to": True}})

    async def balance(self, _r: web.Request) -> web.Response:
        acct = self.world.poly_account(self.address)
        return web.json_response({"balance": usd_text(acct.balance), "allowances": {}})

    async def balance_allowance(self, _r: web.Request) -> web.Response:
        """The real `GET /balance-allowance` (py_clob_client_v2 `get_balance_allowance`): the balance as an integer
        string of 1e-6 pUSD; allowances are not simulated (on-chain approvals)."""
        return web.json_response({"balance": str(self.world.poly_account(self.address).balance), "allowances": {}})

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/order", self.post_order), web.delete("/order", self.cancel), web.get("/data/order/{order_id}", self.get_order),
                web.get("/data/trades", self.trades), web.get("/book", self.book), web.get("/positions", self.positions),
                web.get("/balance", self.balance), web.get("/balance-allowance", self.balance_allowance), web.get("/time", _time), web.get("/clob-markets/{condition_id}", self.clob_market)]

    async def close(self) -> None:
        for t in list(self._tasks):
            t.cancel()
        self.world.faults.release_held(POLYMARKET)  # held answers (accept_then_timeout) must not delay shutdown


async def _time(_r: web.Request) -> web.Response:
    return web.Response(text=str(int(time.time())))
