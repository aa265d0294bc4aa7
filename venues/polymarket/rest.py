"""Polymarket REST clients (async httpx, warm connection pool): the CLOB for the executor, the Data API
for reconciliation.

Every private CLOB call carries L2 headers: an HMAC over timestamp + method + path + the exact body bytes
sent, so the body is serialised once, compactly, and those bytes are both signed and sent.

Positions are not on the CLOB host: they come from the public Data API (data-api.polymarket.com,
`GET /positions?user=`; docs /developers/open-api/get-positions.json): `sizeThreshold` defaults to 1.0
(0 shows every position), `limit` is 0-500 (default 100), `offset` 0-10000, and the answer is a JSON
array of positions (`asset`, `conditionId`, `size` as JSON numbers, ...). NautilusTrader's recorded
payload (tests/resources/polymarket/data_api_positions_response.json) wraps the rows in
`{"data": [...], "pagination": {...}}` with snake_case fields; both shapes are read.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from core.backoff import retry_after_seconds
from venues import errors, http
from venues.http import JsonObject, Params, json_text
from venues.polymarket.auth import ApiCreds, l2_headers
from venues.polymarket.messages import BookEvent
from venues.polymarket.parse import ParseError, parse_event

VENUE = "POLYMARKET"
ACCEPTED_STATUSES = ("matched", "live", "delayed")  # POST /order statuses of an order the venue took
POSITIONS_PAGE = 500  # the Data API's largest `limit` for GET /positions
POSITIONS_MAX_OFFSET = 10_000  # its largest `offset`: positions beyond it cannot be read


@dataclass(frozen=True, slots=True)
class OrderAnswer:
    """A POST /order answer that post_order did not read as a refusal: the fields the executor reads, each the
    venue's text (a JSON number as its str()), None when absent or null."""

    order_id: str | None  # `orderID`; None when absent or empty too
    status: str  # "" when absent
    making_amount: str | None  # `makingAmount`: 6-dp amount given (pUSD for a BUY, shares for a SELL)
    taking_amount: str | None  # `takingAmount`: 6-dp amount received


@dataclass(frozen=True, slots=True)
class OpenOrder:
    """A `GET /data/order/{hash}` answer: the fields the executor reads, as OrderAnswer's."""

    status: str  # "" when absent
    size_matched: str | None  # 6-dp shares
    price: str | None  # None when absent, empty or 0: the fill is then costed at the order's own limit


def order_answer(data: Mapping[str, object]) -> OrderAnswer:
    order_id = data.get("orderID")
    return OrderAnswer(order_id=str(order_id) if order_id else None, status=str(data.get("status", "")),
                       making_amount=json_text(data.get("makingAmount")), taking_amount=json_text(data.get("takingAmount")))


def open_order(data: Mapping[str, object]) -> OpenOrder:
    price = data.get("price")
    return OpenOrder(status=str(data.get("status", "")), size_matched=json_text(data.get("size_matched")), price=str(price) if price else None)


def compact(body: object) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def refusal(what: str, resp: httpx.Response) -> errors.VenueError:
    """The error of an error answer of any Polymarket host (an http.Refusal): the message from `error` / `errorMsg`,
    its prefix as the code."""
    status = resp.status_code
    body = http.json_body(resp)
    message = str(body.get("error") or body.get("errorMsg") or resp.reason_phrase) if isinstance(body, dict) else resp.reason_phrase
    what = f"{what}: HTTP {status} {message}"
    if status == 429 or (status == 503 and "retry-after" in resp.headers):
        # 503 + Retry-After: cancel-only / post-only mode; the order was not accepted (P4).
        return errors.RateLimited(VENUE, what, retry_after_s=retry_after_seconds(resp.headers), status=status)
    if "INVALID_ORDER_DUPLICATED" in message:
        return errors.Duplicate(VENUE, what, status=status, code="INVALID_ORDER_DUPLICATED")
    return http.refused(VENUE, what, status, code=message.split(":")[0][:64])


class PolymarketRest:
    def __init__(self, base_url: str, address: str, creds: ApiCreds, *, timeout_s: float = 5.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.address = address
        self.creds = creds
        self._client = httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=timeout_s, transport=transport,
                                         limits=httpx.Limits(max_keepalive_connections=20, keepalive_expiry=60))

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _request(self, method: str, path: str, *, body: object = None, params: Params | None = None) -> object:
        raw = compact(body) if body is not None else b""
        headers = l2_headers(self.address, self.creds, method, path, raw, int(time.time()))
        if raw:
            headers["Content-Type"] = "application/json"
        return await http.request(self._client, VENUE, method, path, refusal, content=raw or None, params=params, headers=headers)

    async def post_order(self, body: Mapping[str, object]) -> OrderAnswer:
        data = await self._request("POST", "/order", body=body)
        if not isinstance(data, dict):
            raise errors.Unknown(VENUE, f"POST /order: not an order answer: {str(data)[:200]!r}")  # the executor looks it up
        # A refusal can come as HTTP 200 with success:true and the reason in errorMsg (rs-clob-client#114),
        # so a non-empty errorMsg is a refusal whatever `success` says ("" and null are not). The one
        # exception: an answer that names the order and says it was accepted (the docs allow an errorMsg
        # for a delayed placement): its status decides, and a delayed order is followed up by lookup.
        msg = str(data.get("errorMsg") or "")
        accepted = bool(data.get("orderID")) and str(data.get("status") or "").lower() in ACCEPTED_STATUSES
        if (msg or data.get("success") is False) and not accepted:
            msg = msg or "order not accepted"
            if "INVALID_ORDER_DUPLICATED" in msg:
                raise errors.Duplicate(VENUE, f"POST /order: {msg}", status=200, code="INVALID_ORDER_DUPLICATED")
            raise errors.Rejected(VENUE, f"POST /order: {msg}", status=200, code=msg.split(":")[0][:64])
        return order_answer(data)

    async def get_order(self, order_id: str) -> OpenOrder | None:
        """The order, or None when the venue has no such order (404, or an empty answer)."""
        try:
            data = await self._request("GET", f"/data/order/{order_id}")
        except errors.Rejected as exc:
            if exc.status == 404:
                return None
            raise
        if not data:
            return None
        order = http.json_object(data, VENUE, f"GET /data/order/{order_id}")
        return open_order(order) if order else None

    async def cancel(self, order_id: str) -> JsonObject:
        return http.json_object(await self._request("DELETE", "/order", body={"orderID": order_id}), VENUE, "DELETE /order")

    async def get_balance_allowance(self, signature_type: int) -> JsonObject:
        """The funder's collateral: `GET /balance-allowance?asset_type=COLLATERAL&signature_type=` with L2 headers
        signed over the path alone (py_clob_client_v2 client.py `get_balance_allowance`). `balance` is a decimal
        integer string of 1e-6 pUSD; `allowances` maps exchange contracts to allowances (rs-clob-client types)."""
        data = await self._request("GET", "/balance-allowance", params={"asset_type": "COLLATERAL", "signature_type": signature_type})
        if not isinstance(data, dict):
            raise errors.Unknown(VENUE, f"GET /balance-allowance: not a balance: {str(data)[:200]!r}")
        return data



class PolymarketBookApi:
    """The CLOB host's public order book, `GET /book?token_id=` (no credentials: docs
    api-reference/market-data/get-order-book.md, `security: []`). The answer is the market channel's `book`
    event without `event_type` (market, asset_id, timestamp in ms, hash, bids, asks, tick_size, ...), so it is
    read by the WS parser with the same bounds."""

    def __init__(self, base_url: str, *, timeout_s: float = 5.0, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._client = httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=timeout_s, transport=transport,
                                         limits=httpx.Limits(max_keepalive_connections=4, keepalive_expiry=60))

    async def aclose(self) -> None:
        await self._client.aclose()

    async def get_book(self, token_id: str) -> BookEvent:
        data = await http.request(self._client, VENUE, "GET", "/book", refusal, params={"token_id": token_id})
        try:
            if not isinstance(data, dict):
                raise ParseError(f"not an order book: {str(data)[:200]!r}")
            ev = parse_event({**data, "event_type": "book"})
            if not isinstance(ev, BookEvent) or ev.asset_id != token_id:
                raise ParseError(f"the book of another token: {getattr(ev, 'asset_id', None)!r}")
        except ParseError as exc:
            raise errors.Unknown(VENUE, f"GET /book: {exc}") from None
        return ev


class PolymarketDataApi:
    """The public Data API host (no credentials are sent to it)."""

    def __init__(self, base_url: str, *, timeout_s: float = 10.0, page_size: int = POSITIONS_PAGE,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        if not 0 < page_size <= POSITIONS_PAGE:
            raise ValueError(f"page_size must be in 1..{POSITIONS_PAGE}")
        self.page_size = page_size
        self._client = httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=timeout_s, transport=transport)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def positions(self, user: str) -> list[JsonObject]:
        """Every position of `user` (the funder: proxy / safe / deposit wallet, or the EOA), all pages:
        `sizeThreshold=0` (the default 1.0 hides small positions) and `limit`/`offset` paging until an
        empty page or `has_more: false`. A short page does not end the walk (the host may cap `limit`).
        More than the host lets us page through, or an answer that cannot be read, raises: a partial
        list is never returned as the whole."""
        rows: list[JsonObject] = []
        offset = 0
        while True:
            if offset > POSITIONS_MAX_OFFSET:
                raise errors.Unknown(VENUE, f"GET /positions: more than {POSITIONS_MAX_OFFSET} positions, the Data API pages no further")
            data = await http.request(self._client, VENUE, "GET", "/positions", refusal,
                                      params={"user": user, "sizeThreshold": 0, "limit": self.page_size, "offset": offset})
            page, more = positions_page(data, offset)
            rows += page
            if not page or more is False:
                return rows
            offset += len(page)


def positions_page(data: object, offset: int) -> tuple[list[JsonObject], bool | None]:
    """(rows, has_more or None when the answer does not say) of one GET /positions answer, either shape."""
    more: bool | None = None
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        pagination = data.get("pagination")
        if isinstance(pagination, dict):
            if isinstance(pagination.get("has_more"), bool):
                more = pagination["has_more"]
            if pagination.get("offset") not in (None, offset):  # a host that pages another way (cursor): never loop or skip
                raise errors.Unknown(VENUE, f"GET /positions: asked offset {offset}, answered offset {pagination.get('offset')!r}")
        data = data["data"]
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise errors.Unknown(VENUE, f"GET /positions: not a list of positions: {str(data)[:200]!r}")
    return list(data), more


def poly_balance(body: object) -> int:
    """Collateral in 1e-6 pUSD from `GET /balance-allowance`: `balance` is a whole number of base units (a string;
    py_clob_client_v2 passes it through, rs-clob-client reads it as a Decimal)."""
    raw = body.get("balance") if isinstance(body, dict) else None
    text = str(raw).strip() if isinstance(raw, (str, int)) and not isinstance(raw, bool) else ""
    if not text.isdigit():
        raise ValueError(f"balance is not a whole number of base units: {raw!r}")
    return int(text)
