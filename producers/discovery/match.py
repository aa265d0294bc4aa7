"""Pairing: the same game at both venues -> one MarketPairing record (pure).

Two venue games match when league, game date (America/New_York) and both teams agree and, where both
venues state a scheduled start, the starts are within `start_tolerance_s` of each other (two games between
the same teams on one day -- a doubleheader -- differ only by it). A pair is made only when it is the one
candidate on *both* sides; anything else is refused as ambiguous (force it with an override). A game whose
scheduled start is more than `max_started_s` ago is not paired at all: a finished game's market stays listed
until it resolves. The Kalshi event gives the canonical game id and away/home order. Overrides force or
block pairs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from producers.discovery.model import DRAW, Rejected, VenueGame
from producers.discovery.overrides import Overrides
from producers.discovery.settings import DiscoverySettings

NO_KALSHI = "no Kalshi game with the same league, date and teams"
NO_POLY = "no Polymarket game with the same league, date and teams"


@dataclass(frozen=True)
class PairingRules:
    """The time rules of pairing (ARB_DISCOVER_START_TOLERANCE_S, ARB_DISCOVER_MAX_STARTED_S)."""

    start_tolerance_s: float = DiscoverySettings.start_tolerance_s
    max_started_s: float = DiscoverySettings.max_started_s  # 0: no bound

    @classmethod
    def from_settings(cls, ds: DiscoverySettings) -> PairingRules:
        return cls(start_tolerance_s=ds.start_tolerance_s, max_started_s=ds.max_started_s)

    @classmethod
    def from_env(cls) -> PairingRules:
        from core.config import load

        return cls.from_settings(load(DiscoverySettings))


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


def _minutes(us: int) -> str:
    minutes = abs(us) / 60e6
    return f"{minutes:.0f} min" if minutes < 120 else f"{minutes / 60:.1f} h"


def _starts_agree(k: VenueGame, p: VenueGame, tolerance_us: int) -> bool:
    return k.start_ts is None or p.start_ts is None or abs(k.start_ts - p.start_ts) <= tolerance_us


def match(kalshi_games: list[VenueGame], poly_games: list[VenueGame], overrides: Overrides, draws_by_league: dict[str, bool], *,
          now_us: int | None = None, rules: PairingRules | None = None) -> MatchResult:
    """Pair the venues' games. `now_us` defaults to the wall clock, `rules` to the ARB_DISCOVER_* settings."""
    out = MatchResult()
    rules = rules if rules is not None else PairingRules.from_env()
    now = now_us if now_us is not None else time.time_ns() // 1000
    tolerance = int(rules.start_tolerance_s * 1e6)
    k_games = [g for g in kalshi_games if g.event not in overrides.block_kalshi]
    p_games = [g for g in poly_games if g.event not in overrides.block_polymarket and g.event_id not in overrides.block_polymarket]
    if rules.max_started_s > 0:  # a game that started too long ago may be over; its market can stay listed for hours
        limit = now - int(rules.max_started_s * 1e6)
        for g in [g for g in k_games + p_games if g.start_ts is not None and g.start_ts < limit]:
            out.unmatched.append(Rejected(g.venue, g.event, f"game started {_minutes(now - (g.start_ts or 0))} ago "
                                                            f"(more than ARB_DISCOVER_MAX_STARTED_S={rules.max_started_s:g} s)"))
        k_games = [g for g in k_games if g.start_ts is None or g.start_ts >= limit]
        p_games = [g for g in p_games if g.start_ts is None or g.start_ts >= limit]

    pairs: list[tuple[VenueGame, VenueGame]] = []
    p_by_ref = {ref: g for g in p_games for ref in (g.event, g.event_id)}
    forced = dict(overrides.force)
    used_poly: set[str] = set()
    free_k: list[VenueGame] = []
    for k in k_games:
        if k.event not in forced:
            free_k.append(k)
            continue
        p = p_by_ref.get(forced[k.event])
        if p is None:
            out.unmatched.append(Rejected("KALSHI", k.event, f"forced pair: Polymarket event {forced[k.event]!r} not found (or not tradable)"))
        elif p.teams != k.teams:
            out.unmatched.append(Rejected("KALSHI", k.event, f"forced pair: teams differ ({sorted(k.teams)} vs {sorted(p.teams)}); add aliases"))
        elif p.event in used_poly:
            out.unmatched.append(Rejected("KALSHI", k.event, f"forced pair: Polymarket event {p.event!r} is forced twice"))
        else:
            used_poly.add(p.event)
            pairs.append((k, p))

    # Candidates: same league/date/teams and (where both are known) starts within the tolerance.
    free_p = [p for p in p_games if p.event not in used_poly]
    by_key: dict[tuple[str, str, frozenset[str]], list[VenueGame]] = {}
    for p in free_p:
        by_key.setdefault(p.key, []).append(p)
    k_cands = {k.event: [p for p in by_key.get(k.key, []) if _starts_agree(k, p, tolerance)] for k in free_k}
    p_cands: dict[str, list[VenueGame]] = {p.event: [] for p in free_p}
    for k in free_k:
        for p in k_cands[k.event]:
            p_cands[p.event].append(k)
    for k in free_k:
        cands = k_cands[k.event]
        if len(cands) == 1 and len(p_cands[cands[0].event]) == 1:
            used_poly.add(cands[0].event)
            pairs.append((k, cands[0]))
        elif len(cands) > 1:
            out.unmatched.append(Rejected("KALSHI", k.event, f"ambiguous: {len(cands)} Polymarket events match "
                                                             f"({', '.join(sorted(p.event for p in cands))}); force one"))
        elif cands:
            others = sorted(o.event for o in p_cands[cands[0].event] if o is not k)
            out.unmatched.append(Rejected("KALSHI", k.event, f"ambiguous: Polymarket event {cands[0].event} also matches Kalshi "
                                                             f"{', '.join(others)}; force one"))
        else:
            near = [p for p in by_key.get(k.key, []) if k.start_ts is not None and p.start_ts is not None]
            why = NO_POLY + (f" and a start within {_minutes(tolerance)}" if near else "")
            if near:
                why += " (" + ", ".join(f"{p.event} starts {_minutes((p.start_ts or 0) - (k.start_ts or 0))} "
                                        f"{'later' if (p.start_ts or 0) > (k.start_ts or 0) else 'earlier'}" for p in near) + ")"
            out.unmatched.append(Rejected("KALSHI", k.event, why))
    for p in free_p:
        if p.event in used_poly:
            continue
        ks = p_cands[p.event]
        why = NO_KALSHI if not ks else f"ambiguous: {len(ks)} Kalshi events match ({', '.join(sorted(k.event for k in ks))}); force one"
        out.unmatched.append(Rejected("POLYMARKET", p.event, why))

    records: dict[str, list[tuple[VenueGame, VenueGame, dict[str, Any]]]] = {}
    for k, p in pairs:
        rec = pairing_record(k, p, draws_by_league.get(k.league, False))
        records.setdefault(rec["game_id"], []).append((k, p, rec))
    for gid, recs in records.items():
        if len(recs) > 1:  # e.g. both games of a doubleheader: one game_id cannot carry two games
            events = sorted(e for k, p, _ in recs for e in (k.event, p.event))
            for k, p, _ in recs:
                why = f"game_id {gid} collision: {', '.join(events)} are distinct games with the same id; none published"
                out.unmatched += [Rejected("KALSHI", k.event, why), Rejected("POLYMARKET", p.event, why)]
        elif gid in overrides.block_games:
            out.blocked.append(gid)
        else:
            out.pairings[gid] = recs[0][2]
    return out
