"""Fuzz: venue REST answers, through the functions of venues/*/rest.py and venues/http.py that read them.

Documented: an answer the executor cannot use raises a venues.errors.VenueError (the executor's categories:
rejected, rate limited, unknown → look the order up, …); each venue's `refusal` (the reading of an error answer)
always returns one and never raises; http.json_body never raises.

KNOWN lists escapes found and not fixed yet (none today). The tests at the end pin the escapes the fuzzers found
once (a deeply nested body, a non-object answer, bad amounts, a 2xx answer that is not JSON): each is now a
VenueError of the right kind (errors.Unknown for an accepted request whose answer cannot be read).
Short by default; ARB_FUZZ_SECONDS=60 for a one-minute run (tests/unit/test_fuzz_support.py).
"""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import httpx
import pytest
from hypothesis import strategies as st

from core.config import Secret
from tests.unit.test_fuzz_support import fuzz
from venues import errors, http
from venues.kalshi import rest as kalshi_rest
from venues.kalshi.rest import OrderAck, parse_order_ack
from venues.polymarket import rest as poly_rest
from venues.polymarket.auth import ApiCreds
from venues.polymarket.rest import OrderAnswer, PolymarketRest

KNOWN: dict[str, tuple[type[BaseException], ...]] = {}  # escapes found and not fixed yet (none today)

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8), st.integers(0, 10**6).map(str),
                    st.sampled_from(["0.50", "1.00", "10.00", "abc", "1e5", "matched", "live", "delayed", "INVALID_ORDER_DUPLICATED: x", ""]))
ANY = st.recursive(SCALARS, lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=6), c, max_size=3), max_leaves=10)
ACK_KEYS = ["order_id", "client_order_id", "fill_count", "fill_count_fp", "remaining_count", "remaining_count_fp", "average_fill_price",
            "average_fee_paid", "ts_ms"]
ACK = st.one_of(st.fixed_dictionaries({}, optional={k: st.one_of(SCALARS, SCALARS, ANY) for k in ACK_KEYS}), ANY)
POLY_KEYS = ["orderID", "status", "errorMsg", "success", "makingAmount", "takingAmount", "error"]
POLY = st.one_of(st.fixed_dictionaries({}, optional={k: st.one_of(SCALARS, SCALARS, ANY) for k in POLY_KEYS}), ANY)


def _content(body: st.SearchStrategy[Any]) -> st.SearchStrategy[bytes]:
    return st.one_of(body.map(lambda o: json.dumps(o).encode()), body.map(lambda o: json.dumps(o).encode()), st.binary(max_size=30),
                     st.sampled_from([b"", b"[" * 3000 + b"]" * 3000, b"NaN", b'{"a": Infinity}']))


def _allowed(name: str, *documented: type[BaseException]) -> tuple[type[BaseException], ...]:
    return (*documented, *KNOWN.get(name, ()))


def test_fuzz_kalshi_order_answers() -> None:
    allowed = _allowed("parse_order_ack", errors.VenueError)

    def prop(case: tuple[Any, str, int | None]) -> None:
        body, side, count = case
        try:
            ack = parse_order_ack(body, side, count)
        except allowed:
            return
        assert isinstance(ack, OrderAck) and ack.filled >= 0 and ack.remaining >= 0

    fuzz(prop, st.tuples(ACK, st.sampled_from(["YES", "NO"]), st.one_of(st.none(), st.integers(0, 10**6))), examples=500,
         name="kalshi parse_order_ack")


def test_fuzz_error_answers() -> None:
    def prop(case: tuple[int, bytes, bool]) -> None:
        status, content, retry_after = case
        resp = httpx.Response(status, content=content, headers={"retry-after": "1"} if retry_after else {},
                              request=httpx.Request("POST", "http://venue/order"))
        http.json_body(resp)  # never raises
        for name, refusal in (("kalshi refusal", kalshi_rest.refusal), ("poly refusal", poly_rest.refusal)):
            try:
                err = refusal("POST /order", resp)
            except _allowed(name):
                continue
            assert isinstance(err, errors.VenueError)

    fuzz(prop, st.tuples(st.integers(300, 599), _content(st.one_of(ANY, POLY, ACK)), st.booleans()), examples=300, name="error answers")


def test_fuzz_polymarket_order_answers() -> None:
    creds = ApiCreds("key", Secret(base64.urlsafe_b64encode(b"secret").decode()), Secret("pass"))
    allowed = _allowed("post_order", errors.VenueError)
    loop = asyncio.new_event_loop()

    def prop(case: tuple[int, bytes]) -> None:
        status, content = case
        rest = PolymarketRest("http://clob", "0xabc", creds, transport=httpx.MockTransport(lambda req: httpx.Response(status, content=content)))
        try:
            out = loop.run_until_complete(rest.post_order({"order": {}}))
        except allowed:
            return
        finally:
            loop.run_until_complete(rest.aclose())
        assert isinstance(out, OrderAnswer)

    try:
        fuzz(prop, st.tuples(st.sampled_from([200, 200, 201, 400, 429, 500, 503]), _content(POLY)), examples=300,
             name="polymarket post_order")
    finally:
        loop.close()


# --- escapes the fuzzers found, one example each ------------------------------------------------------------------

_DEEP = b"[" * 3000 + b"]" * 3000


def test_json_body_of_a_deeply_nested_answer() -> None:
    assert http.json_body(httpx.Response(500, content=_DEEP)) == {}


def test_kalshi_order_answer_that_is_not_an_object() -> None:
    with pytest.raises(errors.Unknown):
        parse_order_ack([], "YES", 100)


def test_kalshi_order_answer_with_a_bad_average_price() -> None:
    with pytest.raises(errors.Unknown):
        parse_order_ack({"order_id": "o", "fill_count": "1", "remaining_count": "0", "average_fill_price": "abc"}, "YES", 100)


def test_kalshi_order_answer_with_an_infinite_ts_ms() -> None:
    body = json.loads('{"order_id": "o", "fill_count": "0", "remaining_count": "0", "ts_ms": Infinity}')
    with pytest.raises(errors.Unknown):
        parse_order_ack(body, "YES", 0)


def test_polymarket_order_answer_that_is_not_an_object() -> None:
    """It was a bare TypeError: the executor looked the order up all the same, but logged a traceback as for a bug."""
    creds = ApiCreds("key", Secret(base64.urlsafe_b64encode(b"secret").decode()), Secret("pass"))
    rest = PolymarketRest("http://clob", "0xabc", creds, transport=httpx.MockTransport(lambda req: httpx.Response(200, json=[1])))
    with pytest.raises(errors.Unknown):
        asyncio.run(rest.post_order({"order": {}}))


def test_polymarket_order_answer_that_is_not_json() -> None:
    creds = ApiCreds("key", Secret(base64.urlsafe_b64encode(b"secret").decode()), Secret("pass"))
    rest = PolymarketRest("http://clob", "0xabc", creds, transport=httpx.MockTransport(lambda req: httpx.Response(200, content=b"<html>")))
    with pytest.raises(errors.Unknown):
        asyncio.run(rest.post_order({"order": {}}))
