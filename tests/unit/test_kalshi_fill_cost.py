"""Issue 25, defect 10: the fill cost of a Kalshi order found by lookup, on NO-side (`ask`) orders.

Kalshi does not define which money `taker_fill_cost_dollars` / `maker_fill_cost_dollars` count (Order schema,
docs api-reference/orders/get-order.md: "the cost of filled taker orders in dollars"; no documented example of a
filled NO-side order). Third-party clients disagree: some read it as YES money for every order, others as the money
of the order's outcome side (a sell of YES at 18c costing 82c a contract). The executor used to take it as YES money
only, so under the other reading a NO buy at 0.28 was booked at 0.72. Now both readings are cross-checked against the
order's limit and, when both fit, against its fills (whose `yes_price_dollars` is documented), never guessed.

Recorded: tests/resources/kalshi/http_order_filled_demo.json and http_fills_demo.json (a `bid` filled on Kalshi's demo
exchange, 2026-09-26; see tests/resources/PROVENANCE.md). The `ask` orders below are documentation-shaped: the
V2 Order fields of get-order.md, with the direction a demo `ask` was booked with (side / outcome_side `no`,
`yes_price_dollars` the YES limit)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from aiohttp.test_utils import make_mocked_request

from core.units import ONE_DOLLAR, format_price
from executor.exceptions import AmbiguousFillCost
from executor.kalshi_transport import KalshiTransport, fills_yes_notional, result_from_order
from executor.orders import OrderRequest
from simulators.catalogue import KALSHI
from simulators.engine import BookSide, TimeInForce
from simulators.kalshi import rest as sim_rest
from simulators.settings import SimSettings
from simulators.world import SimWorld
from tests.conftest import FIXTURES
from venues import errors
from venues.kalshi.rest import KalshiFill, KalshiOrder, KalshiRest, parse_fill, parse_order

READINGS = ("yes", "outcome")  # YES money whatever the side / the money of the order's outcome side


def _recorded(name: str) -> dict[str, Any]:
    return dict(json.loads((FIXTURES / "kalshi" / name).read_text()))


def _fills(rows: list[dict[str, Any]]) -> list[KalshiFill]:
    return [parse_fill(r) for r in rows]


def _ask(*, limit: str, fill_yes: str, count: str = "10.00", reading: str) -> dict[str, Any]:
    """A filled V2 `ask` (buy NO at 1 - limit, or sell YES at limit), its fill cost under `reading`."""
    filled = int(count.split(".")[0])
    yes = int(fill_yes.replace(".", "")) * filled  # 1e-4 USD x contracts
    cost = yes if reading == "yes" else ONE_DOLLAR * filled - yes
    return {"order_id": "o-ask", "client_order_id": "c-ask", "ticker": "KXNFLGAME-26OCT01PITCLE-PIT", "status": "executed",
            "book_side": "ask", "outcome_side": "no", "side": "no", "action": "buy", "type": "limit",
            "yes_price_dollars": limit, "no_price_dollars": format_price(ONE_DOLLAR - int(limit.replace(".", ""))),
            "initial_count_fp": count, "fill_count_fp": count, "remaining_count_fp": "0.00",
            "taker_fill_cost_dollars": f"{cost // 10_000}.{cost % 10_000:04d}00", "maker_fill_cost_dollars": "0.000000",
            "taker_fees_dollars": "0.070000", "maker_fees_dollars": "0.000000"}


def test_recorded_bid_is_yes_money_and_agrees_with_its_fills() -> None:
    order = parse_order(_recorded("http_order_filled_demo.json")["order"])
    res = result_from_order(order, "YES", "BUY")
    assert (res.type, res.filled, res.fill_cost, res.fee) == ("FILL", 100, 560_000, 17_300)
    assert fills_yes_notional(_fills(_recorded("http_fills_demo.json")["fills"]), 100) == 560_000
    # the same bid closes a NO position: the NO proceeds are 1 - 0.56
    assert result_from_order(order, "NO", "SELL").fill_cost == 440_000


@pytest.mark.parametrize("reading", READINGS)
def test_no_buy_whose_limit_tells_the_readings_apart(reading: str) -> None:
    """Buy NO at 0.30 = ask at YES 0.70, filled at YES 0.72: the NO contracts cost 0.28 each, under both readings."""
    res = result_from_order(parse_order(_ask(limit="0.7000", fill_yes="0.7200", reading=reading)), "NO", "BUY")
    assert (res.type, res.filled, res.fill_cost, res.fee) == ("FILL", 1000, 2_800_000, 70_000)


@pytest.mark.parametrize("reading", READINGS)
def test_yes_sell_is_an_ask_too(reading: str) -> None:
    """Unwinding YES at 0.60 (an ask), filled at 0.61: the proceeds are 0.61 a contract."""
    res = result_from_order(parse_order(_ask(limit="0.6000", fill_yes="0.6100", reading=reading)), "YES", "SELL")
    assert res.fill_cost == 6_100_000


@pytest.mark.parametrize("reading", READINGS)
def test_ambiguous_no_buy_is_not_guessed_and_its_fills_decide(reading: str) -> None:
    """Buy NO at 0.70 = ask at YES 0.30, filled at 0.30: 3.00 and 7.00 both fit the limit."""
    order = parse_order(_ask(limit="0.3000", fill_yes="0.3000", reading=reading))
    with pytest.raises(AmbiguousFillCost):
        result_from_order(order, "NO", "BUY")
    fills = _fills([{"order_id": "o-ask", "count_fp": "4.00", "yes_price_dollars": "0.3000"},
                    {"order_id": "o-ask", "count_fp": "6.00", "yes_price_dollars": "0.3000"}])
    assert result_from_order(order, "NO", "BUY", fills).fill_cost == 7_000_000
    with pytest.raises(errors.Unknown, match="do not add up"):  # fills not all visible yet: keep looking
        result_from_order(order, "NO", "BUY", fills[:1])
    with pytest.raises(errors.Unknown, match="no reading"):
        result_from_order(order, "NO", "BUY", _fills([{"count_fp": "10.00", "yes_price_dollars": "0.3100"}]))
    with pytest.raises(errors.Unknown, match="do not add up"):  # a fill without its count or price is no fill yet
        result_from_order(order, "NO", "BUY", fills + _fills([{"order_id": "o-ask", "yes_price_dollars": "0.3000"}]))


def test_no_sell_is_a_bid_in_yes_money() -> None:
    """Selling NO at 0.40 is a bid at YES 0.60; filled at 0.58, the NO proceeds are 0.42 a contract."""
    order = _ask(limit="0.6000", fill_yes="0.5800", reading="yes") | {"book_side": "bid", "outcome_side": "yes", "side": "yes"}
    assert result_from_order(parse_order(order), "NO", "SELL").fill_cost == 4_200_000


def test_a_cost_outside_the_limit_or_on_the_other_side_is_unknown() -> None:
    bid = _recorded("http_order_filled_demo.json")["order"]
    with pytest.raises(errors.Unknown, match="does not fit"):  # 0.57 a contract on a bid at 0.56
        result_from_order(parse_order(bid | {"taker_fill_cost_dollars": "0.570000"}), "YES", "BUY")
    with pytest.raises(errors.Unknown, match="is an bid"):
        result_from_order(parse_order(bid), "NO", "BUY")
    with pytest.raises(errors.Unknown, match="filled nothing"):
        result_from_order(parse_order(bid | {"fill_count_fp": "0.00", "status": "canceled"}), "YES", "BUY")


class _Rest:
    """find_order + order_fills, as KalshiTransport.find uses KalshiRest."""

    def __init__(self, order: dict[str, Any], fills: list[dict[str, Any]]) -> None:
        self.order, self.fills = order, fills
        self.asked: list[tuple[str, str]] = []

    async def find_order(self, ticker: str, client_order_id: str, min_ts_s: int) -> KalshiOrder | None:
        return parse_order(self.order) if client_order_id == self.order["client_order_id"] else None

    async def order_fills(self, ticker: str, order_id: str) -> list[KalshiFill]:
        self.asked.append((ticker, order_id))
        return _fills([f for f in self.fills if f.get("order_id") == order_id])


def _req(side: str, action: str, coid: str) -> OrderRequest:
    return OrderRequest(client_order_id=coid, signal_id="s", game_id="g", leg_index=0, step=0, venue="KALSHI",
                        market="KXNFLGAME-26OCT01PITCLE-PIT", book="KXNFLGAME-26OCT01PITCLE-PIT", side=side, action=action,
                        limit_price=7000, size=1000, deadline_us=1_790_000_000_000_000)


@pytest.mark.parametrize("reading", READINGS)
async def test_lookup_asks_for_the_fills_only_when_the_cost_is_ambiguous(reading: str) -> None:
    clear = _Rest(_ask(limit="0.7000", fill_yes="0.7200", reading=reading), [])
    assert (await KalshiTransport(clear).find(_req("NO", "BUY", "c-ask"))).fill_cost == 2_800_000  # type: ignore[arg-type, union-attr]
    assert clear.asked == []
    other = {"order_id": "o-other", "count_fp": "10.00", "yes_price_dollars": "0.9900"}
    ambiguous = _Rest(_ask(limit="0.3000", fill_yes="0.3000", reading=reading),
                      [other, {"order_id": "o-ask", "count_fp": "10.00", "yes_price_dollars": "0.3000"}])
    assert (await KalshiTransport(ambiguous).find(_req("NO", "BUY", "c-ask"))).fill_cost == 7_000_000  # type: ignore[arg-type, union-attr]
    assert ambiguous.asked == [("KXNFLGAME-26OCT01PITCLE-PIT", "o-ask")]


async def test_order_fills_asks_for_the_orders_fills_and_keeps_only_them() -> None:
    """GET /portfolio/fills?ticker=&order_id= (every page), and only the order's own fills are kept, whatever the server
    filters: another order's fill would change the cost read from them."""
    asked: list[httpx.QueryParams] = []
    pages = {None: {"fills": [{"order_id": "o-other", "count_fp": "10.00", "yes_price_dollars": "0.9900"},
                              {"order_id": "o-ask", "count_fp": "4.00", "yes_price_dollars": "0.3000"}], "cursor": "c2"},
             "c2": {"fills": [{"order_id": "o-ask", "count_fp": "6.00", "yes_price_dollars": "0.3000"}], "cursor": ""}}

    def route(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/trade-api/v2/portfolio/fills"
        asked.append(request.url.params)
        return httpx.Response(200, json=pages[request.url.params.get("cursor")])

    rest = KalshiRest("http://kalshi.test/trade-api/v2", "kid", None, transport=httpx.MockTransport(route))
    fills = await rest.order_fills("KXNFLGAME-26OCT01PITCLE-PIT", "o-ask")
    await rest.aclose()
    assert fills == [KalshiFill("o-ask", "4.00", "0.3000"), KalshiFill("o-ask", "6.00", "0.3000")]
    assert [dict(q) for q in asked] == [{"ticker": "KXNFLGAME-26OCT01PITCLE-PIT", "order_id": "o-ask", "limit": "200"},
                                        {"ticker": "KXNFLGAME-26OCT01PITCLE-PIT", "order_id": "o-ask", "limit": "200", "cursor": "c2"}]


# --- the simulator follows each reading -----------------------------------------------------------------------


async def _sim_fills(sim: sim_rest.KalshiRest, account: str) -> list[dict[str, Any]]:
    request = make_mocked_request("GET", "/trade-api/v2/portfolio/fills")
    request[sim_rest.ACCOUNT_KEY] = account
    resp = await sim.fills(request)
    return list(json.loads(resp.text or "{}")["fills"])


@pytest.mark.parametrize("reading", READINGS)
@pytest.mark.parametrize("yes_bid", [7200, 3000])  # an ask the limit decides / an ambiguous one
async def test_simulator_no_buy_is_read_at_its_true_cost(reading: str, yes_bid: int) -> None:
    world = SimWorld(SimSettings(games=1, updates_per_s=0.0, arb_rate_per_min=0.0, autostart=False, kalshi_fill_cost=reading))
    ticker = next(iter(world.kalshi_books))
    book = world.kalshi_books[ticker]
    for price, size in book.bids():  # an empty YES bid side, then one resting bid from the market maker
        world.place(KALSHI, ticker, "mm", BookSide.SELL, price, size, TimeInForce.IOC)
    for price, size in book.asks():
        world.place(KALSHI, ticker, "mm", BookSide.BUY, price, size, TimeInForce.IOC)
    world.place(KALSHI, ticker, "mm", BookSide.BUY, yes_bid, 1000, TimeInForce.GTC)
    sim = sim_rest.KalshiRest(world)
    world.kalshi_account("acct", 10**12)
    body = {"ticker": ticker, "client_order_id": "c-sim", "side": "ask", "count": "10.00", "price": format_price(yes_bid),
            "time_in_force": "immediate_or_cancel", "self_trade_prevention_type": "taker_at_cross"}
    rec, _ = sim.place("acct", body, body)
    order = sim_rest.order_json(rec, world)
    assert (order["book_side"], order["outcome_side"], order["side"]) == ("ask", "no", "no")
    true_no_cost = sum((ONE_DOLLAR - f.price) * f.size for f in rec.fills)
    assert rec.filled == 1000 and true_no_cost == (ONE_DOLLAR - yes_bid) * 1000
    fills = await _sim_fills(sim, "acct")
    res = await KalshiTransport(_Rest(order, fills)).find(_req("NO", "BUY", "c-sim"))  # type: ignore[arg-type]
    assert res is not None and (res.filled, res.fill_cost) == (1000, true_no_cost)
