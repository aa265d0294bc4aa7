"""Pure builders: a signal's legs -> order requests; requests and venue results -> OrderEvent / Fill /
Outcome records (schemas/records.py). Deterministic ids, so a replay or a recovery yields the same keys."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from math import lcm
from typing import Literal, TypeAlias

from core.ids import client_order_id
from schemas.records import Action, Fill, Leg, OrderEvent, Outcome, OutcomeState, Side, Signal, Venue
from venues.polymarket import amounts

log = logging.getLogger(__name__)

# What a venue did with an order: the OrderEvent types of a result (every one but INTENT).
ResultType: TypeAlias = Literal["ACK", "FILL", "REJECT", "CANCELLED", "UNKNOWN"]


@dataclass(frozen=True)
class OrderRequest:
    client_order_id: str
    signal_id: str
    game_id: str
    leg_index: int
    step: int
    venue: Venue
    market: str  # Kalshi ticker | Polymarket token id
    book: str  # Kalshi ticker | Polymarket condition id
    side: Side
    action: Action
    limit_price: int  # 1e-4 USD per contract of the instrument
    size: int  # 1e-2 contracts
    deadline_us: int
    signed_order: str | None = None  # Polymarket: the signed order JSON (its hash is the order id)
    venue_order_id: str | None = None  # Polymarket: known before sending


@dataclass(frozen=True)
class LegResult:
    """What the venue did with one order. type: FILL (filled > 0), CANCELLED (IOC/FAK, nothing filled),
    REJECT (refused), UNKNOWN (could not be established), ACK (accepted, not final yet)."""

    type: ResultType
    filled: int = 0
    fill_cost: int = 0  # 1e-6 USD, excluding fees
    fee: int = 0  # 1e-6 USD
    venue_order_id: str | None = None
    reason: str | None = None
    sent_ts: int | None = None
    acked_ts: int | None = None
    trades: tuple[tuple[int, int], ...] = field(default=())  # (price, size) per execution, when known


def executable_size(legs: list[Leg]) -> int:
    """The largest contract count <= every leg's size that each leg can be sent with: a Polymarket FAK BUY
    needs price x size on whole cents (venues/polymarket/amounts.py), and whole contracts stay whole.
    The detector already sizes signals so; this guards signals sized without the rule."""
    size = min(leg.size for leg in legs)
    step = 100 if size % 100 == 0 else 1
    for leg in legs:
        if leg.venue == "POLYMARKET":
            step = lcm(step, amounts.fak_step("BUY", leg.limit_price))
    return size - size % step


def leg_requests(signal: Signal) -> list[OrderRequest]:
    """The base legs, all with the same executable size. None when no size fits: nothing is sent (the
    signal ends NOT_FILLED) rather than one leg alone."""
    size = executable_size(signal.legs) if signal.legs else 0
    if size <= 0:
        log.warning("signal not executable: no common size fits every venue's order precision", extra={"signal_id": signal.signal_id})
        return []
    return [
        OrderRequest(
            client_order_id=client_order_id(signal.signal_id, i, 0), signal_id=signal.signal_id, game_id=signal.game_id,
            leg_index=i, step=0, venue=leg.venue, market=leg.market, book=leg.book, side=leg.side, action="BUY",
            limit_price=leg.limit_price, size=size, deadline_us=signal.deadline_ts,
        )
        for i, leg in enumerate(signal.legs)
    ]


def step_request(base: OrderRequest, step: int, action: Action, limit_price: int, size: int, deadline_us: int | None = None) -> OrderRequest:
    """A completion/unwind step on the instrument of `base`: its own deterministic client_order_id, and
    its own deadline when given (an unwind must still be sent after the signal's deadline has passed)."""
    return replace(base, client_order_id=client_order_id(base.signal_id, base.leg_index, step), step=step, action=action,
                   limit_price=limit_price, size=size, signed_order=None, venue_order_id=None,
                   deadline_us=base.deadline_us if deadline_us is None else deadline_us)


def intent_event(req: OrderRequest, *, now_us: int, paper: bool) -> OrderEvent:
    return OrderEvent(
        client_order_id=req.client_order_id, signal_id=req.signal_id, game_id=req.game_id, leg_index=req.leg_index,
        step=req.step, type="INTENT", venue=req.venue, market=req.market, side=req.side, action=req.action,
        limit_price=req.limit_price, size=req.size, filled_size=0, fill_cost=0, fee=0,
        venue_order_id=req.venue_order_id, signed_order=req.signed_order, reason=None, paper=paper,
        intent_ts=now_us, sent_ts=None, acked_ts=None, deadline_ts=req.deadline_us,
    )


def result_event(req: OrderRequest, res: LegResult, *, intent_ts: int, paper: bool) -> OrderEvent:
    return OrderEvent(
        client_order_id=req.client_order_id, signal_id=req.signal_id, game_id=req.game_id, leg_index=req.leg_index,
        step=req.step, type=res.type, venue=req.venue, market=req.market, side=req.side, action=req.action,
        limit_price=req.limit_price, size=req.size, filled_size=res.filled, fill_cost=res.fill_cost, fee=res.fee,
        venue_order_id=res.venue_order_id or req.venue_order_id, signed_order=None, reason=res.reason, paper=paper,
        intent_ts=intent_ts, sent_ts=res.sent_ts, acked_ts=res.acked_ts, deadline_ts=req.deadline_us,
    )


def fill_records(req: OrderRequest, res: LegResult, *, paper: bool, ts: int) -> list[Fill]:
    """One Fill per execution when the venue told us them, else one at the average price."""
    if res.filled <= 0:
        return []
    trades = list(res.trades) or [(_avg_price(res.fill_cost, res.filled), res.filled)]
    out = []
    fee_left = res.fee
    for i, (price, size) in enumerate(trades):
        fee = fee_left if i == len(trades) - 1 else res.fee * size // res.filled
        fee_left -= fee
        out.append(Fill(fill_id=f"{req.client_order_id}#{i}", client_order_id=req.client_order_id, signal_id=req.signal_id,
                        game_id=req.game_id, venue=req.venue, market=req.market, side=req.side, action=req.action,
                        price=price, size=size, fee=fee, paper=paper, ts=ts))
    return out


def _avg_price(cost: int, size: int) -> int:
    # money (1e-6) / size (1e-2) = price (1e-4), rounded to nearest
    return (cost + size // 2) // size if size else 0


def outcome_record(signal: Signal, state: OutcomeState, *, paper: bool, ts: int, reason: str | None = None, matched: int = 0,
                   cost: int = 0, fees: int = 0, locked_profit: int = 0) -> Outcome:
    return Outcome(signal_id=signal.signal_id, game_id=signal.game_id, state=state, reason=reason, matched_size=matched,
                   cost=cost, fees=fees, locked_profit=locked_profit, paper=paper, ts=ts)
