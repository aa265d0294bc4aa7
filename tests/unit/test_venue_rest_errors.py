"""What a venue's error answer becomes (venues/http.py and each venue's `refusal`), through the real REST clients.

The class decides whether the executor may send an order again (executor/answers.py): a 5xx read as a refusal,
or a duplicate read as anything but Duplicate, would let it treat an order the venue may hold as one it never
got, and send it twice.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from core.config import Secret
from core.errors import ArbError
from venues import errors
from venues.kalshi import parse as kalshi_parse
from venues.kalshi.rest import KalshiRest
from venues.polymarket import parse as poly_parse
from venues.polymarket.auth import ApiCreds
from venues.polymarket.rest import PolymarketBookApi, PolymarketDataApi, PolymarketRest


def _answer(status: int, body: Any = None, headers: dict[str, str] | None = None) -> httpx.MockTransport:
    return httpx.MockTransport(lambda _req: httpx.Response(status, json=body if body is not None else {}, headers=headers or {}))


async def _kalshi(transport: httpx.MockTransport) -> Any:
    rest = KalshiRest("http://kalshi.test/trade-api/v2", "kid", None, transport=transport)  # no key: unsigned
    try:
        return await rest.get("/markets")
    finally:
        await rest.aclose()


async def _poly(transport: httpx.MockTransport) -> Any:
    rest = PolymarketRest("http://clob.test", "0x" + "11" * 20, ApiCreds("k", Secret("AAAA"), Secret("p")), transport=transport)
    try:
        return await rest.cancel("0xorder")
    finally:
        await rest.aclose()


@pytest.mark.parametrize(("status", "body", "cls", "code"), [
    (429, {"error": "too many requests"}, errors.RateLimited, None),
    (409, {"code": "order_already_exists", "message": "exists"}, errors.Duplicate, "order_already_exists"),
    (401, {"code": "unauthorized"}, errors.AuthError, "unauthorized"),
    (403, {}, errors.AuthError, ""),
    (500, {}, errors.ServerError, ""),
    (503, {"message": "down"}, errors.ServerError, ""),
    (400, {"code": "invalid_order", "message": "bad price"}, errors.Rejected, "invalid_order"),
    (404, [], errors.Rejected, ""),
])
async def test_kalshi_error_answers(status: int, body: Any, cls: type[errors.VenueError], code: str | None) -> None:
    with pytest.raises(errors.VenueError) as caught:
        await _kalshi(_answer(status, body))
    assert type(caught.value) is cls and caught.value.venue == "KALSHI" and caught.value.code == code
    assert f"GET /markets: HTTP {status}" in str(caught.value)


@pytest.mark.parametrize(("status", "body", "headers", "cls"), [
    (429, {"error": "slow down"}, None, errors.RateLimited),
    (503, {"error": "cancel-only"}, {"Retry-After": "2"}, errors.RateLimited),  # cancel-only mode: not accepted
    (503, {"error": "down"}, None, errors.ServerError),
    (500, {}, None, errors.ServerError),
    (400, {"error": "INVALID_ORDER_DUPLICATED"}, None, errors.Duplicate),
    (401, {"error": "Unauthorized/Invalid api key"}, None, errors.AuthError),
    (403, {}, None, errors.AuthError),
    (400, {"errorMsg": "not enough balance / allowance: 5"}, None, errors.Rejected),
])
async def test_polymarket_error_answers(status: int, body: Any, headers: dict[str, str] | None, cls: type[errors.VenueError]) -> None:
    with pytest.raises(errors.VenueError) as caught:
        await _poly(_answer(status, body, headers))
    assert type(caught.value) is cls and caught.value.venue == "POLYMARKET" and caught.value.status == status
    assert f"DELETE /order: HTTP {status}" in str(caught.value)
    if headers:
        assert isinstance(caught.value, errors.RateLimited) and caught.value.retry_after_s == 2.0


async def test_polymarket_rejection_code_is_the_messages_prefix() -> None:
    with pytest.raises(errors.Rejected) as caught:
        await _poly(_answer(400, {"errorMsg": "not enough balance / allowance: 5"}))
    assert caught.value.code == "not enough balance / allowance"


async def test_polymarket_public_hosts_read_error_answers_the_same_way() -> None:
    book = PolymarketBookApi("http://clob.test", transport=_answer(503, {"error": "down"}))
    data = PolymarketDataApi("http://data.test", transport=_answer(429, {"error": "slow down"}))
    try:
        with pytest.raises(errors.ServerError, match="GET /book: HTTP 503 down"):
            await book.get_book("1")
        with pytest.raises(errors.RateLimited, match="GET /positions: HTTP 429 slow down"):
            await data.positions("0xuser")
    finally:
        await book.aclose()
        await data.aclose()


async def test_a_2xx_answer_is_its_json_body() -> None:
    assert await _kalshi(_answer(200, {"markets": []})) == {"markets": []}
    assert await _poly(_answer(200, {"canceled": ["0xorder"]})) == {"canceled": ["0xorder"]}


def test_every_venue_failure_is_an_arb_error() -> None:
    """One base for the project's own failures (core/errors.py); the input errors stay ValueErrors for the callers
    that catch those, and both parsers raise the one ParseError."""
    classes = [c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, BaseException)]
    assert {c.__name__ for c in classes if not issubclass(c, ArbError)} == set()
    assert issubclass(errors.ParseError, ValueError) and issubclass(errors.BookError, ValueError)
    assert kalshi_parse.ParseError is poly_parse.ParseError is errors.ParseError
    with pytest.raises(errors.ParseError):
        kalshi_parse.parse_frame(b"{")
    with pytest.raises(errors.ParseError):
        poly_parse.parse_event([])
