"""Fills -> positions (pure, integer money). Idempotent per fill_id: the executor's fill ids are
deterministic, and a fill can still reach the log twice (a write retried by the application after an
attempt that had landed, a window replayed twice), so a repeated fill is ignored.

Per instrument (venue, market, side): net contracts, cost basis of the open contracts (average cost),
fees, realized P&L (closes, and settlement when the market resolved). Unrealized P&L is marked at a
price given by the caller (the best bid: what closing would fetch). Locked-in profit per game is the
worst case over the game's outcomes of what the held contracts pay, minus their cost and fees.

Settlement records (`settlements`, written by discovery) pay each instrument what its own venue says: a Kalshi
YES the record's payout, a Kalshi NO 1 USD minus it, a Polymarket token the payout. The open contracts are
closed at that price, so the game's exposure (cost of open contracts) goes to zero and its P&L is realized.
Fills and settlements fold in any order: a fill of an instrument already settled is settled as it lands.
Realized P&L is also kept per trading day (the day, in the given time zone, of the fill or of the
resolution that realized it). A game whose venues resolved differently (`settlement_mismatch`) is paid per
venue all the same -- that is what the venues pay -- and must be reported, never netted as if hedged.

Records are the typed ones of schemas/records.py. The functions other packages call also take a record as a dict
(`X | Mapping[str, object]`, converted on entry): executor/group_risk.py, cli/commands/positions.py and
demo/acceptance.py still decode dicts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from core.units import ONE_DOLLAR
from schemas.records import Fill, MarketPairing, Position, Settlement, Side, Venue, as_record, to_dict

InstrumentKey = tuple[str, str, str]  # (venue, market, side)


@dataclass
class Holding:
    game_id: str
    venue: Venue
    market: str
    side: Side
    contracts: int = 0  # 1e-2
    cost: int = 0  # 1e-6 USD, of the open contracts
    fees: int = 0
    realized: int = 0
    settled: bool = False
    payout: int | None = None  # 1e-4 USD per contract, once settled

    @property
    def key(self) -> str:
        return f"{self.venue}:{self.market}:{self.side}"

    def avg_cost_price(self) -> int | None:
        """Average cost per contract, 1e-4 USD (rounded down)."""
        return self.cost // self.contracts if self.contracts > 0 else None

    def unrealized(self, mark: int | None) -> int:
        return 0 if mark is None or self.contracts == 0 else mark * self.contracts - self.cost


def settlement_pays(rec: Settlement | Mapping[str, object]) -> dict[InstrumentKey, int]:
    """What each instrument of a Settlement record's market pays per contract (1e-4 USD)."""
    s = as_record(Settlement, rec)
    if s.venue == "KALSHI":  # one ticker, two sides: a NO pays what the YES does not
        return {("KALSHI", s.market, "YES"): s.payout, ("KALSHI", s.market, "NO"): ONE_DOLLAR - s.payout}
    return {(s.venue, s.market, "YES"): s.payout}


def trading_day(ts_us: int, tz: ZoneInfo) -> str:
    return dt.datetime.fromtimestamp(ts_us / 1_000_000, tz).strftime("%Y%m%d")


@dataclass
class Book:
    holdings: dict[InstrumentKey, Holding] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)
    duplicates: int = 0
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("America/New_York"))
    settlements: dict[str, Settlement] = field(default_factory=dict)  # "VENUE:market" -> Settlement record
    payouts: dict[InstrumentKey, tuple[int, int | None]] = field(default_factory=dict)  # -> (payout, resolved_ts)
    daily: dict[str, int] = field(default_factory=dict)  # trading day yyyymmdd -> realized P&L, 1e-6 USD
    conflicting: list[str] = field(default_factory=list)  # a second, different record for a settled market

    def _book_day(self, ts_us: int | None, amount: int) -> None:
        if ts_us is not None and amount:
            day = trading_day(ts_us, self.tz)
            self.daily[day] = self.daily.get(day, 0) + amount

    def apply(self, fill: Fill | Mapping[str, object]) -> bool:
        """Fold one Fill record; False when its fill_id was already folded."""
        f = as_record(Fill, fill)
        if f.fill_id in self.seen:
            self.duplicates += 1
            return False
        self.seen.add(f.fill_id)
        k = (f.venue, f.market, f.side)
        h = self.holdings.get(k) or Holding(f.game_id, f.venue, f.market, f.side)
        self.holdings[k] = h
        before = h.realized
        self._trade(h, f)
        self._book_day(f.ts, h.realized - before)
        if k in self.payouts:  # the market has resolved already: these contracts settle now
            self._settle_holding(h, *self.payouts[k])
        return True

    def _trade(self, h: Holding, fill: Fill) -> None:
        size, price, fee = fill.size, fill.price, fill.fee
        h.fees += fee
        h.realized -= fee
        if fill.action == "BUY":
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

    def fold(self, fills: Iterable[Fill | Mapping[str, object]]) -> Book:
        for f in fills:
            self.apply(f)
        return self

    def _settle_holding(self, h: Holding, payout: int, ts_us: int | None) -> None:
        amount = payout * h.contracts - h.cost
        h.realized += amount
        h.contracts, h.cost, h.settled, h.payout = 0, 0, True, payout
        self._book_day(ts_us, amount)

    def settle(self, pays: Mapping[InstrumentKey, bool | int], ts_us: int | None = None) -> None:
        """Resolve instruments: pays[key] True -> each contract pays $1, False -> 0, an int -> that many 1e-4 USD."""
        for k, p in pays.items():
            payout = (ONE_DOLLAR if p else 0) if isinstance(p, bool) else int(p)
            self.payouts.setdefault(k, (payout, ts_us))
            h = self.holdings.get(k)
            if h is None or h.settled:
                continue
            self._settle_holding(h, payout, ts_us)

    def apply_settlement(self, rec: Settlement | Mapping[str, object]) -> bool:
        """Fold one Settlement record; False when its market was settled already (a second, different record
        is kept in `conflicting` and not applied: what was paid cannot change)."""
        s = as_record(Settlement, rec)
        key = f"{s.venue}:{s.market}"
        old = self.settlements.get(key)
        if old is not None:
            if old.payout != s.payout:
                self.conflicting.append(f"{key}: payout {old.payout} then {s.payout}")
            return False
        self.settlements[key] = s
        self.settle(settlement_pays(s), s.resolved_ts)
        return True

    def fold_settlements(self, recs: Iterable[Settlement | Mapping[str, object]]) -> Book:
        for r in recs:
            self.apply_settlement(r)
        return self

    def games(self) -> set[str]:
        return {h.game_id for h in self.holdings.values()}

    def game_realized(self) -> dict[str, int]:
        """Realized P&L per game (fees included), 1e-6 USD."""
        out: dict[str, int] = {}
        for h in self.holdings.values():
            out[h.game_id] = out.get(h.game_id, 0) + h.realized
        return out

    def exposure(self, game_id: str) -> int:
        """Cost of the game's open contracts (1e-6 USD): zero once its markets settled."""
        return sum(h.cost for h in self.holdings.values() if h.game_id == game_id)

    def settled_games(self) -> set[str]:
        """Games whose every holding is settled (its markets resolved)."""
        games: dict[str, bool] = {}
        for h in self.holdings.values():
            games[h.game_id] = games.get(h.game_id, True) and h.settled
        return {g for g, done in games.items() if done}


def venue_verdict(pairing: MarketPairing | Mapping[str, object], venue: str, settlements: Mapping[str, Settlement]) -> str | None:
    """How `venue` resolved the game, in the game's outcomes (the pairing's `pays_on`): the one outcome its
    payouts match, or "no single outcome (...)" (a 50-50, a void, payouts no outcome explains); None until
    every market of the venue in the pairing has a Settlement record."""
    p = as_record(MarketPairing, pairing)
    instruments: list[tuple[int, list[str]]] = []
    for b in p.books:
        if b.venue != venue:
            continue
        for i in b.instruments:
            rec = settlements.get(f"{venue}:{i.market}")
            if rec is None:
                return None
            instruments.append((settlement_pays(rec)[(venue, i.market, i.side)], list(i.pays_on)))
    if not instruments:
        return None
    fits = [o for o in p.outcomes if all(paid == (ONE_DOLLAR if o in on else 0) for paid, on in instruments)]
    if len(fits) == 1:
        return fits[0]
    paid = ", ".join(f"{'/'.join(on)}:{amount}" for amount, on in instruments)
    return f"no single outcome (pays {paid})"


def settlement_mismatch(pairing: MarketPairing | Mapping[str, object], settlements: Mapping[str, Settlement]) -> dict[str, str] | None:
    """{venue: verdict} when the game's venues have all resolved and their verdicts differ (e.g. Kalshi says
    BUF won, Polymarket KC, or one of them a draw or a 50-50); None otherwise."""
    p = as_record(MarketPairing, pairing)
    verdicts = {v: venue_verdict(p, v, settlements) for v in sorted({b.venue for b in p.books})}
    if len(verdicts) < 2 or any(v is None for v in verdicts.values()):
        return None
    return {k: str(v) for k, v in verdicts.items()} if len(set(verdicts.values())) > 1 else None


def locked_profit(book: Book, game_id: str, outcomes: list[str], pays_on: Mapping[InstrumentKey, list[str]]) -> int:
    """Worst case over the outcomes of (what the open contracts pay) - their cost - all fees of the game."""
    hs = [h for k, h in book.holdings.items() if h.game_id == game_id]
    if not hs or not outcomes:
        return 0
    spent = sum(h.cost for h in hs) + sum(h.fees for h in hs)
    worst = min(sum(ONE_DOLLAR * h.contracts for k, h in book.holdings.items() if h.game_id == game_id and o in pays_on.get(k, []))
                for o in outcomes)
    return worst - spent


def pays_on_index(pairings: Mapping[str, MarketPairing | Mapping[str, object]]) -> tuple[dict[InstrumentKey, list[str]], dict[str, list[str]]]:
    """(instrument -> outcomes it pays on, game -> outcomes) from MarketPairing records."""
    idx: dict[InstrumentKey, list[str]] = {}
    outcomes: dict[str, list[str]] = {}
    for gid, pairing in pairings.items():
        p = as_record(MarketPairing, pairing)
        outcomes[gid] = list(p.outcomes)
        for b in p.books:
            for i in b.instruments:
                idx[(b.venue, i.market, i.side)] = list(i.pays_on)
    return idx, outcomes


def position(h: Holding, mark: int | None, ts: int) -> Position:
    return Position(key=h.key, game_id=h.game_id, venue=h.venue, market=h.market, side=h.side, contracts=h.contracts, cost=h.cost,
                    fees=h.fees, realized_pnl=h.realized, unrealized_pnl=h.unrealized(mark), mark_price=mark, settled=h.settled, ts=ts)


def position_record(h: Holding, mark: int | None, ts: int) -> dict[str, object]:
    """position() as a dict (the rows of `arb positions`, cli/commands/positions.py)."""
    return to_dict(position(h, mark, ts))
