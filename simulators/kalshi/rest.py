"""Kalshi REST (`/trade-api/v2`) served by the simulator: discovery, order book, V2 orders, portfolio.

Answers follow venue-protocols.md K4/K5: V2 create answers 201 with the lightweight body, a duplicate
client_order_id gets 409 while the first order is open (or always, configurable), IOC with
expiration_time gets 400, legacy `POST /portfolio/orders` is refused. Errors are `{code, message, details}`.
Ambiguous-answer faults (simulators/faults.py): an accepted create executes and then answers 500 (`accept_then_5xx`)
or nothing (`accept_then_timeout`: held `timeout_hold_ms`, then the connection closes unanswered); `lookup_lag_ms`
hides it from `GET /portfolio/orders[/{id}]` and `/portfolio/fills` for a while; `p401`/`next_401` refuse order
requests with 401; a signed request whose `KALSHI-ACCESS-TIMESTAMP` is further than `max_clock_skew_s` from the venue
clock (wall clock + `clock_offset_s`) answers 401.
A game market states the scheduled start as the venue does -- in `rules_primary` ("... originally scheduled
for Nov 29, 2026 at 4:25 PM EST ...") and `occurrence_datetime` -- since these series' tickers carry no time;
it is the instant the Gamma simulator gives as `gameStartTime`.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from core.errors import ArbError
from core.units import ONE_DOLLAR, UnitError, format_fixed, format_price, format_size, parse_price, parse_size
from simulators.catalogue import KALSHI, KalshiMarket, SimGame
from simulators.engine import BookSide, TimeInForce
from simulators.faults import ACCEPT_THEN_5XX, CLOCK_SKEW, FAULT_401, client_gone, drop_connection
from simulators.lifecycle import KalshiSettlement
from simulators.orderlog import OrderRecord
from simulators.world import SimWorld
from venues.kalshi import constants as C
from venues.kalshi.auth import HEADER_TIMESTAMP

ACCOUNT_KEY: web.RequestKey[str] = web.RequestKey("kalshi_account")  # the authenticated key id
# (request, is_write, tokens) -> allowed; installed by the rate limiter for batch endpoints billed per item
CHARGE_KEY: web.AppKey[Callable[[web.Request, bool, int], bool]] = web.AppKey("kalshi_charge")
_COID_RE = re.compile(C.CLIENT_ORDER_ID_PATTERN)
_TIF = {"fill_or_kill": TimeInForce.FOK, "good_till_canceled": TimeInForce.GTC, "immediate_or_cancel": TimeInForce.IOC}
_TIF_NAME = {v: k for k, v in _TIF.items()}
MAX_BATCH = 20
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
INTERNAL_ERROR_BODY = {"code": "internal_server_error", "message": "simulated server error", "details": ""}  # as the 5xx fault
_ORDER_WRITE_PATHS = (f"{C.REST_PREFIX}/portfolio/events/orders", f"{C.REST_PREFIX}/portfolio/orders")
NY = ZoneInfo("America/New_York")
SPORT = {"nfl": "professional football", "nba": "professional basketball", "nhl": "professional hockey", "epl": "professional soccer",
         "mls": "professional soccer"}


class ApiError(ArbError):
    def __init__(self, status: int, code: str, message: str, details: str = "") -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details

    def response(self) -> web.Response:
        return web.json_response({"code": self.code, "message": self.message, "details": self.details}, status=self.status)


# --- formatting ------------------------------------------------------------------------------------


def dollars(money: int) -> str:
    """1e-6 USD -> a dollar string with 4 dp when exact (FixedPointDollars), else 6 dp."""
    return format_fixed(money // 100, 4) if money % 100 == 0 else format_fixed(money, 6)


def iso(ts_us: int) -> str:
    return dt.datetime.fromtimestamp(ts_us / 1_000_000, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def iso_seconds(ts_us: int) -> str:
    """UTC time as Kalshi writes `occurrence_datetime` ("2026-06-26T23:40:00Z")."""
    return dt.datetime.fromtimestamp(ts_us // 1_000_000, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def scheduled_text(ts_us: int) -> str:
    """A start in Kalshi's rules wording, New York time: "Nov 29, 2026 at 4:25 PM EST"."""
    t = dt.datetime.fromtimestamp(ts_us // 1_000_000, NY)
    month = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")[t.month - 1]  # not %b: locale-free
    return f"{month} {t.day}, {t.year} at {t.hour % 12 or 12}:{t.minute:02d} {'PM' if t.hour >= 12 else 'AM'} {t.tzname()}"


def rules_primary(m: KalshiMarket, game: SimGame) -> str:
    """The market's rules text, stating the game's scheduled start as the venue does (discovery reads it when the
    event ticker carries no start time, as for these football/basketball/hockey/soccer series)."""
    what = f"the {m.title.removesuffix(' Winner?')} {SPORT.get(game.league, 'professional')} game originally scheduled for {scheduled_text(game.start_ts_us)}"
    if m.outcome == "draw":
        return f"If {what} ends in a tie, then the market resolves to Yes."
    return f"If {m.yes_sub_title} wins {what}, then the market resolves to Yes."


def market_id(ticker: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"sim-kalshi:{ticker}"))


def levels_yes_no(world: SimWorld, ticker: str, *, use_yes_price: bool, depth: int = 0) -> tuple[list[list[str]], list[list[str]]]:
    """The YES book as Kalshi shows it: YES bids and NO bids, `[price, count]` ascending (best last).

    A YES ask at p is a NO bid at 1 - p (NO-leg pricing) or at p with use_yes_price.
    """
    book = world.kalshi_books[ticker]
    bids = book.bids()
    asks = book.asks()
    if depth > 0:
        bids, asks = bids[:depth], asks[:depth]
    yes = [[format_price(p), format_size(s)] for p, s in reversed(bids)]
    if use_yes_price:
        no = [[format_price(p), format_size(s)] for p, s in asks]
    else:
        no = [[format_price(ONE_DOLLAR - p), format_size(s)] for p, s in reversed(asks)]
    return yes, no


def market_json(world: SimWorld, m: KalshiMarket) -> dict[str, Any]:
    game = world.games.get(m.game_id)
    book = world.kalshi_books.get(m.ticker)
    bb = book.best_bid() if book else None
    ba = book.best_ask() if book else None
    last = world.last_trade.get(m.ticker)
    start = game.start_ts_us if game else world.now_us()
    life = world.life.lives.get(m.game_id)
    # A game market's close_time lies far ahead (can_close_early) and moves to the instant it closed when the game
    # ends (KD getting_started/market_lifecycle.md: "close_date_updated ... when a market is closed ahead of its
    # scheduled close time"); expected_expiration_time is when the outcome should be known.
    close_us = m.closed_us or start + 14 * 86_400_000_000
    expected_us = life.determine_us if life is not None and life.end_us else start + 4 * 3_600_000_000
    out: dict[str, Any] = {
        "ticker": m.ticker, "event_ticker": m.event_ticker, "market_type": "binary", "title": m.title, "subtitle": "",
        "yes_sub_title": m.yes_sub_title, "no_sub_title": m.yes_sub_title, "status": m.status,
        "open_time": iso(start - 7 * 86_400_000_000), "close_time": iso(close_us),
        "expected_expiration_time": iso(expected_us), "latest_expiration_time": iso(start + 14 * 86_400_000_000),
        # Lifecycle fields (KD api-reference/market/get-market.md, Market): `result` "yes"/"no"/"" ; the YES side's
        # settlement value "only filled after determination"; `settlement_ts` "only filled for settled markets".
        "result": m.result, "settlement_timer_seconds": world.settings.kalshi_settlement_timer_s, "expiration_value": "",
        "yes_bid_dollars": format_price(bb[0]) if bb else "0.0000", "yes_bid_size_fp": format_size(bb[1]) if bb else "0.00",
        "yes_ask_dollars": format_price(ba[0]) if ba else "1.0000", "yes_ask_size_fp": format_size(ba[1]) if ba else "0.00",
        "no_bid_dollars": format_price(ONE_DOLLAR - ba[0]) if ba else "0.0000",
        "no_ask_dollars": format_price(ONE_DOLLAR - bb[0]) if bb else "1.0000",
        "last_price_dollars": format_price(last[0]) if last else "0.0000",
        "volume_fp": format_size(world.volume.get(m.ticker, 0)), "open_interest_fp": format_size(world.volume.get(m.ticker, 0)),
        "notional_value_dollars": "1.0000", "price_level_structure": "linear_cent",
        "price_ranges": [{"start": "0.0000", "end": "1.0000", "step": format_price(m.tick)}],
        "fractional_trading_enabled": False, "can_close_early": True,
        "rules_primary": rules_primary(m, game) if game is not None and not m.mve else "Combo of game outcomes.",
    }
    if m.result:
        out["settlement_value_dollars"] = format_price(ONE_DOLLAR if m.result == "yes" else 0)
    if m.settled_us:
        out["settlement_ts"] = iso(m.settled_us)
    if game is not None and not m.mve:
        out["occurrence_datetime"] = iso_seconds(game.start_ts_us)
    if m.mve:
        out["mve_collection_ticker"] = m.series_ticker
        out["market_type"] = "binary"
    return out


def order_json(rec: OrderRecord, world: SimWorld) -> dict[str, Any]:
    m = world.kalshi_markets.get(rec.book_id)
    taker_fee = sum(f.fee for f in rec.fills if f.is_taker)
    bid = rec.side == BookSide.BUY
    # Fill cost in the money of the order's outcome side (NO money for an ask) or in YES money: Kalshi does not
    # define it (executor/kalshi_transport.py), so ARB_SIM_KALSHI_FILL_COST offers both readings.
    no_money = not bid and world.settings.kalshi_fill_cost == "outcome"
    taker_cost = sum((ONE_DOLLAR - f.price if no_money else f.price) * f.size for f in rec.fills if f.is_taker)
    maker_cost = sum((ONE_DOLLAR - f.price if no_money else f.price) * f.size for f in rec.fills if not f.is_taker)
    # Direction as docs getting_started/order_direction.md: bid ≡ outcome yes, ask ≡ outcome no; the legacy pair of
    # an ask is "buy no" (a V2 ask was booked `side: no` on the demo exchange).
    outcome = "yes" if bid else "no"
    return {
        "order_id": rec.order_id, "client_order_id": rec.client_order_id, "user_id": rec.account, "ticker": rec.book_id,
        "event_ticker": m.event_ticker if m else "", "status": rec.status, "type": "limit",
        "book_side": "bid" if bid else "ask", "outcome_side": outcome,
        "side": outcome, "action": "buy",
        "yes_price_dollars": format_price(rec.price), "no_price_dollars": format_price(ONE_DOLLAR - rec.price),
        "initial_count_fp": format_size(rec.size), "fill_count_fp": format_size(rec.filled),
        "remaining_count_fp": format_size(rec.remaining),
        "taker_fees_dollars": dollars(taker_fee), "maker_fees_dollars": dollars(rec.fees - taker_fee),
        "taker_fill_cost_dollars": dollars(taker_cost), "maker_fill_cost_dollars": dollars(maker_cost),
        "time_in_force": _TIF_NAME.get(TimeInForce(rec.tif), rec.tif) if rec.tif else "",
        "created_time": iso(rec.received_us), "last_update_time": iso(rec.last_update_us),
        "expiration_time": None, "exchange_index": 0, "subaccount": 0,
    }


def _page(items: list[Any], request: web.Request, default_limit: int, max_limit: int) -> tuple[list[Any], str]:
    """Offset cursors: opaque to clients; an empty cursor means the last page."""
    try:
        limit = int(request.query.get("limit", default_limit))
        start = int(request.query.get("cursor") or 0)
    except ValueError:
        raise ApiError(400, "invalid_parameters", "limit and cursor must be integers") from None
    if not 1 <= limit <= max_limit:
        raise ApiError(400, "invalid_parameters", f"limit must be between 1 and {max_limit}")
    page = items[start:start + limit]
    return page, (str(start + limit) if start + limit < len(items) else "")


# GET /markets?status= and GET /events?status= filter values -> the market statuses they match (KD
# getting_started/market_lifecycle.md: closed = "any market past close_time that is not yet finalized").
STATUS_FILTER = {"unopened": frozenset({"initialized"}), "open": frozenset({"active"}), "paused": frozenset({"inactive"}),
                 "closed": frozenset({"closed", "determined", "disputed", "amended"}), "settled": frozenset({"finalized"})}


def _status_filter(value: str) -> frozenset[str]:
    want = STATUS_FILTER.get(value)
    if want is None:
        raise ApiError(400, "invalid_parameters", f"unknown status filter {value!r}")
    return want


def settlement_json(st: KalshiSettlement) -> dict[str, Any]:
    """One GET /portfolio/settlements item (KD api-reference/portfolio/get-settlements.md, Settlement): counts `_fp`,
    costs `_dollars`, `revenue` and `value` in cents (integers), `fee_cost` in dollars."""
    return {"ticker": st.ticker, "event_ticker": st.event_ticker, "exchange_index": 0, "market_result": st.market_result,
            "yes_count_fp": format_size(st.yes_count), "yes_total_cost_dollars": dollars(st.yes_total_cost),
            "no_count_fp": format_size(st.no_count), "no_total_cost_dollars": dollars(st.no_total_cost),
            "revenue": st.revenue // 10_000, "settled_time": iso(st.settled_us), "fee_cost": dollars(st.fee_cost),
            "value": st.value // 100}


# --- handlers --------------------------------------------------------------------------------------


class KalshiRest:
    def __init__(self, world: SimWorld) -> None:
        self.world = world

    def routes(self) -> list[web.RouteDef]:
        """Every REST route, each behind the venue-clock check of signed requests (`max_clock_skew_s`)."""
        return [web.RouteDef(r.method, r.path, self._clock_checked(r.handler), r.kwargs) for r in self._routes()]

    def _routes(self) -> list[web.RouteDef]:
        p = C.REST_PREFIX
        return [
            web.get(f"{p}/exchange/status", self.exchange_status),
            # /series/fee_changes before /series/{ticker}, which would otherwise take "fee_changes" for a ticker
            web.get(f"{p}/series", self.series_list), web.get(f"{p}/series/fee_changes", self.series_fee_changes),
            web.get(f"{p}/series/{{ticker}}", self.series_one),
            web.get(f"{p}/events", self.events_list), web.get(f"{p}/events/{{ticker}}", self.event_one),
            web.get(f"{p}/markets", self.markets_list), web.get(f"{p}/markets/{{ticker}}", self.market_one),
            web.get(f"{p}/markets/{{ticker}}/orderbook", self.orderbook),
            web.post(f"{p}/portfolio/events/orders/batched", self.batch_create),
            web.delete(f"{p}/portfolio/events/orders/batched", self.batch_cancel),
            web.post(f"{p}/portfolio/events/orders", self.create),
            web.delete(f"{p}/portfolio/events/orders/{{order_id}}", self.cancel),
            web.post(f"{p}/portfolio/orders", self.legacy_create),
            web.get(f"{p}/portfolio/orders", self.orders_list), web.get(f"{p}/portfolio/orders/{{order_id}}", self.order_one),
            web.get(f"{p}/portfolio/positions", self.positions), web.get(f"{p}/portfolio/balance", self.balance),
            web.get(f"{p}/portfolio/fills", self.fills), web.get(f"{p}/portfolio/settlements", self.settlements),
        ]

    # faults ------------------------------------------------------------------------------------

    def _clock_checked(self, handler: Any) -> Handler:
        """401 for a signed request stamped further than max_clock_skew_s from the venue clock. The app's middleware
        (simulators/kalshi/app.py) has verified the signature by then, against the wall clock within
        `kalshi_ts_tolerance_ms`; this is the venue clock, which a fault can offset (`clock_offset_s`)."""

        async def checked(request: web.Request) -> web.StreamResponse:
            ts = request.headers.get(HEADER_TIMESTAMP)
            if ts is not None and request.get(ACCOUNT_KEY):
                try:
                    ts_ms = int(ts)
                except ValueError:
                    ts_ms = 0
                if self.world.faults[KALSHI].clock_skewed(ts_ms):
                    message = "timestamp outside the allowed window"
                    await self._log_order_refused(request, 401, message, CLOCK_SKEW)
                    raise ApiError(401, "authentication_error", message)
            response: web.StreamResponse = await handler(request)
            return response

        return checked

    async def _log_order_refused(self, request: web.Request, status: int, reason: str, fault: str) -> None:
        """An order request refused by a fault before its handler ran still belongs in the ground-truth log."""
        if request.method not in ("POST", "DELETE") or not request.path.startswith(_ORDER_WRITE_PATHS):
            return
        body = await request.read()
        try:
            parsed = json.loads(body) if body else {}
        except ValueError:
            parsed = {"raw": body.decode("utf-8", "replace")}
        w = self.world
        kind = "cancel" if request.method == "DELETE" else "legacy" if request.path == f"{C.REST_PREFIX}/portfolio/orders" else "create"
        rec = w.orderlog.new(KALSHI, kind, w.now_us(), str(request.get(ACCOUNT_KEY) or ""), parsed if isinstance(parsed, dict) else {"body": parsed})
        rec.http_status, rec.status, rec.reason, rec.fault = status, "rejected", reason, fault
        rec.client_order_id = str(rec.request.get("client_order_id") or "")
        if request.method == "DELETE":
            rec.order_id = request.match_info.get("order_id", "")

    async def _deny_401(self, request: web.Request) -> None:
        """p401 / next_401: this order request answers 401 and nothing executes."""
        if self.world.faults[KALSHI].deny_401(self.world.faults.rng):
            message = "authentication failed"
            await self._log_order_refused(request, 401, message, FAULT_401)
            raise ApiError(401, "authentication_error", message)

    async def _answer_or_lose(self, request: web.Request, recs: list[OrderRecord], answer: web.StreamResponse) -> web.StreamResponse:
        """`answer` for orders that executed, unless an accept-then fault replaces it by a 500 or loses it."""
        faults = self.world.faults
        fault = faults[KALSHI].accept_fault(faults.rng) if recs else None
        if fault is None:
            return answer
        for rec in recs:
            rec.fault = fault
            rec.http_status = 500 if fault == ACCEPT_THEN_5XX else 0
        if fault == ACCEPT_THEN_5XX:
            return web.json_response(INTERNAL_ERROR_BODY, status=500)
        await faults.hold(KALSHI, faults[KALSHI].timeout_hold_ms / 1000, lambda: client_gone(request))
        return drop_connection(request)

    def _visible(self, rec: OrderRecord) -> bool:
        return self.world.orderlog.visible(rec, self.world.now_us())

    # discovery ---------------------------------------------------------------------------------

    async def exchange_status(self, request: web.Request) -> web.Response:
        return web.json_response({"exchange_active": True, "trading_active": True})

    def _series(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for g in self.world.games.values():
            out.setdefault(g.kalshi_series, {
                "ticker": g.kalshi_series, "frequency": "custom", "title": f"{g.league.upper()} Game", "category": "Sports",
                "tags": [g.league.upper(), "Sports"], "fee_type": "quadratic", "fee_multiplier": 1,
                "settlement_sources": [{"name": "Sim", "url": "http://127.0.0.1/"}], "contract_url": "",
            })
        return out

    async def series_list(self, request: web.Request) -> web.Response:
        series = list(self._series().values())
        if cat := request.query.get("category"):
            series = [s for s in series if s["category"].lower() == cat.lower()]
        if tags := request.query.get("tags"):
            want = {t.strip().lower() for t in tags.split(",")}
            series = [s for s in series if want & {t.lower() for t in s["tags"]}]
        return web.json_response({"series": series})

    async def series_one(self, request: web.Request) -> web.Response:
        s = self._series().get(request.match_info["ticker"])
        if s is None:
            raise ApiError(404, "not_found", "series not found")
        return web.json_response({"series": s})

    async def series_fee_changes(self, request: web.Request) -> web.Response:
        """`GET /series/fee_changes` (docs api-reference/exchange/get-series-fee-changes: optional `series_ticker`,
        `show_historical`; answer `{"series_fee_change_arr": [{id, series_ticker, fee_type, fee_multiplier,
        scheduled_ts}]}`). No simulated series ever changes its fee: always empty."""
        return web.json_response({"series_fee_change_arr": []})

    def _events(self) -> list[dict[str, Any]]:
        evs: dict[str, dict[str, Any]] = {}
        for m in self.world.kalshi_markets.values():
            ev = evs.setdefault(m.event_ticker, {"event_ticker": m.event_ticker, "series_ticker": m.series_ticker, "title": m.title,
                                                 "sub_title": "", "category": "Sports", "mutually_exclusive": not m.mve,
                                                 # no event overrides its series' fee (null: the series' fee_type / multiplier)
                                                 "fee_type_override": None, "fee_multiplier_override": None,
                                                 "markets": []})
            ev["markets"].append(m)
        return list(evs.values())

    async def events_list(self, request: web.Request) -> web.Response:
        events = self._events()
        if st := request.query.get("series_ticker"):
            events = [e for e in events if e["series_ticker"] == st]
        if status := request.query.get("status"):
            # "The filter matches on child market statuses": an event is in if any of its markets matches.
            want = _status_filter(status)
            events = [e for e in events if any(m.status in want for m in e["markets"])]
        page, cursor = _page(events, request, 100, 200)
        nested = request.query.get("with_nested_markets", "false").lower() == "true"
        out = []
        for e in page:
            e = dict(e)
            ms = e.pop("markets")
            if nested:
                e["markets"] = [market_json(self.world, m) for m in ms]
            out.append(e)
        return web.json_response({"events": out, "cursor": cursor})

    async def event_one(self, request: web.Request) -> web.Response:
        ev = next((e for e in self._events() if e["event_ticker"] == request.match_info["ticker"]), None)
        if ev is None:
            raise ApiError(404, "not_found", "event not found")
        ev = dict(ev)
        markets = [market_json(self.world, m) for m in ev.pop("markets")]
        return web.json_response({"event": ev, "markets": markets})

    async def markets_list(self, request: web.Request) -> web.Response:
        q = request.query
        markets = list(self.world.kalshi_markets.values())
        if v := q.get("series_ticker"):
            markets = [m for m in markets if m.series_ticker == v]
        if v := q.get("event_ticker"):
            want = set(v.split(","))
            markets = [m for m in markets if m.event_ticker in want]
        if v := q.get("tickers"):
            want = set(v.split(","))
            markets = [m for m in markets if m.ticker in want]
        if v := q.get("status"):
            statuses = _status_filter(v)
            markets = [m for m in markets if m.status in statuses]
        mve = q.get("mve_filter")
        if mve == "exclude":
            markets = [m for m in markets if not m.mve]
        elif mve == "only":
            markets = [m for m in markets if m.mve]
        elif mve:
            raise ApiError(400, "invalid_parameters", "mve_filter must be 'only' or 'exclude'")
        page, cursor = _page(markets, request, 100, 1000)
        return web.json_response({"markets": [market_json(self.world, m) for m in page], "cursor": cursor})

    def _market(self, ticker: str) -> KalshiMarket:
        m = self.world.kalshi_markets.get(ticker)
        if m is None:
            raise ApiError(404, "market_not_found", f"market {ticker} not found")
        return m

    async def market_one(self, request: web.Request) -> web.Response:
        return web.json_response({"market": market_json(self.world, self._market(request.match_info["ticker"]))})

    async def orderbook(self, request: web.Request) -> web.Response:
        ticker = request.match_info["ticker"]
        self._market(ticker)
        if ticker not in self.world.kalshi_books:
            return web.json_response({"orderbook_fp": {"yes_dollars": [], "no_dollars": []}})
        depth = int(request.query.get("depth", "0") or 0)
        yes, no = levels_yes_no(self.world, ticker, use_yes_price=False, depth=depth)
        return web.json_response({"orderbook_fp": {"yes_dollars": yes, "no_dollars": no}})

    # orders ------------------------------------------------------------------------------------

    def _account(self, request: web.Request) -> str:
        account = request.get(ACCOUNT_KEY)
        if not account:
            raise ApiError(401, "authentication_error", "authentication required")
        return str(account)

    async def _json(self, request: web.Request) -> Any:
        try:
            return json.loads(await request.read())
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, "invalid_parameters", "request body is not valid JSON") from None

    def place(self, account: str, body: Any, raw: dict[str, Any]) -> tuple[OrderRecord, dict[str, Any]]:
        """Validate and execute one V2 create; logs the request whatever happens. Raises ApiError."""
        w = self.world
        rec = w.orderlog.new(KALSHI, "create", w.now_us(), account, raw)
        rec.client_order_id = str(raw.get("client_order_id") or "")
        try:
            order = self._validate(account, body)
        except ApiError as exc:
            rec.http_status, rec.reason, rec.status = exc.status, f"{exc.code}: {exc.message}", "rejected"
            raise
        ticker, side, price, size, tif, coid = order
        rec.client_order_id, rec.book_id, rec.side, rec.price, rec.size, rec.tif = coid, ticker, side.value, price, size, tif.value
        rec.accepted, rec.http_status = True, 201
        if (lag_ms := w.faults[KALSHI].lookup_lag_ms) > 0:
            rec.visible_us = rec.received_us + lag_ms * 1000
        result = w.place(KALSHI, ticker, account, side, price, size, tif, record=rec)
        ts_ms = w.now_us() // 1000
        if tif is not TimeInForce.GTC and self.world.settings.kalshi_ioc_remaining == "unfilled":
            remaining = result.remaining
        else:
            remaining = result.remaining if result.rested else 0
        out: dict[str, Any] = {"order_id": rec.order_id, "client_order_id": coid, "fill_count": format_size(result.filled),
                               "remaining_count": format_size(remaining), "ts_ms": ts_ms}
        if result.filled:
            out["average_fill_price"] = format_fixed(rec.fill_cost * 100 // result.filled, 6)
            out["average_fee_paid"] = format_fixed(rec.fees * 100 // result.filled, 6)
        return rec, out

    def _validate(self, account: str, body: Any) -> tuple[str, BookSide, int, int, TimeInForce, str]:
        if not isinstance(body, dict):
            raise ApiError(400, "invalid_parameters", "order must be a JSON object")
        missing = [k for k in ("ticker", "side", "count", "price", "time_in_force", "self_trade_prevention_type") if k not in body]
        if missing:
            raise ApiError(400, "missing_parameters", f"missing required field(s): {', '.join(missing)}")
        m = self._market(str(body["ticker"]))
        if m.ticker not in self.world.kalshi_books or m.status != "active":
            # KD getting_started/market_lifecycle.md: after close "all order operations ... are rejected with MARKET_INACTIVE"
            raise ApiError(400, "market_inactive", f"market {m.ticker} is not open for trading")
        if body["side"] not in C.BOOK_SIDES:
            raise ApiError(400, "invalid_parameters", "side must be 'bid' or 'ask'")
        tif_name = body["time_in_force"]
        if tif_name not in _TIF:
            raise ApiError(400, "invalid_parameters", f"time_in_force must be one of {', '.join(C.TIME_IN_FORCE)}")
        if body["self_trade_prevention_type"] not in C.SELF_TRADE_PREVENTION:
            raise ApiError(400, "invalid_parameters", "self_trade_prevention_type must be taker_at_cross or maker")
        if body.get("expiration_time") is not None and tif_name != "good_till_canceled":
            raise ApiError(400, "invalid_parameters", f"expiration_time is not allowed with {tif_name}")
        try:
            price = parse_price(str(body["price"]))
            size = parse_size(str(body["count"]))
        except UnitError as exc:
            raise ApiError(400, "invalid_parameters", f"bad price or count: {exc}") from None
        if size <= 0 or size % 100:
            raise ApiError(400, "invalid_parameters", "count must be a positive whole number of contracts")
        if not 0 < price < ONE_DOLLAR or price % m.tick:
            raise ApiError(400, "invalid_price", f"price must be inside (0, 1) on the market's tick {format_price(m.tick)}")
        coid = body.get("client_order_id") or ""
        if not isinstance(coid, str) or len(coid) > C.CLIENT_ORDER_ID_MAX or not _COID_RE.match(coid):
            raise ApiError(400, "invalid_parameters", "client_order_id must be at most 64 chars of [-\\w:+=/]")
        log = self.world.orderlog
        if coid and (log.coid_open(KALSHI, account, coid) or
                     (self.world.settings.kalshi_duplicate_coid == "always" and log.coid_seen(KALSHI, account, coid))):
            raise ApiError(409, "order_already_exists", "an order with this client_order_id already exists")
        side = BookSide.BUY if body["side"] == "bid" else BookSide.SELL
        acct = self.world.kalshi_account(account)
        if not acct.unlimited and acct.opening_cost(m.ticker, side, price, size) > acct.balance:
            raise ApiError(400, "insufficient_balance", "insufficient balance for this order")
        return m.ticker, side, price, size, _TIF[tif_name], coid

    async def create(self, request: web.Request) -> web.StreamResponse:
        account = self._account(request)
        await self._deny_401(request)
        try:
            body = await self._json(request)
        except ApiError as exc:
            raw = (await request.read()).decode("utf-8", "replace")
            rec = self.world.orderlog.new(KALSHI, "create", self.world.now_us(), account, {"raw": raw})
            rec.http_status, rec.status, rec.reason = exc.status, "rejected", exc.message
            raise
        rec, out = self.place(account, body, body if isinstance(body, dict) else {"body": body})
        return await self._answer_or_lose(request, [rec], web.json_response(out, status=201))

    async def batch_create(self, request: web.Request) -> web.StreamResponse:
        account = self._account(request)
        await self._deny_401(request)
        body = await self._json(request)
        orders = body.get("orders") if isinstance(body, dict) else None
        if not isinstance(orders, list) or not orders:
            raise ApiError(400, "invalid_parameters", "orders must be a non-empty list")
        if len(orders) > MAX_BATCH:
            raise ApiError(400, "invalid_parameters", f"at most {MAX_BATCH} orders per batch")
        charge = request.app.get(CHARGE_KEY)
        if charge is not None and not charge(request, True, C.CALL_COST * len(orders)):
            return web.json_response(C.RATE_LIMIT_BODY, status=429)
        results = []
        accepted: list[OrderRecord] = []
        for item in orders:
            try:
                rec, out = self.place(account, item, item if isinstance(item, dict) else {"body": item})
                accepted.append(rec)
                out["error"] = None
            except ApiError as exc:
                coid = item.get("client_order_id") if isinstance(item, dict) else None
                out = {"order_id": None, "client_order_id": coid, "error": {"code": exc.code, "message": exc.message, "details": exc.details}}
            results.append(out)
        return await self._answer_or_lose(request, accepted, web.json_response({"orders": results}, status=201))

    def cancel_one(self, account: str, order_id: str) -> dict[str, Any]:
        w = self.world
        rec_log = w.orderlog.new(KALSHI, "cancel", w.now_us(), account, {"order_id": order_id})
        rec = w.orderlog.by_order_id.get(order_id)
        if rec is None or rec.account != account or rec.venue != KALSHI:
            rec_log.http_status, rec_log.status, rec_log.reason = 404, "rejected", "not_found"
            raise ApiError(404, "not_found", "order not found")
        m = w.kalshi_markets.get(rec.book_id)
        if m is not None and m.status != "active":  # cancellations too are refused once the market closed
            rec_log.http_status, rec_log.status, rec_log.reason = 400, "rejected", "market_inactive"
            raise ApiError(400, "market_inactive", f"market {m.ticker} is not open for trading")
        reduced = w.cancel(KALSHI, rec.book_id, order_id)
        rec_log.order_id, rec_log.client_order_id, rec_log.book_id = order_id, rec.client_order_id, rec.book_id
        rec_log.accepted, rec_log.http_status, rec_log.size = True, 200, reduced
        rec_log.status = "canceled" if reduced else "noop"
        return {"order_id": order_id, "client_order_id": rec.client_order_id, "reduced_by": format_size(reduced),
                "reduced_by_fp": format_size(reduced), "ts_ms": w.now_us() // 1000}

    async def cancel(self, request: web.Request) -> web.Response:
        return web.json_response(self.cancel_one(self._account(request), request.match_info["order_id"]))

    async def batch_cancel(self, request: web.Request) -> web.Response:
        account = self._account(request)
        body = await self._json(request)
        items = body.get("orders") if isinstance(body, dict) else None
        if items is None and isinstance(body, dict):
            items = [{"order_id": i} for i in body.get("ids") or []]
        if not isinstance(items, list) or not items:
            raise ApiError(400, "invalid_parameters", "orders must be a non-empty list")
        charge = request.app.get(CHARGE_KEY)
        if charge is not None and not charge(request, True, C.BATCH_CANCEL_ITEM_COST * len(items)):
            return web.json_response(C.RATE_LIMIT_BODY, status=429)
        out = []
        for item in items:
            oid = str(item.get("order_id", "")) if isinstance(item, dict) else str(item)
            try:
                res = self.cancel_one(account, oid)
                res["error"] = None
            except ApiError as exc:
                res = {"order_id": oid, "reduced_by": "0.00", "error": {"code": exc.code, "message": exc.message}}
            out.append(res)
        return web.json_response({"orders": out})

    async def legacy_create(self, request: web.Request) -> web.Response:
        account = self._account(request)
        raw = await request.read()
        rec = self.world.orderlog.new(KALSHI, "legacy", self.world.now_us(), account, {"raw": raw.decode("utf-8", "replace")})
        rec.http_status, rec.status, rec.reason = 400, "rejected", "legacy endpoint"
        raise ApiError(400, "endpoint_deprecated", "Order creation on this endpoint has been disabled: "
                       "use the V2 endpoint POST /trade-api/v2/portfolio/events/orders")

    def _my_orders(self, account: str) -> list[OrderRecord]:
        return [r for r in self.world.orderlog.records if r.venue == KALSHI and r.kind == "create" and r.accepted and r.account == account]

    async def orders_list(self, request: web.Request) -> web.Response:
        account = self._account(request)
        q = request.query
        orders = [r for r in self._my_orders(account) if self._visible(r)]  # lookup_lag_ms: not there yet
        if v := q.get("ticker"):
            orders = [r for r in orders if r.book_id == v]
        if v := q.get("event_ticker"):
            want = set(v.split(","))
            orders = [r for r in orders if (m := self.world.kalshi_markets.get(r.book_id)) is not None and m.event_ticker in want]
        if v := q.get("status"):
            if v not in C.ORDER_STATUSES:
                raise ApiError(400, "invalid_parameters", f"status must be one of {', '.join(C.ORDER_STATUSES)}")
            orders = [r for r in orders if r.status == v]
        try:
            if v := q.get("min_ts"):
                orders = [r for r in orders if r.received_us >= int(v) * 1_000_000]
            if v := q.get("max_ts"):
                orders = [r for r in orders if r.received_us <= int(v) * 1_000_000]
        except ValueError:
            raise ApiError(400, "invalid_parameters", "min_ts/max_ts are Unix seconds") from None
        orders.reverse()  # newest first
        page, cursor = _page(orders, request, 100, 1000)
        return web.json_response({"orders": [order_json(r, self.world) for r in page], "cursor": cursor})

    async def order_one(self, request: web.Request) -> web.Response:
        account = self._account(request)
        rec = self.world.orderlog.by_order_id.get(request.match_info["order_id"])
        if rec is None or rec.account != account or rec.venue != KALSHI or not self._visible(rec):
            raise ApiError(404, "not_found", "order not found")
        return web.json_response({"order": order_json(rec, self.world)})

    async def fills(self, request: web.Request) -> web.Response:
        account = self._account(request)
        fills: list[dict[str, Any]] = []
        for r in self._my_orders(account):
            if ((v := request.query.get("ticker")) and r.book_id != v) or not self._visible(r):
                continue
            for f in r.fills:
                fills.append({"trade_id": f.trade_id, "fill_id": f.trade_id, "order_id": r.order_id, "client_order_id": r.client_order_id,
                              "ticker": r.book_id, "market_ticker": r.book_id, "is_taker": f.is_taker, "side": "yes",
                              "action": "buy" if r.side == BookSide.BUY else "sell", "count_fp": format_size(f.size),
                              "yes_price_dollars": format_price(f.price), "no_price_dollars": format_price(ONE_DOLLAR - f.price),
                              "fee_cost": dollars(f.fee), "created_time": iso(f.ts_us), "ts": f.ts_us // 1_000_000})
        fills.sort(key=lambda f: str(f["created_time"]), reverse=True)
        page, cursor = _page(fills, request, 100, 1000)
        return web.json_response({"fills": page, "cursor": cursor})

    async def positions(self, request: web.Request) -> web.Response:
        account = self._account(request)
        acct = self.world.kalshi_account(account)
        mps = []
        events: dict[str, dict[str, int]] = {}
        for ticker, pos in sorted(acct.positions.items()):
            if (v := request.query.get("ticker")) and ticker != v:
                continue
            m = self.world.kalshi_markets.get(ticker)
            resting = sum(r.remaining for r in self._my_orders(account) if r.book_id == ticker and r.status == "resting")
            mps.append({"ticker": ticker, "position_fp": format_size(pos.qty), "market_exposure_dollars": dollars(pos.cost),
                        "realized_pnl_dollars": dollars(pos.realized), "fees_paid_dollars": dollars(pos.fees),
                        "total_traded_dollars": dollars(pos.traded), "resting_orders_count": resting // 100,
                        "last_updated_ts": iso(pos.last_update_us)})
            if m is not None:
                ev = events.setdefault(m.event_ticker, {"cost": 0, "shares": 0, "realized": 0, "fees": 0})
                ev["cost"] += pos.traded
                ev["shares"] += abs(pos.qty)
                ev["realized"] += pos.realized
                ev["fees"] += pos.fees
        page, cursor = _page(mps, request, 100, 1000)
        eps = [{"event_ticker": e, "total_cost_dollars": dollars(v["cost"]), "total_cost_shares_fp": format_size(v["shares"]),
                "event_exposure_dollars": dollars(v["cost"]), "realized_pnl_dollars": dollars(v["realized"]),
                "fees_paid_dollars": dollars(v["fees"])} for e, v in sorted(events.items())]
        return web.json_response({"market_positions": page, "event_positions": eps, "cursor": cursor})

    async def balance(self, request: web.Request) -> web.Response:
        acct = self.world.kalshi_account(self._account(request))
        exposure = sum(p.cost for p in acct.positions.values())
        # The dollars strings, and (unlike other endpoints) the documented integer cents too: Kalshi's get-balance.md
        # (ammario/kalshi-docs api-reference/portfolio/get-balance.md: `balance`, `portfolio_value` in cents, required)
        # and a live answer of 2026-08-25 (venues/kalshi/rest.py `kalshi_balance`) carry both; cents are floored.
        return web.json_response({"balance_dollars": dollars(acct.balance), "portfolio_value_dollars": dollars(exposure),
                                  "balance": acct.balance // 10_000, "portfolio_value": exposure // 10_000,
                                  "updated_ts": self.world.now_us() // 1_000_000})

    async def settlements(self, request: web.Request) -> web.Response:
        """`GET /portfolio/settlements` (KD api-reference/portfolio/get-settlements.md): the member's settlements,
        newest first, filtered by `ticker`, `event_ticker`, `min_ts` / `max_ts` (Unix seconds, on settled_time)."""
        account = self._account(request)
        q = request.query
        items = list(reversed(self.world.life.settlements.get(account, [])))
        if v := q.get("ticker"):
            items = [st for st in items if st.ticker == v]
        if v := q.get("event_ticker"):
            items = [st for st in items if st.event_ticker == v]
        try:
            if v := q.get("min_ts"):
                items = [st for st in items if st.settled_us >= int(v) * 1_000_000]
            if v := q.get("max_ts"):
                items = [st for st in items if st.settled_us <= int(v) * 1_000_000]
        except ValueError:
            raise ApiError(400, "invalid_parameters", "min_ts/max_ts are Unix seconds") from None
        page, cursor = _page(items, request, 100, 1000)
        return web.json_response({"settlements": [settlement_json(st) for st in page], "cursor": cursor})
