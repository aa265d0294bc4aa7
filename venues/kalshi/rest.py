"""Async Kalshi REST client (Trade API v2): V2 orders, order lookup, discovery endpoints, portfolio.

Every request is RSA-PSS signed (venues/kalshi/auth.py). Failures map to venues.errors so the executor
can tell "not accepted" (429) from "unknown" (timeout) from "refused". Client-side token buckets keep us
under the venue's limits (each call costs 10 tokens, read and write buckets separate: K7).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from urllib.parse import urlparse

import httpx
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from core.ratelimit import TokenBucket
from core.units import PRICE_SCALE, format_price, format_size, parse_fixed, parse_money, parse_size
from venues import errors, http
from venues.http import JsonObject, Params, json_text
from venues.kalshi import auth
from venues.kalshi.constants import CALL_COST
from venues.kalshi.messages import OrderbookSnapshot
from venues.kalshi.parse import ParseError, parse_message

VENUE = "KALSHI"


@dataclass(frozen=True)
class OrderAck:
    """A V2 create-order answer, in integer units on the side of the instrument we asked for."""

    order_id: str
    client_order_id: str
    filled: int  # 1e-2 contracts
    remaining: int  # 1e-2 contracts
    fill_cost: int  # 1e-6 USD, on the instrument's own price scale (NO cost for a NO buy)
    fee: int  # 1e-6 USD
    ts_ms: int


@dataclass(frozen=True, slots=True)
class KalshiOrder:
    """An Order object of `GET /portfolio/orders`: the fields the executor reads, each the venue's text (a JSON
    number as its str(), which is how every amount here is parsed), None when absent or null."""

    order_id: str | None
    client_order_id: str | None
    status: str | None
    fill_count: str | None  # `fill_count_fp` when the record has that key, else the legacy `fill_count`
    book_side: str | None  # None when absent or empty: the record states its direction in `outcome_side` then
    outcome_side: str | None
    yes_price_dollars: str | None  # the order's limit on the YES scale
    taker_fill_cost_dollars: str | None
    maker_fill_cost_dollars: str | None
    taker_fees_dollars: str | None
    maker_fees_dollars: str | None


@dataclass(frozen=True, slots=True)
class KalshiFill:
    """A fill of `GET /portfolio/fills`, its fields as KalshiOrder's."""

    order_id: str | None
    count_fp: str | None
    yes_price_dollars: str | None


def parse_order(obj: Mapping[str, object]) -> KalshiOrder:
    """One Order object of the venue's JSON."""

    def text(key: str) -> str | None:
        return json_text(obj.get(key))

    return KalshiOrder(order_id=text("order_id"), client_order_id=text("client_order_id"), status=text("status"),
                       fill_count=json_text(obj["fill_count_fp"]) if "fill_count_fp" in obj else text("fill_count"),
                       book_side=json_text(obj.get("book_side") or None), outcome_side=text("outcome_side"),
                       yes_price_dollars=text("yes_price_dollars"), taker_fill_cost_dollars=text("taker_fill_cost_dollars"),
                       maker_fill_cost_dollars=text("maker_fill_cost_dollars"), taker_fees_dollars=text("taker_fees_dollars"),
                       maker_fees_dollars=text("maker_fees_dollars"))


def parse_fill(obj: Mapping[str, object]) -> KalshiFill:
    """One fill of the venue's JSON."""
    return KalshiFill(order_id=json_text(obj.get("order_id")), count_fp=json_text(obj.get("count_fp")),
                      yes_price_dollars=json_text(obj.get("yes_price_dollars")))


def v2_order_side(side: str, action: str, price: int) -> tuple[str, int]:
    """Our (YES|NO, BUY|SELL, instrument price) -> Kalshi V2 (book side, YES price).

    V2 books are YES books: `bid` buys YES, `ask` sells YES. Buying NO at q is selling YES at 1 - q;
    selling NO at q is buying YES at 1 - q.
    """
    if side == "YES":
        return ("bid" if action == "BUY" else "ask"), price
    return ("ask" if action == "BUY" else "bid"), PRICE_SCALE - price


def _money(text: object) -> int:
    """A dollar amount with up to 6 dp (averages can be finer than the 1e-4 price grid) -> 1e-6 USD."""
    if not text:
        return 0
    return parse_fixed(str(text), 6, signed=True)


def _count(body: Mapping[str, object], name: str) -> int | None:
    """A count field in 1e-2 contracts: `{name}_fp` (fixed-point string) or the legacy `{name}`; None if absent."""
    for key in (f"{name}_fp", name):
        value = body.get(key)
        if value not in (None, ""):
            try:
                return parse_size(str(value))
            except ValueError:
                return None
    return None


def parse_order_ack(body: object, side: str, count: int | None = None) -> OrderAck:
    """A create-order answer. An answer that is incomplete or does not add up is not "nothing filled": it
    raises errors.Unknown, and the executor looks the order up (design table "Ambiguous venue answers").
    `count`: the size we asked for, to check filled + remaining against (IOC `remaining_count` may be the
    size left before or after the cancellation, venue-protocols K: both are accepted)."""
    if not isinstance(body, dict):
        raise errors.Unknown(VENUE, f"create-order answer is not an object ({type(body).__name__}): looking it up")
    filled = _count(body, "fill_count")
    remaining = _count(body, "remaining_count")
    problems = []
    if not body.get("order_id"):
        problems.append("no order_id")
    if filled is None:
        problems.append("no readable fill_count")
    if remaining is None:
        problems.append("no readable remaining_count")
    if filled is not None and remaining is not None and count is not None and (filled > count or remaining not in (0, count - filled)):
        problems.append(f"fill {filled} + remaining {remaining} do not add up to the order's {count}")
    if filled and not body.get("average_fill_price"):
        problems.append("filled without average_fill_price")
    if problems or filled is None or remaining is None:
        raise errors.Unknown(VENUE, f"incomplete create-order answer ({'; '.join(problems)}): looking it up")
    try:
        avg_yes = _money(body.get("average_fill_price"))  # YES-scale average, per contract
        fee = _money(body.get("average_fee_paid")) * filled // 100
        ts_ms = int(body.get("ts_ms") or 0)
    except (ValueError, TypeError, OverflowError) as exc:
        raise errors.Unknown(VENUE, f"create-order answer with an unreadable amount ({exc}): looking it up") from None
    avg = avg_yes if side == "YES" or not avg_yes else 1_000_000 - avg_yes
    return OrderAck(
        order_id=str(body["order_id"]),
        client_order_id=str(body.get("client_order_id", "")),
        filled=filled,
        remaining=remaining,
        fill_cost=avg * filled // 100,
        fee=fee,
        ts_ms=ts_ms,
    )


def refusal(what: str, resp: httpx.Response) -> errors.VenueError:
    """The error of a Kalshi error answer (an http.Refusal): `code` and `message` from the body when it has them."""
    status = resp.status_code
    body = http.json_body(resp)
    code = str(body.get("code", "")) if isinstance(body, dict) else ""
    message = (body.get("message") or body.get("error") or resp.reason_phrase) if isinstance(body, dict) else resp.reason_phrase
    what = f"{what}: HTTP {status} {message}"
    if status == 429:  # no Retry-After at Kalshi (K7); the body shape varies: don't depend on it
        return errors.RateLimited(VENUE, what)
    if status == 409:
        return errors.Duplicate(VENUE, what, status=status, code=code)
    return http.refused(VENUE, what, status, code=code)


class KalshiRest:
    def __init__(self, base_url: str, key_id: str, private_key: RSAPrivateKey | None, *, timeout_s: float = 5.0,
                 read_bucket: TokenBucket | None = None, write_bucket: TokenBucket | None = None,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._base_path = urlparse(self.base_url).path
        self.key_id = key_id
        self._key = private_key
        self.read_bucket = read_bucket
        self.write_bucket = write_bucket
        self._client = httpx.AsyncClient(
            base_url=self.base_url, timeout=timeout_s, transport=transport,
            limits=httpx.Limits(max_keepalive_connections=20, keepalive_expiry=60),
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _request(self, method: str, path: str, *, params: Params | None = None,
                       json_body: object = None, write: bool = False, deadline_s: float | None = None) -> object:
        bucket = self.write_bucket if write else self.read_bucket
        if bucket is not None and not await bucket.take(CALL_COST, deadline_s):
            raise errors.RateLimited(VENUE, "client-side rate limit: no budget before the deadline", status=None)
        # Market data is public: without a key (discovery-only deployments) requests go unsigned.
        headers = auth.auth_headers(self.key_id, self._key, method, self._base_path + path) if self._key is not None else {}
        return await http.request(self._client, VENUE, method, path, refusal, params=params, json=json_body, headers=headers)

    # --- orders -------------------------------------------------------------------------------------

    async def create_order(self, *, ticker: str, side: str, action: str, price: int, count: int, client_order_id: str,
                           time_in_force: str = "immediate_or_cancel", deadline_s: float | None = None) -> OrderAck:
        book_side, yes_price = v2_order_side(side, action, price)
        body = {
            "ticker": ticker, "client_order_id": client_order_id, "side": book_side, "count": format_size(count),
            "price": format_price(yes_price), "time_in_force": time_in_force, "self_trade_prevention_type": "taker_at_cross",
            "post_only": False, "reduce_only": False, "cancel_order_on_pause": False,
        }
        data = await self._request("POST", "/portfolio/events/orders", json_body=body, write=True, deadline_s=deadline_s)
        return parse_order_ack(data, side, count)

    async def cancel_order(self, order_id: str, market_ticker: str, *, subaccount: int | None = None,
                           exchange_index: int | None = None) -> object:
        """V2 cancel: `DELETE /portfolio/events/orders/{id}?market_ticker=` (KD:api-reference/orders/cancel-order-v2.md).
        The market routes the cancel to the shard that holds the order (without it, shard 0); the query is not signed."""
        if not market_ticker:
            raise ValueError("cancel_order needs the order's market_ticker (it routes the cancel to the order's shard)")
        params: dict[str, str | int] = {"market_ticker": market_ticker}
        if subaccount is not None:
            params["subaccount"] = subaccount
        if exchange_index is not None:
            params["exchange_index"] = exchange_index
        return await self._request("DELETE", f"/portfolio/events/orders/{order_id}", params=params, write=True)

    async def get_order(self, order_id: str) -> KalshiOrder:
        what = f"GET /portfolio/orders/{order_id}"
        data = http.json_object(await self._request("GET", f"/portfolio/orders/{order_id}"), VENUE, what)
        return parse_order(http.json_object(data.get("order", data), VENUE, what))

    async def find_order(self, ticker: str, client_order_id: str, min_ts_s: int) -> KalshiOrder | None:
        """Kalshi has no lookup by client_order_id: list the ticker's orders since min_ts and match it."""
        async for order in self.paged("/portfolio/orders", "orders", {"ticker": ticker, "min_ts": min_ts_s, "limit": 200}):
            if order.get("client_order_id") == client_order_id:
                return parse_order(order)
        return None

    async def order_fills(self, ticker: str, order_id: str) -> list[KalshiFill]:
        """The order's fills (`GET /portfolio/fills?order_id=`; filtered here too, whatever the server filters)."""
        return [parse_fill(f) async for f in self.paged("/portfolio/fills", "fills", {"ticker": ticker, "order_id": order_id, "limit": 200})
                if f.get("order_id") == order_id]

    # --- discovery and portfolio -------------------------------------------------------------------

    async def get(self, path: str, params: Params | None = None) -> object:
        """A signed, rate-limited GET of any read endpoint (discovery uses it for /series)."""
        return await self._request("GET", path, params=params)

    async def paged(self, path: str, items_key: str, params: Params) -> AsyncIterator[JsonObject]:
        """Cursor paging: repeat until the cursor comes back empty or null. A page that is not an object, or whose
        items are not a list of objects, raises errors.Unknown."""
        cursor: str | None = None
        while True:
            q = dict(params)
            if cursor:
                q["cursor"] = cursor
            data = http.json_object(await self._request("GET", path, params=q), VENUE, f"GET {path}")
            items = data.get(items_key) or []
            if not isinstance(items, list):
                raise errors.Unknown(VENUE, f"GET {path}: {items_key} is not a list: {str(items)[:200]!r}")
            for item in items:
                yield http.json_object(item, VENUE, f"GET {path}: one of {items_key}")
            raw = data.get("cursor")
            cursor = str(raw) if raw else None
            if not cursor:
                return

    async def get_orderbook(self, ticker: str) -> OrderbookSnapshot:
        """`GET /markets/{ticker}/orderbook` with every level (`depth` 0: all levels, KD
        api-reference/market/get-market-orderbook.md). The answer has the WS snapshot's shape (YES bids and NO
        bids, `[price, count]` strings, best last; NO bids at NO-leg prices: `use_yes_price` is a WS option), so
        it is read by the WS parser with the same bounds: an OrderbookSnapshot with sid and seq 0."""
        data = await self._request("GET", f"/markets/{ticker}/orderbook", params={"depth": 0})
        book = data.get("orderbook_fp") if isinstance(data, dict) else None
        if not isinstance(book, dict):
            raise errors.Unknown(VENUE, f"GET /markets/{ticker}/orderbook: no orderbook_fp in {str(data)[:200]!r}")
        try:
            msg = parse_message({"type": "orderbook_snapshot", "sid": 0, "seq": 0, "msg": {
                "market_ticker": ticker, "yes_dollars_fp": book.get("yes_dollars"), "no_dollars_fp": book.get("no_dollars")}})
            if not isinstance(msg, OrderbookSnapshot):
                raise ParseError(f"not an order book: {type(msg).__name__}")
        except ParseError as exc:
            raise errors.Unknown(VENUE, f"GET /markets/{ticker}/orderbook: {exc}") from None
        return msg

    async def get_balance(self) -> object:
        """The `GET /portfolio/balance` answer, read by kalshi_balance."""
        return await self._request("GET", "/portfolio/balance")

    async def positions(self) -> AsyncIterator[JsonObject]:
        async for p in self.paged("/portfolio/positions", "market_positions", {"limit": 200}):
            yield p


def tier_buckets(tier_name: str) -> tuple[TokenBucket | None, TokenBucket | None]:
    """Client-side (read, write) token buckets for a Kalshi tier, from the venue's published budgets."""
    from venues.kalshi.constants import TIERS

    if tier_name == "unlimited":
        return None, None
    tier = TIERS.get(tier_name)
    if tier is None:
        raise ValueError(f"unknown Kalshi tier {tier_name!r}; known: {', '.join(TIERS)}, unlimited")
    return TokenBucket(tier.read_per_s, tier.read_per_s), TokenBucket(tier.write_per_s, tier.write_per_s * tier.write_burst_s)


def kalshi_balance(body: object) -> int:
    """Available cash in 1e-6 USD from `GET /portfolio/balance`. `balance_dollars` (fixed-point dollars) first; the
    older `balance` in cents (docs.kalshi.com/python-sdk/models/GetBalanceResponse) otherwise. A live answer
    recorded 2026-08-25 carries both: {"balance": 31647, "balance_dollars": "316.4766", ...}: the cents are floored."""
    if isinstance(body, dict) and isinstance(body.get("balance_dollars"), str):
        return parse_money(body["balance_dollars"], signed=True)
    if isinstance(body, dict) and isinstance(body.get("balance"), int) and not isinstance(body["balance"], bool):
        return int(body["balance"]) * 10_000
    raise ValueError(f"no balance in the answer: {str(body)[:200]!r}")
