"""Kalshi side of the executor: V2 IOC orders and lookup by client_order_id (list by ticker + min_ts)."""

from __future__ import annotations

from collections.abc import Iterable

from core.units import ONE_DOLLAR, UnitError, notional, now_us, parse_fixed, parse_price, parse_size
from executor.exceptions import AmbiguousFillCost
from executor.orders import LegResult, OrderRequest, ResultType
from venues import errors
from venues.kalshi.rest import KalshiFill, KalshiOrder, KalshiRest, v2_order_side

VENUE = "KALSHI"
LOOKBACK_S = 3600  # min_ts window for lookups: generous, the venue filters server-side

# Which money `taker_fill_cost_dollars` / `maker_fill_cost_dollars` of an order counts is not defined by Kalshi.
# The Order schema says only "the cost of filled taker (maker) orders in dollars" (docs
# api-reference/orders/get-order.md, openapi 3.28.0, 2026-08) and no doc shows a filled NO-side order; the
# official starter code and NautilusTrader's adapter never read these fields. Two readings exist:
#   - YES money whatever the direction: V2 "quotes everything from the YES side" (BookSide in the same schema;
#     getting_started/order_direction.md: "direction does not change the price"); some clients' tests assume it;
#   - the money of the order's outcome side (the bid/ask ≡ yes/no of order_direction.md): what the holder of the
#     outcome paid, so NO money for an `ask`; other clients' comments report a sell of YES at p costing (1 - p).
# Both agree on a `bid`. On an `ask` the two readings are told apart by the order's own limit (an ask at YES
# price p fills at p or above) when only one of them fits; otherwise by the order's fills (GET /portfolio/fills:
# `yes_price_dollars` is documented as "fill price for the yes side"), and never by guessing.
BID_OUTCOME = {"yes": "bid", "no": "ask"}


def _money(text: str | None) -> int:
    return parse_fixed(text, 6, signed=True) if text not in (None, "") else 0


def _yes_limit(order: KalshiOrder) -> int | None:
    if order.yes_price_dollars is None:
        return None
    try:
        return parse_price(order.yes_price_dollars)
    except (UnitError, ValueError):
        return None


def _book_side(order: KalshiOrder, side: str, action: str) -> str:
    """`bid` or `ask`: the YES-book side our request maps to, checked against the one the record states."""
    ours = v2_order_side(side, action, ONE_DOLLAR // 2)[0]
    theirs = order.book_side or BID_OUTCOME.get(str(order.outcome_side))
    if theirs is not None and theirs != ours:
        raise errors.Unknown(VENUE, f"order {order.order_id} is an {theirs}, ours ({side} {action}) is an {ours}")
    return ours


def _fits_limit(yes: int, book_side: str, limit: int | None, filled: int) -> bool:
    """A bid at YES price p fills at p or better (lower), an ask at p or better (higher); always inside (0, 1)."""
    lo, hi = notional(1, filled), notional(ONE_DOLLAR - 1, filled)
    if limit is not None:
        lo, hi = (lo, notional(limit, filled)) if book_side == "bid" else (notional(limit, filled), hi)
    return lo <= yes <= hi


def fills_yes_notional(fills: Iterable[KalshiFill], filled: int) -> int | None:
    """YES notional (1e-6 USD) of an order's fills, or None while they do not add up to its fill count yet."""
    count = total = 0
    for f in fills:
        if f.count_fp is None or f.yes_price_dollars is None:
            return None
        try:
            size = parse_size(f.count_fp)
            total += notional(parse_price(f.yes_price_dollars), size)
        except (UnitError, ValueError):
            return None
        count += size
    return total if count == filled else None


def yes_notional(order: KalshiOrder, book_side: str, filled: int, fills: list[KalshiFill] | None = None) -> int:
    """What the filled contracts cost on the YES scale (1e-6 USD), under whichever reading of the fill cost the
    order's limit or fills allow (see the module note); errors.Unknown when they allow none or both."""
    cost = _money(order.taker_fill_cost_dollars) + _money(order.maker_fill_cost_dollars)
    if filled == 0:
        if cost:
            raise errors.Unknown(VENUE, f"order {order.order_id} filled nothing at a cost of {cost} (1e-6 USD)")
        return 0
    readings = {cost} if book_side == "bid" else {cost, notional(ONE_DOLLAR, filled) - cost}
    if fills is not None:
        from_fills = fills_yes_notional(fills, filled)
        if from_fills is None:
            raise errors.Unknown(VENUE, f"fills of order {order.order_id} do not add up to its fill count yet")
        if from_fills not in readings:
            raise errors.Unknown(VENUE, f"fills of order {order.order_id} ({from_fills}) match no reading of its fill cost {cost}")
        return from_fills
    limit = _yes_limit(order)
    fitting = sorted(y for y in readings if _fits_limit(y, book_side, limit, filled))
    if len(fitting) == 1:
        return fitting[0]
    if not fitting:
        raise errors.Unknown(VENUE, f"fill cost {cost} of order {order.order_id} does not fit its limit {limit}")
    raise AmbiguousFillCost(VENUE, f"fill cost {cost} of {book_side} order {order.order_id} fits YES and NO money")


def result_from_order(order: KalshiOrder, side: str, action: str, fills: list[KalshiFill] | None = None) -> LegResult:
    """A Kalshi Order object (GET /portfolio/orders) -> LegResult on the instrument we traded (`side` YES|NO,
    `action` BUY|SELL): fill_cost is the instrument's own money, NO money for a NO leg. `fills`: the order's
    records from GET /portfolio/fills, needed only when its fill cost is ambiguous (AmbiguousFillCost)."""
    status, raw_filled = order.status, order.fill_count
    if status not in ("resting", "canceled", "executed") or raw_filled is None or raw_filled == "":
        # Unreadable is not "nothing filled": the caller keeps looking (executor/answers.py).
        raise errors.Unknown(VENUE, f"unreadable order record (status {status!r}, fill_count_fp {raw_filled!r})")
    try:
        filled = parse_size(raw_filled)
        yes = yes_notional(order, _book_side(order, side, action), filled, fills)
        fee = _money(order.taker_fees_dollars) + _money(order.maker_fees_dollars)
    except (UnitError, ValueError) as exc:
        raise errors.Unknown(VENUE, f"unreadable order record: {exc}") from None
    cost = yes if side == "YES" else notional(ONE_DOLLAR, filled) - yes
    kind: ResultType
    if status == "resting":  # an IOC never rests; report it so the caller cancels or waits
        kind = "ACK"
    else:
        kind = "FILL" if filled > 0 else "CANCELLED"
    return LegResult(kind, filled=filled, fill_cost=cost, fee=fee, venue_order_id=order.order_id, acked_ts=now_us())


class KalshiTransport:
    venue = VENUE

    def __init__(self, rest: KalshiRest) -> None:
        self.rest = rest

    async def sign(self, req: OrderRequest) -> OrderRequest:
        return req  # Kalshi requests are signed per HTTP call; the client_order_id is the identity

    async def submit(self, req: OrderRequest, deadline_s: float) -> LegResult:
        sent = now_us()
        ack = await self.rest.create_order(ticker=req.market, side=req.side, action=req.action, price=req.limit_price, count=req.size,
                                           client_order_id=req.client_order_id, deadline_s=deadline_s)
        return LegResult("FILL" if ack.filled > 0 else "CANCELLED", filled=ack.filled, fill_cost=ack.fill_cost, fee=ack.fee,
                         venue_order_id=ack.order_id, sent_ts=sent, acked_ts=now_us())

    async def find(self, req: OrderRequest) -> LegResult | None:
        min_ts = max(0, req.deadline_us // 1_000_000 - LOOKBACK_S)
        order = await self.rest.find_order(req.market, req.client_order_id, min_ts)
        if order is None:
            return None
        try:
            return result_from_order(order, req.side, req.action)
        except AmbiguousFillCost:
            return result_from_order(order, req.side, req.action, await self.rest.order_fills(req.market, str(order.order_id)))
