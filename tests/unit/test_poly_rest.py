"""Issue 25, defect 2: a Polymarket refusal inside an HTTP 200 (`success: true` with a non-empty
`errorMsg`, rs-clob-client#114) is a rejection carrying the venue's text, never a CANCELLED leg.

Recorded answers: tests/resources/polymarket/http_order_response_*.json (NautilusTrader test data, see
tests/resources/PROVENANCE.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.config import Secret
from executor.breaker import CircuitBreaker
from executor.orders import OrderRequest
from executor.polymarket_transport import PolymarketTransport, Wallet
from executor.venue_client import RetryingVenueClient
from simulators.catalogue import POLYMARKET
from simulators.polymarket.clob import PolyClob
from tests.factories import poly_book_record
from tests.unit.test_poly_fak_amounts import sim_order_body, sim_post, sim_world
from venues import errors
from venues.polymarket.auth import ApiCreds
from venues.polymarket.rest import OrderAnswer, PolymarketRest, order_answer

RESOURCES = Path(__file__).resolve().parents[1] / "resources" / "polymarket"
INVALID_AMOUNTS = "invalid amounts, the market buy orders maker amount supports a max accuracy of 2 decimals, taker amount a max of 4 decimals"
REJECTED_IN_200 = {"success": True, "errorMsg": INVALID_AMOUNTS, "orderID": "", "status": "", "makingAmount": "", "takingAmount": "",
                   "transactionsHashes": [], "tradeIDs": []}  # rs-clob-client#114's PostOrderResponse
ORDER = {"order": {"salt": 1}, "owner": "k", "orderType": "FAK"}


def recorded(name: str) -> dict[str, Any]:
    return dict(json.loads((RESOURCES / name).read_text()))


def rest_answering(body: dict[str, Any], status: int = 200) -> PolymarketRest:
    transport = httpx.MockTransport(lambda _req: httpx.Response(status, json=body))
    return PolymarketRest("http://clob.test", "0x" + "11" * 20, ApiCreds("k", Secret("AAAA"), Secret("p")), transport=transport)


async def test_success_true_with_error_msg_is_a_rejection_with_the_venues_text() -> None:
    with pytest.raises(errors.Rejected) as exc:
        await rest_answering(REJECTED_IN_200).post_order(ORDER)
    assert INVALID_AMOUNTS in str(exc.value) and exc.value.status == 200


async def test_duplicate_inside_a_200_is_still_a_duplicate() -> None:
    with pytest.raises(errors.Duplicate):
        await rest_answering(REJECTED_IN_200 | {"errorMsg": "INVALID_ORDER_DUPLICATED"}).post_order(ORDER)


async def test_recorded_failure_is_rejected_with_its_text() -> None:
    with pytest.raises(errors.Rejected, match="Insufficient balance"):
        await rest_answering(recorded("http_order_response_failed.json")).post_order(ORDER)


@pytest.mark.parametrize("name", ["http_order_response_ok.json", "http_order_response_async_exec.json"])
async def test_recorded_successes_pass_with_empty_or_null_error_msg(name: str) -> None:
    body = recorded(name)
    assert body["errorMsg"] in ("", None)  # "" in one recording, null in the other: neither is an error
    assert await rest_answering(body).post_order(ORDER) == order_answer(body)


async def test_executor_records_the_200_rejection_as_reject_with_the_reason_not_cancelled() -> None:
    book = poly_book_record(100)
    key = bytes.fromhex("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")
    transport = PolymarketTransport(rest_answering(REJECTED_IN_200), Wallet(key, "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266", api_key="k"),
                                    lambda _c: book)
    client = RetryingVenueClient(transport, CircuitBreaker("POLYMARKET"))
    req = OrderRequest("s:1:0", "s", "g", 1, 0, "POLYMARKET", "123", "0xcond", "YES", "BUY", 5000, 1000, 2**62)
    res = await client.place(await client.prepare(req))
    assert res.type == "REJECT" and res.filled == 0
    assert res.reason is not None and INVALID_AMOUNTS in res.reason


async def test_an_answer_that_says_the_order_was_taken_is_not_a_rejection() -> None:
    # The docs allow an errorMsg on a delayed placement; an answer naming the order as delayed is followed
    # up by lookup (a rejection here could hide a later fill).
    body = {"success": True, "errorMsg": "order match delayed due to market conditions", "orderID": "0x" + "ab" * 32, "status": "delayed"}
    assert await rest_answering(body).post_order(ORDER) == OrderAnswer(order_id="0x" + "ab" * 32, status="delayed", making_amount=None,
                                                                       taking_amount=None)


@pytest.mark.parametrize("in_200", [False, True])
async def test_simulator_switch_answers_refusals_inside_a_200(in_200: bool) -> None:
    world = sim_world()
    if in_200:
        world.faults[POLYMARKET].reject_in_200 = 1.0  # type: ignore[attr-defined]  # admin: POST /faults/polymarket
    status, answer = await sim_post(PolyClob(world), sim_order_body(world, 5670, 1500))  # 8.505 pUSD as a FAK BUY
    assert (status, answer.get("success")) == ((200, True) if in_200 else (400, False))
    assert answer["errorMsg"] == INVALID_AMOUNTS and world.orderlog.query(venue=POLYMARKET)[-1].http_status == status
    with pytest.raises(errors.Rejected, match="invalid amounts"):  # either form reaches the executor as a rejection
        await rest_answering(answer, status).post_order(ORDER)


async def test_simulator_switch_is_seeded() -> None:
    def draws() -> list[int]:
        world = sim_world()
        world.faults[POLYMARKET].reject_in_200 = 0.5  # type: ignore[attr-defined]
        clob = PolyClob(world)
        return [int(clob._fault_on("reject_in_200")) for _ in range(40)]

    first = draws()
    assert first == draws() and 0 < sum(first) < 40
