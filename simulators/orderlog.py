"""The simulator's ground-truth order log: every order request a venue API received, accepted or not.

Tests and benchmarks read it (admin `GET /orders`) to check what really happened at the venue, e.g.
that a re-sent IOC executed twice. Background scenario orders are not logged (they would swamp it).

Faults (simulators/faults.py) show in each record: `fault` names the fault that hit the request ("" for none), and
`http_status` is the answer the client got -- 500 for an order that executed and whose answer was replaced
(`fault` "accept_then_5xx", `accepted` true, fills as usual), 0 for one whose answer was lost ("accept_then_timeout").
`visible_us` is the sim time from which lookups see an accepted order (`lookup_lag_ms`; 0: at once).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class FillRecord:
    trade_id: str
    price: int  # primary-instrument price, 1e-4 USD
    size: int  # 1e-2 contracts
    fee: int  # 1e-6 USD paid by this order for this fill
    is_taker: bool
    ts_us: int


@dataclass
class OrderRecord:
    seq: int
    venue: str  # "KALSHI" | "POLYMARKET"
    kind: str  # "create" | "cancel" | "legacy"
    received_us: int
    account: str
    request: dict[str, Any]
    accepted: bool = False
    http_status: int = 0  # the answer the client got; 0: none (accept_then_timeout)
    reason: str = ""
    order_id: str = ""
    client_order_id: str = ""
    book_id: str = ""
    side: str = ""  # engine BookSide of the primary instrument ("buy"/"sell")
    price: int = 0
    size: int = 0
    tif: str = ""
    status: str = ""  # "resting" | "executed" | "canceled" | "rejected" | "delayed" (Polymarket, until it matches)
    remaining: int = 0  # still resting
    filled: int = 0
    fees: int = 0
    fill_cost: int = 0  # sum of price x size over fills, 1e-6 USD
    fills: list[FillRecord] = field(default_factory=list)
    last_update_us: int = 0
    extra: dict[str, Any] = field(default_factory=dict)  # venue-specific (e.g. Polymarket order hash inputs)
    # the fault that hit this request: accept_then_5xx | accept_then_timeout | 401 | clock_skew (simulators/faults.py),
    # or for a refusal before the handler 429 | 5xx | cancel_only (Polymarket; Kalshi's say reason "fault injected")
    fault: str = ""
    visible_us: int = 0  # lookups see this accepted order from this sim time on (lookup_lag_ms); 0: at once

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def add_fill(self, fill: FillRecord) -> None:
        self.fills.append(fill)
        self.filled += fill.size
        self.fees += fill.fee
        self.fill_cost += fill.price * fill.size
        self.last_update_us = fill.ts_us


class OrderLog:
    def __init__(self) -> None:
        self.records: list[OrderRecord] = []
        self.by_order_id: dict[str, OrderRecord] = {}
        self._open_coid: dict[tuple[str, str, str], str] = {}  # (venue, account, coid) -> order id
        self._seen_coid: set[tuple[str, str, str]] = set()

    def new(self, venue: str, kind: str, received_us: int, account: str, request: dict[str, Any]) -> OrderRecord:
        rec = OrderRecord(seq=len(self.records) + 1, venue=venue, kind=kind, received_us=received_us, account=account,
                          request=request, last_update_us=received_us)
        self.records.append(rec)
        return rec

    def register(self, rec: OrderRecord) -> None:
        """Index an accepted order by id and client id."""
        self.by_order_id[rec.order_id] = rec
        if rec.client_order_id:
            key = (rec.venue, rec.account, rec.client_order_id)
            self._seen_coid.add(key)
            if rec.status == "resting":
                self._open_coid[key] = rec.order_id

    def closed(self, rec: OrderRecord) -> None:
        """An order stopped resting (filled or cancelled): its client id is free again at venues that allow it."""
        if rec.client_order_id:
            key = (rec.venue, rec.account, rec.client_order_id)
            if self._open_coid.get(key) == rec.order_id:
                del self._open_coid[key]

    def coid_open(self, venue: str, account: str, coid: str) -> bool:
        return (venue, account, coid) in self._open_coid

    def coid_seen(self, venue: str, account: str, coid: str) -> bool:
        return (venue, account, coid) in self._seen_coid

    def visible(self, rec: OrderRecord, now_us: int) -> bool:
        """Whether order lookups see `rec` at sim time `now_us` (lookup_lag_ms)."""
        return now_us >= rec.visible_us

    def query(self, venue: str | None = None, account: str | None = None, since_seq: int = 0) -> list[OrderRecord]:
        return [r for r in self.records[since_seq:] if (venue is None or r.venue == venue) and (account is None or r.account == account)]
