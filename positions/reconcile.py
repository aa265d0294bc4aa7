"""Our positions (folded from `fills`) against the venues' positions endpoints: drift per instrument (pure; the
venues are read by positions/venue_positions.py).

What is compared: per venue key (Kalshi ticker, signed YES contracts, a NO is negative; Polymarket token,
shares), of the venues read completely. Left out on both sides: a market with a Settlement record (our
holding is paid and closed; the venue may still list it until it pays or the shares are redeemed). A market of
a game that ended (withdrawn from `markets`) whose Settlement record has not arrived yet, which the venue no
longer reports (it paid out first), is `awaiting_settlement`, not drift. A drift becomes an alert only once it
has been seen in `confirm` consecutive checks (DriftTracker): a fill the venue reports before its record
reaches `fills` is gone by the next check.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import TypedDict

from core.units import parse_size
from positions.fold import Book

VenueKey = tuple[str, str]  # (venue, Kalshi ticker / Polymarket token)
JsonRow = Mapping[str, object]  # one object of a venue's JSON answer


class Drift(TypedDict):
    """One instrument whose holdings differ (a dict: `arb positions --json` prints it as it is)."""

    venue: str
    market: str
    ours: int
    venue_reports: int


class SeenDrift(Drift):
    checks: int  # consecutive checks it was seen in


def ours_by_venue_key(book: Book) -> dict[VenueKey, int]:
    """Net holdings in the venues' terms: Kalshi signed YES contracts per ticker (NO is negative);
    Polymarket shares per token. Settled holdings are closed (0 contracts) and so not counted."""
    out: dict[VenueKey, int] = {}
    for h in book.holdings.values():
        if h.venue == "KALSHI":
            k, q = ("KALSHI", h.market), h.contracts if h.side == "YES" else -h.contracts
        else:
            k, q = ("POLYMARKET", h.market), h.contracts
        out[k] = out.get(k, 0) + q
    return {k: v for k, v in out.items() if v}


def kalshi_positions(market_positions: Sequence[JsonRow]) -> dict[tuple[str, str], int]:
    out: dict[tuple[str, str], int] = {}
    for p in market_positions:
        if q := parse_size(str(p.get("position_fp") or "0"), signed=True):
            out[("KALSHI", str(p["ticker"]))] = q
    return out


def polymarket_positions(rows: Sequence[JsonRow]) -> dict[tuple[str, str], int]:
    """Shares per token from Data API `GET /positions` rows (venues/polymarket/rest.py PolymarketDataApi):
    the documented shape (`asset`, `size`), the recorded one (`token_id`, `current_size`;
    tests/resources/polymarket/data_api_positions_response.json) or the simulator's (`size_fp`). Sizes
    are floored to our 0.01-share unit (dust below it is no position for us). A row without a token or
    with an unreadable size raises ValueError: a position is never dropped silently."""
    out: dict[tuple[str, str], int] = {}
    for r in rows:
        token = r.get("asset") or r.get("token_id")
        raw = next((r[k] for k in ("size_fp", "size", "current_size") if r.get(k) is not None), None)
        if not token or raw is None or isinstance(raw, bool):
            raise ValueError(f"Data API position without a token or a size: {str(r)[:200]!r}")
        # The Data API writes sizes as JSON numbers: read them as decimals, never through float arithmetic.
        try:
            size = Decimal(str(raw)).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
            q = parse_size(format(size, "f"))
        except (InvalidOperation, ValueError):
            raise ValueError(f"Data API position {token} with an unreadable size {raw!r}") from None
        if q:
            key = ("POLYMARKET", str(token))
            out[key] = out.get(key, 0) + q
    return out


def drift(ours: dict[tuple[str, str], int], venue: dict[tuple[str, str], int]) -> list[Drift]:
    return [Drift(venue=v, market=m, ours=ours.get((v, m), 0), venue_reports=venue.get((v, m), 0))
            for v, m in sorted(set(ours) | set(venue)) if ours.get((v, m), 0) != venue.get((v, m), 0)]


def settled_keys(book: Book) -> set[VenueKey]:
    """The venue keys whose market has a Settlement record (its key is `VENUE:market`, the market as in `fills`)."""
    return {(k.split(":", 1)[0], k.split(":", 1)[1]) for k in book.settlements}


@dataclass(frozen=True)
class Comparison:
    drift: list[Drift]  # instruments that differ, of the judged venues
    awaiting_settlement: list[Drift]  # differ only because the venue paid out before our Settlement record
    judged: tuple[str, ...]


def compare(book: Book, venue: dict[VenueKey, int], judged: Collection[str], *, ended_games: Collection[str] = ()) -> Comparison:
    """Our book against the venues' positions, for the venues in `judged` only (read completely)."""
    settled = settled_keys(book)
    games: dict[VenueKey, str] = {(h.venue, h.market): h.game_id for h in book.holdings.values()}
    ours = {k: v for k, v in ours_by_venue_key(book).items() if k[0] in judged and k not in settled}
    theirs = {k: v for k, v in venue.items() if k[0] in judged and k not in settled}
    differ = drift(ours, theirs)
    awaiting = [d for d in differ if d["venue_reports"] == 0 and games.get((d["venue"], d["market"])) in ended_games]
    return Comparison([d for d in differ if d not in awaiting], awaiting, tuple(sorted(judged)))


@dataclass
class Verdict:
    drift: list[SeenDrift]  # confirmed: seen in `confirm` consecutive checks
    unconfirmed: list[SeenDrift]  # seen, not (yet) in enough consecutive checks
    unreadable: dict[str, str]  # venue -> why, failing in `confirm` consecutive checks
    awaiting_settlement: list[Drift]


@dataclass
class DriftTracker:
    """Consecutive checks per drifting instrument and per venue that could not be read. A venue not read this time
    keeps its instruments' state as it was (not judged is not "no drift")."""

    confirm: int = 2
    streak: dict[VenueKey, int] = field(default_factory=dict)
    last: dict[VenueKey, Drift] = field(default_factory=dict)
    failing: dict[str, int] = field(default_factory=dict)

    def observe(self, comparison: Comparison, failed: dict[str, str]) -> Verdict:
        now = {(d["venue"], d["market"]): d for d in comparison.drift}
        for k in [k for k in self.streak if k[0] in comparison.judged and k not in now]:
            del self.streak[k], self.last[k]
        for k, d in now.items():
            self.streak[k] = self.streak.get(k, 0) + 1
            self.last[k] = d
        for v in comparison.judged:
            self.failing.pop(v, None)
        for v in failed:
            self.failing[v] = self.failing.get(v, 0) + 1
        rows = [SeenDrift(**self.last[k], checks=n) for k, n in sorted(self.streak.items())]
        return Verdict(drift=[r for r in rows if r["checks"] >= self.confirm], unconfirmed=[r for r in rows if r["checks"] < self.confirm],
                       unreadable={v: why for v, why in sorted(failed.items()) if self.failing.get(v, 0) >= self.confirm},
                       awaiting_settlement=comparison.awaiting_settlement)
