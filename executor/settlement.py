"""Leg-risk policy: what to do when the legs of a signal did not fill equally (docs/design.md, docs/risk.md).

IOC on two venues is not atomic: one leg can fill and the other not, and a Polymarket BUY that matches
at better prices gets more shares for the same pUSD. After the legs answer, net holdings per leg are
compared BY LEG INDEX (never by arrival order):
1. complete: while before the deadline, buy the missing size on each short leg at that leg's original
   limit price (the signal's edge was computed at those limits, so completing there stays profitable);
2. unwind: sell the excess on each long leg with IOC at progressively worse prices, step k at
   (entry average - k ticks), never below (entry average - max loss per contract).
Every step is a new order with its own deterministic client_order_id (signal:leg:step). Pure: the
executor sends what `next_steps` returns and asks again until it returns nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.units import ONE_DOLLAR, notional
from executor.limits import unwind_price
from executor.orders import LegResult, OrderRequest, outcome_record, step_request
from schemas.records import Outcome, OutcomeState, Signal


def not_sent(res: LegResult | None) -> bool:
    """The order never reached the venue (refused locally: breaker open, or rate limited until its deadline)."""
    return res is not None and res.type in ("REJECT", "CANCELLED") and (res.reason or "").startswith("not sent")


@dataclass(frozen=True)
class Settler:
    tick: int = 100  # 1e-4 USD; unwind prices are on this grid
    unwind_steps: int = 4
    max_unwind_loss: int = 500  # 1e-4 USD per contract below the entry average
    complete_first: bool = True
    # A Polymarket BUY that matched at better prices holds a few extra shares; below the venue's minimum
    # order size they can be neither sold nor matched by whole Kalshi contracts: accepted as dust.
    poly_dust: int = 500  # 1e-2 shares
    kalshi_lot: int = 100  # Kalshi orders are whole contracts here
    unwind_ttl_us: int = 2_000_000  # each unwind step's own deadline, from when it is created
    max_unsent_steps: int = 20  # unwind steps per leg that may end "not sent" (breaker open, 429s) before giving up

    def _dust(self, base: list[OrderRequest], nets: list[int]) -> bool:
        top = max(nets)
        longs = [b for b, n in zip(base, nets, strict=True) if n == top]
        return top - min(nets) < self.poly_dust and all(b.venue == "POLYMARKET" for b in longs)

    def _lot(self, req: OrderRequest, size: int) -> int:
        return size - size % self.kalshi_lot if req.venue == "KALSHI" else size

    @staticmethod
    def _net(leg: int, orders: list[OrderRequest], results: dict[str, LegResult]) -> int:
        net = 0
        for o in orders:
            r = results.get(o.client_order_id)
            if o.leg_index == leg and r is not None:
                net += r.filled if o.action == "BUY" else -r.filled
        return net

    def nets(self, base: list[OrderRequest], steps: list[OrderRequest], results: dict[str, LegResult]) -> list[int]:
        orders = base + steps
        return [self._net(b.leg_index, orders, results) for b in base]

    @staticmethod
    def _entry_avg(leg: int, orders: list[OrderRequest], results: dict[str, LegResult]) -> int:
        cost = size = 0
        for o in orders:
            r = results.get(o.client_order_id)
            if o.leg_index == leg and o.action == "BUY" and r is not None and r.filled:
                cost += r.fill_cost
                size += r.filled
        return cost // size if size else 0  # money / size(1e-2) -> price units (1e-4)

    def next_steps(self, signal: Signal, base: list[OrderRequest], steps: list[OrderRequest],
                   results: dict[str, LegResult], now_us: int) -> list[OrderRequest]:
        orders = base + steps
        if any(results.get(o.client_order_id) is not None and results[o.client_order_id].type == "ACK" for o in orders):
            return []  # a pending order (Polymarket `delayed`) may still fill: decide once it is final
        # An UNKNOWN order counts as not filled, and its leg is never bought again (if it did fill, a second
        # buy would double it): the known excess is unwound, and the outcome reports what stays unknown.
        unknown_legs = {o.leg_index for o in orders if (r := results.get(o.client_order_id)) is not None and r.type == "UNKNOWN"}
        nets = self.nets(base, steps, results)
        if len(set(nets)) <= 1 or self._dust(base, nets):
            return []
        step_no = 1 + max((o.step for o in orders), default=0)
        top, bottom = max(nets), min(nets)
        if self.complete_first and now_us < signal.deadline_ts:
            tried = {o.leg_index for o in steps if o.action == "BUY"} | unknown_legs
            sized = [(b, self._lot(b, top - n)) for b, n in zip(base, nets, strict=True) if n < top and b.leg_index not in tried]
            completes = [(b, size) for b, size in sized if size > 0]
            if completes:
                return [step_request(b, step_no + i, "BUY", b.limit_price, size) for i, (b, size) in enumerate(completes)]
        out: list[OrderRequest] = []
        for b, n in zip(base, nets, strict=True):
            if n <= bottom or b.leg_index in unknown_legs:
                continue  # never sell again on a leg with an order in an unknown state: it may have sold already
            sells = [o for o in steps if o.leg_index == b.leg_index and o.action == "SELL"]
            # A step that never left (breaker open, rate limited to its deadline) is no attempt at the venue: it
            # does not move the ladder down, but it counts toward a cap of its own so the policy ends.
            unsent = sum(1 for o in sells if not_sent(results.get(o.client_order_id)))
            k = 1 + len(sells) - unsent
            if k > self.unwind_steps or unsent >= self.max_unsent_steps:
                continue
            entry = self._entry_avg(b.leg_index, orders, results)
            price = unwind_price(entry, k, self.tick, self.max_unwind_loss)
            size = self._lot(b, n - bottom)
            if size > 0:
                out.append(step_request(b, step_no + len(out), "SELL", price, size, deadline_us=now_us + self.unwind_ttl_us))
        return out

    def unhedged(self, base: list[OrderRequest], steps: list[OrderRequest], results: dict[str, LegResult]) -> dict[str, int]:
        """Contracts (1e-2) per venue that may be held without their cover: each leg's known excess over the
        least-filled leg, plus the size of every order whose state is UNKNOWN (it may have filled)."""
        nets = self.nets(base, steps, results)
        out: dict[str, int] = {}
        for b, n in zip(base, nets, strict=True):
            if nets and n > min(nets):
                out[b.venue] = out.get(b.venue, 0) + n - min(nets)
        for o in base + steps:
            r = results.get(o.client_order_id)
            if r is not None and r.type == "UNKNOWN":
                out[o.venue] = out.get(o.venue, 0) + o.size
        return out

    def outcome(self, signal: Signal, base: list[OrderRequest], steps: list[OrderRequest], results: dict[str, LegResult],
                *, paper: bool, ts: int) -> Outcome:
        orders = base + steps
        fees = sum(r.fee for r in results.values())
        cost = fees
        for o in orders:
            r = results.get(o.client_order_id)
            if r is not None:
                cost += r.fill_cost if o.action == "BUY" else -r.fill_cost
        nets = self.nets(base, steps, results)
        matched = max(0, min(nets)) if nets else 0
        locked_profit = notional(ONE_DOLLAR, matched) - cost

        def record(state: OutcomeState, reason: str | None) -> Outcome:
            return outcome_record(signal, state, reason=reason, paper=paper, ts=ts, matched=matched, cost=cost, fees=fees,
                                  locked_profit=locked_profit)

        pending = [o.client_order_id for o in orders if (r := results.get(o.client_order_id)) is not None and r.type == "ACK"]
        if pending:
            return record("PENDING", f"accepted, not final yet: {', '.join(pending)}")
        unknown = [o.client_order_id for o in orders if (r := results.get(o.client_order_id)) is not None and r.type == "UNKNOWN"]
        if unknown:
            return record("UNKNOWN", f"order state unknown: {', '.join(unknown)}; known net per leg {nets}")
        reason = None
        if len(set(nets)) > 1:
            if not self._dust(base, nets):
                return record("UNKNOWN", f"imbalance left after the policy gave up: net per leg {nets}")
            reason = f"Polymarket dust below min size kept: net per leg {nets}"
        size = base[0].size if base else 0
        state: OutcomeState
        if any(o.action == "SELL" for o in steps):
            state = "UNWOUND"
        elif steps:
            state = "COMPLETED"
        elif matched == 0:
            state = "NOT_FILLED"
        elif matched >= size:
            state = "FILLED"
        else:
            state = "PARTIAL_BALANCED"
        return record(state, reason)
