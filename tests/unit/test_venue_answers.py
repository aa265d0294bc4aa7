"""The venue answers the executor reads, parsed once at the edge into typed values (venues/kalshi/rest.py KalshiOrder /
KalshiFill, venues/polymarket/rest.py OrderAnswer / OpenOrder), read exactly as the dict readings they replace.

Each reading decides what an order did: an answer that is incomplete must stay unreadable (the executor keeps
looking, executor/answers.py), never become "nothing filled" or a fill at another price.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from hypothesis import strategies as st

from core.config import Secret
from executor.kalshi_transport import result_from_order
from executor.orders import LegResult, OrderRequest
from executor.polymarket_transport import PolymarketTransport, Wallet
from tests.factories import poly_book_record
from tests.unit.test_fuzz_support import fuzz
from venues import errors
from venues.kalshi.rest import KalshiRest, parse_fill, parse_order
from venues.polymarket.auth import ApiCreds
from venues.polymarket.rest import OpenOrder, OrderAnswer, PolymarketRest, open_order, order_answer

# --- Kalshi: GET /portfolio/orders, /portfolio/fills ---------------------------------------------------------------

FILLED = {"order_id": "o1", "client_order_id": "c1", "status": "executed", "book_side": "bid", "outcome_side": "yes",
          "yes_price_dollars": "0.5600", "fill_count_fp": "1.00", "taker_fill_cost_dollars": "0.560000",
          "maker_fill_cost_dollars": "0.000000", "taker_fees_dollars": "0.017300", "maker_fees_dollars": "0.000000"}


def test_kalshi_fixed_point_count_wins_even_when_null() -> None:
    """`fill_count_fp` is read whenever the record has the key: a null one is no count (unreadable), not the legacy field's."""
    assert parse_order(FILLED | {"fill_count": 7}).fill_count == "1.00"
    assert parse_order({k: v for k, v in FILLED.items() if k != "fill_count_fp"} | {"fill_count": 1}).fill_count == "1"
    with pytest.raises(errors.Unknown, match="unreadable order record"):
        result_from_order(parse_order(FILLED | {"fill_count_fp": None, "fill_count": 1}), "YES", "BUY")


@pytest.mark.parametrize("record", [{"status": "executed"}, {k: v for k, v in FILLED.items() if k != "fill_count_fp"},
                                    FILLED | {"fill_count_fp": ""}, FILLED | {"status": None}])
def test_kalshi_record_without_a_count_or_status_is_unreadable(record: dict[str, Any]) -> None:
    with pytest.raises(errors.Unknown, match="unreadable order record"):
        result_from_order(parse_order(record), "YES", "BUY")


def test_kalshi_json_numbers_are_read_as_their_text() -> None:
    """A JSON number where the venue documents a string reads as it always did (str() then the fixed-point parser)."""
    res = result_from_order(parse_order(FILLED | {"fill_count_fp": 1, "taker_fill_cost_dollars": 0.56}), "YES", "BUY")
    assert (res.type, res.filled, res.fill_cost, res.fee, res.venue_order_id) == ("FILL", 100, 560_000, 17_300, "o1")


def test_kalshi_empty_book_side_defers_to_the_outcome_side() -> None:
    order = parse_order(FILLED | {"book_side": "", "outcome_side": "no"})
    assert order.book_side is None
    with pytest.raises(errors.Unknown, match="is an ask"):  # outcome `no` is an ask; a YES buy is a bid
        result_from_order(order, "YES", "BUY")


def test_kalshi_fill_fields() -> None:
    assert parse_fill({"order_id": "o1", "count_fp": 4, "yes_price_dollars": "0.3000", "extra": []}) == parse_fill(
        {"order_id": "o1", "count_fp": "4", "yes_price_dollars": "0.3000"})
    assert parse_fill({}).count_fp is None


def test_fuzz_kalshi_order_records() -> None:
    """Any order record, read at the edge, is a result or a VenueError (unreadable: keep looking), never a crash."""
    scalar = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**6), st.floats(allow_nan=False), st.text(max_size=6),
                       st.sampled_from(["executed", "canceled", "resting", "1.00", "0.5600", "bid", "ask", "yes", "no", ""]))
    value = st.one_of(scalar, scalar, st.lists(scalar, max_size=2), st.dictionaries(st.text(max_size=3), scalar, max_size=2))
    record = st.fixed_dictionaries({}, optional={k: value for k in FILLED} | {"fill_count": value})
    fill = st.fixed_dictionaries({}, optional={"order_id": value, "count_fp": value, "yes_price_dollars": value})

    def prop(case: tuple[dict[str, Any], str, str, list[dict[str, Any]] | None]) -> None:
        rec, side, action, fills = case
        try:
            res = result_from_order(parse_order(rec), side, action, None if fills is None else [parse_fill(f) for f in fills])
        except errors.VenueError:
            return
        assert isinstance(res, LegResult) and res.filled >= 0

    fuzz(prop, st.tuples(record, st.sampled_from(["YES", "NO"]), st.sampled_from(["BUY", "SELL"]), st.one_of(st.none(), st.lists(fill, max_size=3))),
         examples=500, name="kalshi order records")


def _kalshi(pages: list[Any]) -> KalshiRest:
    answers = iter(pages)
    return KalshiRest("http://kalshi.test/trade-api/v2", "kid", None,
                      transport=httpx.MockTransport(lambda _r: httpx.Response(200, json=next(answers))))


async def test_kalshi_find_order_matches_the_client_order_id_over_pages() -> None:
    rest = _kalshi([{"orders": [FILLED | {"client_order_id": "other"}], "cursor": "p2"}, {"orders": [FILLED], "cursor": None}])
    found = await rest.find_order("K-BUF", "c1", 0)
    await rest.aclose()
    assert found == parse_order(FILLED)


@pytest.mark.parametrize("page", [[FILLED], {"orders": FILLED}, {"orders": [FILLED, "o2"]}])
async def test_kalshi_unreadable_order_list_is_unknown(page: Any) -> None:
    """A page that is not an object, or orders that are not a list of objects: the lookup failed (the executor keeps
    looking until deadline + grace), it did not find "no such order"."""
    rest = _kalshi([page])
    with pytest.raises(errors.Unknown):
        await rest.find_order("K-BUF", "c-missing", 0)
    await rest.aclose()


# --- Polymarket: POST /order, GET /data/order/{hash} ---------------------------------------------------------------

def test_poly_order_answer_fields() -> None:
    assert order_answer({"orderID": "", "status": None, "makingAmount": 5, "takingAmount": ""}) == OrderAnswer(
        order_id=None, status="None", making_amount="5", taking_amount="")
    assert order_answer({}) == OrderAnswer(order_id=None, status="", making_amount=None, taking_amount=None)


def test_poly_open_order_fields() -> None:
    """A price of 0 (or none) is no price: the fill is costed at the order's own limit."""
    assert open_order({"status": "MATCHED", "size_matched": "10", "price": 0}) == OpenOrder(status="MATCHED", size_matched="10", price=None)
    assert open_order({"price": "0.4000"}) == OpenOrder(status="", size_matched=None, price="0.4000")


KEY = bytes.fromhex("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")
REQ = OrderRequest("s:1:0", "s", "g", 1, 0, "POLYMARKET", "123", "0xcond", "YES", "BUY", 5000, 1000, 2**62)


def _poly(status: int, body: Any) -> PolymarketTransport:
    rest = PolymarketRest("http://clob.test", "0x" + "11" * 20, ApiCreds("k", Secret("AAAA"), Secret("p")),
                          transport=httpx.MockTransport(lambda _r: httpx.Response(status, json=body)))
    return PolymarketTransport(rest, Wallet(KEY, "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266", api_key="k"), lambda _c: poly_book_record(100))


@pytest.mark.parametrize(("price", "cost"), [(None, 5_000_000), (0, 5_000_000), ("", 5_000_000), ("0.4000", 4_000_000)])
async def test_poly_lookup_costs_a_fill_at_its_price_or_else_its_limit(price: Any, cost: int) -> None:
    t = _poly(200, {"status": "MATCHED", "size_matched": "10.000000", "price": price})
    res = await t.find(await t.sign(REQ))
    assert res is not None and (res.type, res.filled, res.fill_cost) == ("FILL", 1000, cost)


@pytest.mark.parametrize(("status", "body"), [(404, {"error": "not found"}), (200, {}), (200, None)])
async def test_poly_lookup_of_no_order_is_none(status: int, body: Any) -> None:
    t = _poly(status, body)
    assert await t.find(await t.sign(REQ)) is None


async def test_poly_lookup_answer_that_is_not_an_object_is_unknown() -> None:
    t = _poly(200, [["status", "MATCHED"]])
    with pytest.raises(errors.Unknown):
        await t.find(await t.sign(REQ))


async def test_poly_matched_answer_without_its_order_id_is_the_signed_hash() -> None:
    t = _poly(200, {"success": True, "errorMsg": "", "orderID": "", "status": "matched", "makingAmount": "5", "takingAmount": "10"})
    req = await t.sign(REQ)
    res = await t.submit(req, 1.0)
    assert (res.type, res.filled, res.fill_cost, res.venue_order_id) == ("FILL", 1000, 5_000_000, req.venue_order_id)
