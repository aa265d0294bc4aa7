"""Kalshi side of the executor: V2 IOC orders and lookup by client_order_id (list by ticker + min_ts)."""

from __future__ import annotations

from typing import Any

from core.units import ONE_DOLLAR, notional, now_us, parse_fixed, parse_size
from executor.orders import LegResult, OrderRequest
from venues import errors
from venues.kalshi.rest import KalshiRest

LOOKBACK_S = 3600  # min_ts window for lookups: generous, the venue filters server-side


def _money(text: Any) -> int:
    return parse_fixed(str(text), 6, signed=True) if text not in (None, "") else 0


def result_from_order(order: dict[str, Any], side: str) -> LegResult:
    """A Kalshi Order object (GET /portfolio/orders) -> LegResult on the instrument we traded.

    V2 orders live on the YES book, and `*_fill_cost_dollars` is taken as YES notional (as the create
    response's average_fill_price is a YES price; unverified against the live venue, see README). For a
    NO leg the cost of the NO contracts is therefore filled x 1 USD - YES notional."""
    status = order.get("status")
    raw_filled = order.get("fill_count_fp", order.get("fill_count"))
    if status not in ("resting", "canceled", "executed") or raw_filled in (None, ""):
        # Unreadable is not "nothing filled": the caller keeps looking (executor/answers.py).
        raise errors.Unknown("KALSHI", f"unreadable order record (status {status!r}, fill_count_fp {raw_filled!r})")
    filled = parse_size(str(raw_filled))
    yes_cost = _money(order.get("taker_fill_cost_dollars")) + _money(order.get("maker_fill_cost_dollars"))
    cost = yes_cost if side == "YES" else notional(ONE_DOLLAR, filled) - yes_cost
    fee = _money(order.get("taker_fees_dollars")) + _money(order.get("maker_fees_dollars"))
    if status == "resting":  # an IOC never rests; report it so the caller cancels or waits
        kind = "ACK"
    else:
        kind = "FILL" if filled > 0 else "CANCELLED"
    return LegResult(kind, filled=filled, fill_cost=cost, fee=fee, venue_order_id=order.get("order_id"), acked_ts=now_us())


class KalshiTransport:
    venue = "KALSHI"

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
        return None if order is None else result_from_order(order, req.side)
