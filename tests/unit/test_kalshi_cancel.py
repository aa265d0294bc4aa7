"""Issue 25, defect 11 (Kalshi): cancelling a V2 order names its market, so the request reaches the shard
that holds it. Kalshi docs api-reference/orders/cancel-order-v2.md: `DELETE /portfolio/events/orders/{order_id}`
with query parameters `market_ticker`, `subaccount` and `exchange_index` (venue-protocols K4; the
2026-12 corrections, point 14: without `market_ticker` the cancel routes to shard 0). The query is not
part of the signed path (K2)."""

from __future__ import annotations

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from venues.kalshi import auth
from venues.kalshi.rest import KalshiRest

BASE = "https://external-api.kalshi.com/trade-api/v2"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ANSWER = {"order_id": "o-1", "client_order_id": "c-1", "reduced_by": "5.00", "ts_ms": 1}


async def _cancel(**kwargs: object) -> httpx.Request:
    seen: list[httpx.Request] = []

    def route(r: httpx.Request) -> httpx.Response:
        seen.append(r)
        return httpx.Response(200, json=ANSWER)

    rest = KalshiRest(BASE, "key-id", KEY, transport=httpx.MockTransport(route))
    try:
        assert await rest.cancel_order("o-1", **kwargs) == ANSWER  # type: ignore[arg-type]
    finally:
        await rest.aclose()
    assert len(seen) == 1
    return seen[0]


async def test_cancel_carries_the_market_ticker_and_signs_the_path_without_query() -> None:
    r = await _cancel(market_ticker="KXMLBGAME-26AUG24NYYBOS-NYY")
    assert r.method == "DELETE" and r.url.path == "/trade-api/v2/portfolio/events/orders/o-1"
    assert dict(r.url.params) == {"market_ticker": "KXMLBGAME-26AUG24NYYBOS-NYY"}
    ts = int(r.headers[auth.HEADER_TIMESTAMP])
    assert auth.verify(KEY.public_key(), ts, "DELETE", "/trade-api/v2/portfolio/events/orders/o-1", r.headers[auth.HEADER_SIGNATURE])


async def test_cancel_passes_subaccount_and_exchange_index_when_given() -> None:
    r = await _cancel(market_ticker="T", subaccount=2, exchange_index=3)
    assert dict(r.url.params) == {"market_ticker": "T", "subaccount": "2", "exchange_index": "3"}


async def test_cancel_without_a_market_is_refused_before_sending() -> None:
    with pytest.raises(TypeError):
        await _cancel()
    with pytest.raises(ValueError, match="market_ticker"):
        await _cancel(market_ticker="")
