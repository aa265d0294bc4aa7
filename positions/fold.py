"""Fills -> positions (pure, integer money). Idempotent per fill_id: the executor's fill ids are
deterministic, and a fill can still reach the log twice (a write retried by the application after an
attempt that had landed, a window replayed twice), so a repeated fill is ignored.

Per instrument (venue, market, side): net contracts, cost basis of the open contracts (average cost),
fees, realized P&L (closes, and settlement when the market resolved). Unrealized P&L is marked at a
price given by the caller (the best bid: what closing would fetch). Locked-in profit per game is the
worst case over the game's outcomes of what the held contracts pay, minus their cost and fees.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from core.units import ONE_DOLLAR

InstrumentKey = tuple[str, str, str]  # (venue, market, side)


@dataclass
class Holding:
    game_id: str
    venue: str
    market: str
    side: str
    contracts: int = 0  # 1e-2
    cost: int = 0  # 1e-6 USD, of the open contracts
    fees: int = 0
    realized: int = 0
    settled: bool = False

    @property
    def key(self) -> str:
        return f"{self.venue}:{self.market}:{self.side}"

    def avg_cost_price(self) -> int | None:
        """Average cost per contract, 1e-4 USD (rounded down)."""
        return self.cost // self.contracts if self.contracts > 0 else None

    def unrealized(self, mark: int | None) -> int:
        return 0 if mark is None or self.contracts == 0 else mark * self.contracts - self.cost


@dataclass
class Book:
    holdings: dict[InstrumentKey, Holding] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)
    duplicates: int = 0

    def apply(self, fill: Mapping[str, Any]) -> bool:
        """Fold one Fill record; False when its fill_id was already folded."""
        if fill["fill_id"] in self.seen:
            self.duplicates += 1
            return False
        self.seen.add(fill["fill_id"])
        k = (fill["venue"], fill["market"], fill["side"])
        h = self.holdings.get(k) or Holding(fill["game_id"], *k)
        self.holdings[k] = h
        size, price, fee = int(fill["size"]), int(fill["price"]), int(fill["fee"])
        h.fees += fee
        h.realized -= fee
        if fill["action"] == "BUY":
            if h.contracts >= 0:
                h.contracts += size
                h.cost += price * size
            else:  # buying back a short
                closed = min(size, -h.contracts)
                removed = h.cost * closed // -h.contracts
                h.realized += removed - price * closed
                h.cost -= removed
                h.contracts += closed
                if size > closed:
                    h.contracts += size - closed
                    h.cost += price * (size - closed)
        else:
            if h.contracts <= 0:  # selling without a long: a short (not expected from the executor)
                h.contracts -= size
                h.cost -= price * size
            else:
                closed = min(size, h.contracts)
                removed = h.cost * closed // h.contracts
                h.realized += price * closed - removed
                h.cost -= removed
                h.contracts -= closed
                if size > closed:
                    h.contracts -= size - closed
                    h.cost -= price * (size - closed)
        return True

    def fold(self, fills: Iterable[Mapping[str, Any]]) -> Book:
        for f in fills:
            self.apply(f)
        return self

    def settle(self, pays: Mapping[InstrumentKey, bool]) -> None:
        """Resolve instruments: pays[key] True -> each contract pays $1; False -> 0."""
        for k, wins in pays.items():
            h = self.holdings.get(k)
            if h is None or h.settled:
                continue
            h.realized += (ONE_DOLLAR * h.contracts if wins else 0) - h.cost
            h.contracts, h.cost, h.settled = 0, 0, True

    def games(self) -> set[str]:
        return {h.game_id for h in self.holdings.values()}


def locked_profit(book: Book, game_id: str, outcomes: list[str], pays_on: Mapping[InstrumentKey, list[str]]) -> int:
    """Worst case over the outcomes of (what the open contracts pay) - their cost - all fees of the game."""
    hs = [h for k, h in book.holdings.items() if h.game_id == game_id]
    if not hs or not outcomes:
        return 0
    spent = sum(h.cost for h in hs) + sum(h.fees for h in hs)
    worst = min(sum(ONE_DOLLAR * h.contracts for k, h in book.holdings.items() if h.game_id == game_id and o in pays_on.get(k, []))
                for o in outcomes)
    return worst - spent


def pays_on_index(pairings: Mapping[str, Mapping[str, Any]]) -> tuple[dict[InstrumentKey, list[str]], dict[str, list[str]]]:
    """(instrument -> outcomes it pays on, game -> outcomes) from MarketPairing records."""
    idx: dict[InstrumentKey, list[str]] = {}
    outcomes: dict[str, list[str]] = {}
    for gid, p in pairings.items():
        outcomes[gid] = list(p["outcomes"])
        for b in p["books"]:
            for i in b["instruments"]:
                idx[(b["venue"], i["market"], i["side"])] = list(i["pays_on"])
    return idx, outcomes


def position_record(h: Holding, mark: int | None, ts: int) -> dict[str, Any]:
    return {"key": h.key, "game_id": h.game_id, "venue": h.venue, "market": h.market, "side": h.side, "contracts": h.contracts,
            "cost": h.cost, "fees": h.fees, "realized_pnl": h.realized, "unrealized_pnl": h.unrealized(mark), "mark_price": mark,
            "settled": h.settled, "ts": ts}
