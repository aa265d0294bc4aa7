"""Pairing: the same game at both venues -> one MarketPairing record (pure).

Two venue games match when league, game date (America/New_York) and both teams agree; the Kalshi
event gives the canonical game id and away/home order. Overrides force or block pairs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from producers.discovery.model import DRAW, Rejected, VenueGame
from producers.discovery.overrides import Overrides


@dataclass
class MatchResult:
    pairings: dict[str, dict[str, Any]] = field(default_factory=dict)  # game_id -> MarketPairing (without updated_ts)
    unmatched: list[Rejected] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)


def game_id(league: str, date: str, away: str, home: str) -> str:
    return f"{league}-{date}-{away}-{home}".lower()


def pairing_record(kalshi: VenueGame, poly: VenueGame, draws: bool) -> dict[str, Any]:
    if kalshi.away is None or kalshi.home is None:
        raise ValueError(f"Kalshi game {kalshi.event} has no away/home order")
    outcomes = [kalshi.away, kalshi.home] + ([DRAW] if draws else [])
    books = []
    for b in kalshi.books + poly.books:
        books.append({"venue": b.venue, "market": b.market, "event": b.event, "tick_size": b.tick_size, "min_size": b.min_size,
                      "fee": dict(b.fee), "seconds_delay": b.seconds_delay, "neg_risk": b.neg_risk,
                      "exchange_version": b.exchange_version, "exchange_index": b.exchange_index,
                      "instruments": [{"market": i.market, "side": i.side, "label": i.label(), "pays_on": i.pays_on(outcomes)}
                                      for i in b.instruments]})
    return {"game_id": game_id(kalshi.league, kalshi.date, kalshi.away, kalshi.home), "league": kalshi.league, "game_date": kalshi.date,
            "start_ts": poly.start_ts or kalshi.start_ts, "away": kalshi.away, "home": kalshi.home, "outcomes": outcomes, "books": books}


def match(kalshi_games: list[VenueGame], poly_games: list[VenueGame], overrides: Overrides, draws_by_league: dict[str, bool]) -> MatchResult:
    out = MatchResult()
    k_games = [g for g in kalshi_games if g.event not in overrides.block_kalshi]
    p_games = [g for g in poly_games if g.event not in overrides.block_polymarket and g.event_id not in overrides.block_polymarket]
    by_key: dict[tuple[str, str, frozenset[str]], list[VenueGame]] = {}
    for g in p_games:
        by_key.setdefault(g.key, []).append(g)
    forced = dict(overrides.force)
    p_by_ref = {ref: g for g in p_games for ref in (g.event, g.event_id)}
    used_poly: set[str] = set()
    for k in k_games:
        if k.event in forced:
            p = p_by_ref.get(forced[k.event])
            if p is None:
                out.unmatched.append(Rejected("KALSHI", k.event, f"forced pair: Polymarket event {forced[k.event]!r} not found"))
                continue
            if p.teams != k.teams:
                out.unmatched.append(Rejected("KALSHI", k.event, f"forced pair: teams differ ({sorted(k.teams)} vs {sorted(p.teams)}); add aliases"))
                continue
        else:
            candidates = [p for p in by_key.get(k.key, []) if p.event not in used_poly]
            if not candidates:
                out.unmatched.append(Rejected("KALSHI", k.event, "no Polymarket game with the same league, date and teams"))
                continue
            if len(candidates) > 1:
                out.unmatched.append(Rejected("KALSHI", k.event, f"ambiguous: {len(candidates)} Polymarket events match; force one"))
                continue
            p = candidates[0]
        used_poly.add(p.event)
        rec = pairing_record(k, p, draws_by_league.get(k.league, False))
        if rec["game_id"] in overrides.block_games:
            out.blocked.append(rec["game_id"])
            continue
        out.pairings[rec["game_id"]] = rec
    out.unmatched += [Rejected("POLYMARKET", p.event, "no Kalshi game with the same league, date and teams")
                      for p in p_games if p.event not in used_poly]
    return out
