"""Pairing: the same game at both venues -> one MarketPairing record (pure).

Two venue games match when league, game date (America/New_York) and both teams agree and, where both
venues state a scheduled start, the starts are within `start_tolerance_s` of each other (two games between
the same teams on one day -- a doubleheader -- differ only by it). A pair is made only when it is the one
candidate on *both* sides; anything else is refused as ambiguous (force it with an override). A game whose
scheduled start is more than `max_started_s` ago is not paired at all: a finished game's market stays listed
until it resolves. Games of an excluded league or market type are not paired (their published pairings are
then withdrawn by the service). The Kalshi event gives the canonical game id and away/home order. Overrides
force or block pairs.

Game ids (core/ids.py). A single game keeps `{league}-{yyyymmdd}-{away}-{home}`. A later game of the same
teams on the same day gets "-g{n}", n = 1 + the number of distinct earlier starts (more than the tolerance
apart) among every game of those teams that day that either venue lists or that is published: both venues'
start times agree, so both sides' data give the same number. An id never moves while its pairing is
published: a Kalshi event already on `markets` keeps its id (game 2 stays "-g2" after game 1 is over and
delisted), and a new game never takes an id another Kalshi event still holds.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from core.ids import game_id
from producers.discovery.model import DRAW, Rejected, VenueGame, market_type
from producers.discovery.overrides import Overrides
from producers.discovery.settings import DiscoverySettings
from schemas.records import MarketPairing

NO_KALSHI = "no Kalshi game with the same league, date and teams"
NO_POLY = "no Polymarket game with the same league, date and teams"


@dataclass(frozen=True)
class PairingRules:
    """The rules of pairing: time (ARB_DISCOVER_START_TOLERANCE_S, ARB_DISCOVER_MAX_STARTED_S) and what is
    never paired (ARB_DISCOVER_EXCLUDE_LEAGUES, ARB_DISCOVER_EXCLUDE_MARKET_TYPES)."""

    start_tolerance_s: float = DiscoverySettings.start_tolerance_s
    max_started_s: float = DiscoverySettings.max_started_s  # 0: no bound
    exclude_leagues: frozenset[str] = frozenset()
    exclude_market_types: frozenset[str] = frozenset()  # model.MARKET_TYPES

    @classmethod
    def from_settings(cls, ds: DiscoverySettings) -> PairingRules:
        return cls(start_tolerance_s=ds.start_tolerance_s, max_started_s=ds.max_started_s,
                   exclude_leagues=ds.exclude_league_set(), exclude_market_types=ds.exclude_market_type_set())

    @classmethod
    def from_env(cls) -> PairingRules:
        from core.config import load

        return cls.from_settings(load(DiscoverySettings))


@dataclass
class MatchResult:
    pairings: dict[str, dict[str, Any]] = field(default_factory=dict)  # game_id -> MarketPairing (without updated_ts)
    unmatched: list[Rejected] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    excluded: list[Rejected] = field(default_factory=list)  # games of an excluded league or market type


def pairing_record(kalshi: VenueGame, poly: VenueGame, draws: bool, gid: str) -> dict[str, Any]:
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
    return {"game_id": gid, "league": kalshi.league, "game_date": kalshi.date,
            "start_ts": poly.start_ts or kalshi.start_ts, "away": kalshi.away, "home": kalshi.home, "outcomes": outcomes, "books": books}


def _minutes(us: int) -> str:
    minutes = abs(us) / 60e6
    return f"{minutes:.0f} min" if minutes < 120 else f"{minutes / 60:.1f} h"


def _starts_agree(k: VenueGame, p: VenueGame, tolerance_us: int) -> bool:
    return k.start_ts is None or p.start_ts is None or abs(k.start_ts - p.start_ts) <= tolerance_us


def _excluded(g: VenueGame, rules: PairingRules, draws_by_league: Mapping[str, bool]) -> str | None:
    if g.league in rules.exclude_leagues:
        return f"league {g.league} is excluded (ARB_DISCOVER_EXCLUDE_LEAGUES)"
    kind = market_type(draws_by_league.get(g.league, False))
    return f"{kind} market type is excluded (ARB_DISCOVER_EXCLUDE_MARKET_TYPES)" if kind in rules.exclude_market_types else None


def game_number(start_us: int | None, starts_that_day: Iterable[int], tolerance_us: int) -> int:
    """A game's place among the games of the same teams on the same day: 1 + the number of distinct earlier
    starts (starts within the tolerance of each other are one game, listed at both venues)."""
    if start_us is None:
        return 1
    n, last = 1, None
    for s in sorted(t for t in starts_that_day if t < start_us - tolerance_us):
        if last is None or s - last > tolerance_us:
            n += 1
        last = s
    return n


def _of_game(gid: str, base: str) -> bool:
    """`gid` is the id of a game of base id `base` (the base itself or a numbered later game)."""
    return gid == base or re.fullmatch(re.escape(base) + r"-g[1-9][0-9]*", gid) is not None


def _assign_ids(pairs: list[tuple[VenueGame, VenueGame]], seen: list[VenueGame], published: Mapping[str, MarketPairing],
                tolerance_us: int) -> tuple[dict[str, str], list[tuple[VenueGame, VenueGame, str]]]:
    """game_id per paired Kalshi event, and the pairs refused for want of a distinct id (with the reason)."""
    holder: dict[str, str] = {}  # published game_id -> its Kalshi event
    for gid, rec in published.items():
        events = {b.event for b in rec.books if b.venue == "KALSHI"}
        if len(events) == 1:
            holder[gid] = events.pop()
    held_by = {ev: gid for gid, ev in holder.items()}
    starts: dict[tuple[str, str, frozenset[str]], list[int]] = {}
    for g in seen:
        if g.start_ts is not None:
            starts.setdefault(g.key, []).append(g.start_ts)
    for rec in published.values():
        if rec.start_ts is not None:
            key = (rec.league, rec.game_date, frozenset((rec.away, rec.home)))
            starts.setdefault(key, []).append(rec.start_ts)

    ids: dict[str, str] = {}
    refused: list[tuple[VenueGame, VenueGame, str]] = []
    fresh: dict[tuple[str, int], list[tuple[VenueGame, VenueGame]]] = {}
    for k, p in pairs:
        try:
            base = game_id(k.league, k.date, str(k.away), str(k.home))
        except ValueError as exc:  # e.g. a team code with '-' from a user alias file
            refused.append((k, p, f"no game_id: {exc}"))
            continue
        kept = held_by.get(k.event)
        if kept is not None and _of_game(kept, base):
            ids[k.event] = kept  # on `markets` already: its id does not move
        else:
            start = k.start_ts if k.start_ts is not None else p.start_ts
            fresh.setdefault((base, game_number(start, starts.get(k.key, []), tolerance_us)), []).append((k, p))
    taken = set(ids.values())
    for (_, n), group in sorted(fresh.items()):
        k, p = group[0]
        if len(group) > 1:  # same place in the day (no start, or within the tolerance): which is which is unknown
            names = sorted(e for k, p in group for e in (k.event, p.event))
            refused += [(k, p, f"game_id collision: {', '.join(names)} are distinct games with the same place on "
                               f"{k.date}; none published") for k, p in group]
            continue
        # An id still held by another Kalshi event (or given this round) is skipped: one id, one game.
        while (gid := game_id(k.league, k.date, str(k.away), str(k.home), n)) in taken or holder.get(gid, k.event) != k.event:
            n += 1
        ids[k.event] = gid
        taken.add(gid)
    return ids, refused


def match(kalshi_games: list[VenueGame], poly_games: list[VenueGame], overrides: Overrides, draws_by_league: dict[str, bool], *,
          now_us: int | None = None, rules: PairingRules | None = None, published: Mapping[str, MarketPairing] | None = None) -> MatchResult:
    """Pair the venues' games. `now_us` defaults to the wall clock, `rules` to the ARB_DISCOVER_* settings;
    `published` (game_id -> MarketPairing now on `markets`) keeps the ids of games already published."""
    out = MatchResult()
    rules = rules if rules is not None else PairingRules.from_env()
    now = now_us if now_us is not None else time.time_ns() // 1000
    tolerance = int(rules.start_tolerance_s * 1e6)
    for g in kalshi_games + poly_games:
        if (why := _excluded(g, rules, draws_by_league)) is not None:
            out.excluded.append(Rejected(g.venue, g.event, why))
    excluded = {(r.venue, r.event) for r in out.excluded}
    k_games = [g for g in kalshi_games if g.event not in overrides.block_kalshi and ("KALSHI", g.event) not in excluded]
    p_games = [g for g in poly_games if g.event not in overrides.block_polymarket and g.event_id not in overrides.block_polymarket
               and ("POLYMARKET", g.event) not in excluded]
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

    # Every game listed that day counts toward a doubleheader's game numbers, paired or not (game 1 may be over).
    ids, refused = _assign_ids(pairs, kalshi_games + poly_games, published or {}, tolerance)
    for k, p, why in refused:
        out.unmatched += [Rejected("KALSHI", k.event, why), Rejected("POLYMARKET", p.event, why)]
    for k, p in pairs:
        gid = ids.get(k.event)
        if gid is None:
            continue
        if gid in overrides.block_games:
            out.blocked.append(gid)
        else:
            out.pairings[gid] = pairing_record(k, p, draws_by_league.get(k.league, False), gid)
    return out
