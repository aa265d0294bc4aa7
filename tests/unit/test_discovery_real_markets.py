"""Discovery on real-shaped venue payloads (issue 29, items 1, 7 and 8).

Kalshi markets follow the REST `Market` object (docs `api-reference/market/get-market.md`): team markets of a
game event, `status`, `rules_primary` in Kalshi's wording ("... game originally scheduled for Jul 4, 2026 at
1:05 PM EDT ..."). Gamma events follow a captured MLB moneyline event (`outcomes` are team nicknames,
`gameStartTime` "2025-06-10 23:10:00+00", `acceptingOrders`, `active`, `closed`) and, for the Premier League,
Polymarket's per-team Yes/No markets ("Will Tottenham Hotspur FC win on 2026-09-12?").
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from core import ids
from producers.discovery import aliases as alias_mod
from producers.discovery import gamma_source, kalshi_source
from producers.discovery.match import PairingRules, game_number, match
from producers.discovery.model import Rejected, VenueGame
from producers.discovery.overrides import Overrides
from schemas.records import MarketPairing, from_dict

NY = ZoneInfo("America/New_York")
ALIASES = alias_mod.load()
RULES = PairingRules(start_tolerance_s=5400.0, max_started_s=14400.0)

# MLB is not in the shipped table: the tests bring their own league, in the user alias-file format.
MLB_YAML = {"leagues": {"mlb": {"draws": False, "kalshi_series": ["KXMLBGAME"], "gamma_series": ["mlb"], "teams": {
    "nyy": ["New York Y", "New York Yankees", "Yankees"], "bos": ["Boston", "Boston Red Sox", "Red Sox"]}}}}
MLB_TABLE = alias_mod.parse(MLB_YAML, ALIASES)
MLB = MLB_TABLE.leagues["mlb"]
MLB_SERIES = {"ticker": "KXMLBGAME", "category": "Sports", "fee_type": "quadratic", "fee_multiplier": 1}


def us(when: dt.datetime) -> int:
    return int(when.timestamp()) * 1_000_000


def iso(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def kalshi_game_markets(event: str, start_ny: dt.datetime | None, teams: list[tuple[str, str]], title: str,
                        sport: str = "professional baseball", status: str = "active") -> list[dict[str, Any]]:
    """The team markets of one Kalshi game event, as GET /markets lists them."""
    when = f" at {start_ny:%-I:%M %p} {start_ny.tzname()}" if start_ny else ""
    day = f"{start_ny:%b} {start_ny.day}, {start_ny.year}" if start_ny else "its date"
    out = []
    for code, name in teams:
        m: dict[str, Any] = {
            "ticker": f"{event}-{code}", "event_ticker": event, "market_type": "binary", "title": f"{title} Winner?",
            "yes_sub_title": name, "no_sub_title": name, "status": status,
            "rules_primary": f"If {name} wins the {title} {sport} game originally scheduled for {day}{when}, then the market resolves to Yes.",
            "price_ranges": [{"start": "0.0000", "end": "1.0000", "step": "0.0100"}],
            "yes_bid_dollars": "0.4800", "yes_ask_dollars": "0.5000", "notional_value_dollars": "1.0000"}
        if start_ny is not None:
            m |= {"open_time": iso(start_ny - dt.timedelta(days=3)), "close_time": iso(start_ny + dt.timedelta(days=2)),
                  "expected_expiration_time": iso(start_ny + dt.timedelta(hours=3))}
        out.append(m)
    return out


def mlb_kalshi(event: str, start_ny: dt.datetime | None) -> VenueGame:
    ms = kalshi_game_markets(event, start_ny, [("NYY", "New York Y"), ("BOS", "Boston")], "New York Y vs Boston")
    g = kalshi_source.parse_event(event, ms, MLB_SERIES, MLB)
    assert isinstance(g, VenueGame), g
    return g


def gamma_mlb_event(slug: str, start_utc: dt.datetime, tokens: tuple[str, str], **market: Any) -> dict[str, Any]:
    """A Gamma MLB moneyline event in the captured shape (outcomes are nicknames, away first)."""
    m = {"id": slug[-6:], "question": "Yankees vs. Red Sox", "conditionId": "0x" + slug.encode().hex()[:64].ljust(64, "0"), "slug": slug,
         "outcomes": '["Yankees", "Red Sox"]', "outcomePrices": '["0.5", "0.5"]', "clobTokenIds": json.dumps(list(tokens)),
         "active": True, "closed": False, "archived": False, "acceptingOrders": True, "enableOrderBook": True,
         "gameStartTime": start_utc.strftime("%Y-%m-%d %H:%M:%S+00"), "groupItemTitle": "Yankees vs. Red Sox",
         "orderMinSize": 5, "orderPriceMinTickSize": 0.01, "secondsDelay": 3, "negRisk": False, "sportsMarketType": "moneyline",
         "feesEnabled": True, "feeSchedule": {"exponent": 1, "rate": 0.03, "takerOnly": True}, **market}
    return {"id": "ev-" + slug, "slug": slug, "ticker": slug, "title": "Yankees vs. Red Sox", "seriesSlug": "mlb", "active": True, "closed": False,
            "startTime": iso(start_utc), "series": [{"id": "3", "slug": "mlb", "ticker": "mlb", "title": "MLB"}], "markets": [m]}


def mlb_poly(slug: str, start_utc: dt.datetime, tokens: tuple[str, str], **market: Any) -> VenueGame:
    g = gamma_source.parse_event(gamma_mlb_event(slug, start_utc, tokens, **market), MLB_TABLE, {"moneyline"})
    assert isinstance(g, VenueGame), g
    return g


def on_markets(pairings: dict[str, dict[str, Any]]) -> dict[str, MarketPairing]:
    """match()'s pairings as they read back from `markets` (the `published` the service passes)."""
    return {gid: from_dict(MarketPairing, {**rec, "updated_ts": 0}) for gid, rec in pairings.items()}


def kalshi_markets_of(rec: dict[str, Any]) -> set[str]:
    return {b["market"] for b in rec["books"] if b["venue"] == "KALSHI"}


# The 4th of July doubleheader: game 1 at 13:05 ET, game 2 at 19:05 ET (Kalshi tickers carry the ET start).
G1, G2 = "KXMLBGAME-26JUL041305NYYBOS", "KXMLBGAME-26JUL041905NYYBOS"
G1_START = dt.datetime(2026, 7, 4, 13, 5, tzinfo=NY)
G2_START = dt.datetime(2026, 7, 4, 19, 5, tzinfo=NY)
GID1, GID2 = "mlb-20260704-nyy-bos", "mlb-20260704-nyy-bos-g2"
MORNING = us(dt.datetime(2026, 7, 4, 9, 0, tzinfo=NY))
EVENING = us(dt.datetime(2026, 7, 4, 19, 30, tzinfo=NY))
DRAWS = {"mlb": False} | {c: lg.draws for c, lg in ALIASES.leagues.items()}


# --- item 1: doubleheaders, start times, stopped and finished games ------------------------------


def test_kalshi_ticker_time_is_the_new_york_start() -> None:
    g1, g2 = mlb_kalshi(G1, G1_START), mlb_kalshi(G2, G2_START)
    assert g1.start_ts == us(dt.datetime(2026, 7, 4, 17, 5, tzinfo=dt.UTC))  # 13:05 EDT
    assert g2.start_ts == us(dt.datetime(2026, 7, 4, 23, 5, tzinfo=dt.UTC))
    assert (g1.date, g2.date) == ("20260704", "20260704")
    winter = "KXNBAGAME-26DEC051930BOSLAL"  # EST in winter
    ms = kalshi_game_markets(winter, dt.datetime(2026, 12, 5, 19, 30, tzinfo=NY), [("BOS", "Boston"), ("LAL", "Los Angeles L")],
                             "Boston at Los Angeles L", "professional basketball")
    g = kalshi_source.parse_event(winter, ms, {**MLB_SERIES, "ticker": "KXNBAGAME"}, ALIASES.leagues["nba"])
    assert isinstance(g, VenueGame) and g.start_ts == us(dt.datetime(2026, 12, 6, 0, 30, tzinfo=dt.UTC))


def test_kalshi_rules_time_that_contradicts_the_ticker_is_refused() -> None:
    ms = kalshi_game_markets(G2, G1_START, [("NYY", "New York Y"), ("BOS", "Boston")], "New York Y vs Boston")  # rules say 1:05 PM
    r = kalshi_source.parse_event(G2, ms, MLB_SERIES, MLB)
    assert isinstance(r, Rejected) and "disagree" in r.reason


def test_kalshi_start_from_rules_or_occurrence_when_the_ticker_has_no_time() -> None:
    ev = "KXNFLGAME-26NOV29BUFKC"
    kick = dt.datetime(2026, 11, 29, 20, 20, tzinfo=NY)
    ms = kalshi_game_markets(ev, kick, [("BUF", "Buffalo"), ("KC", "Kansas City")], "Buffalo at Kansas City", "professional football")
    g = kalshi_source.parse_event(ev, ms, {**MLB_SERIES, "ticker": "KXNFLGAME"}, ALIASES.leagues["nfl"])
    assert isinstance(g, VenueGame) and g.start_ts == us(kick)
    for m in ms:
        m["rules_primary"] = "If Buffalo wins, then the market resolves to Yes."
        m["occurrence_datetime"] = iso(kick)
    g = kalshi_source.parse_event(ev, ms, {**MLB_SERIES, "ticker": "KXNFLGAME"}, ALIASES.leagues["nfl"])
    assert isinstance(g, VenueGame) and g.start_ts == us(kick)


def test_doubleheader_polymarket_lists_only_game_2() -> None:
    """Reproduction from the issue: game 2 at Polymarket must pair with Kalshi's game 2, never game 1."""
    k1, k2 = mlb_kalshi(G1, G1_START), mlb_kalshi(G2, G2_START)
    p2 = mlb_poly("mlb-nyy-bos-2026-07-04-g2", G2_START.astimezone(dt.UTC), ("21", "22"))
    for order in ([k1, k2], [k2, k1]):
        res = match(order, [p2], Overrides(), DRAWS, now_us=MORNING, rules=RULES)
        assert list(res.pairings) == [GID2], res.unmatched  # Kalshi lists game 1 too: this is the day's second game
        rec = res.pairings[GID2]
        assert kalshi_markets_of(rec) == {f"{G2}-NYY", f"{G2}-BOS"}
        assert rec["start_ts"] == p2.start_ts
        assert [r.event for r in res.unmatched] == [G1]


def test_doubleheader_closed_but_unresolved_game_1_never_pairs_with_game_2() -> None:
    """At 19:30 ET game 1 (13:05) is over; Polymarket still lists it (closed:false, unresolved), Kalshi lists game 2."""
    k2 = mlb_kalshi(G2, G2_START)
    p1 = mlb_poly("mlb-nyy-bos-2026-07-04", G1_START.astimezone(dt.UTC), ("11", "12"))
    res = match([k2], [p1], Overrides(), DRAWS, now_us=EVENING, rules=RULES)
    assert res.pairings == {}
    assert {r.venue for r in res.unmatched} == {"KALSHI", "POLYMARKET"}
    # Even if Kalshi's game 2 carried no start time, the finished game is too old to pair.
    k2_timeless = VenueGame(k2.venue, k2.league, k2.date, k2.teams, k2.event, k2.event_id, k2.books, away=k2.away, home=k2.home)
    res = match([k2_timeless], [p1], Overrides(), DRAWS, now_us=EVENING, rules=RULES)
    assert res.pairings == {} and any("started" in r.reason for r in res.unmatched if r.venue == "POLYMARKET")
    # The same game, still upcoming, pairs.
    p2 = mlb_poly("mlb-nyy-bos-2026-07-04-g2", G2_START.astimezone(dt.UTC), ("21", "22"))
    assert len(match([k2_timeless], [p1, p2], Overrides(), DRAWS, now_us=EVENING, rules=RULES).pairings) == 1


def test_doubleheader_both_listed_on_both_venues_pairs_each_with_its_own_game() -> None:
    """Both games on both venues: two pairings, game 1 under the plain id (as a single game), game 2 under "-g2"."""
    k1, k2 = mlb_kalshi(G1, G1_START), mlb_kalshi(G2, G2_START)
    p1 = mlb_poly("mlb-nyy-bos-2026-07-04", G1_START.astimezone(dt.UTC), ("11", "12"))
    p2 = mlb_poly("mlb-nyy-bos-2026-07-04-g2", G2_START.astimezone(dt.UTC), ("21", "22"))
    for ks, ps in (([k1, k2], [p2, p1]), ([k2, k1], [p1, p2])):
        res = match(ks, ps, Overrides(), DRAWS, now_us=MORNING, rules=RULES)
        assert sorted(res.pairings) == [GID1, GID2] and not res.unmatched, res.unmatched
        for gid, kev, tokens, start in ((GID1, G1, {"11", "12"}, G1_START), (GID2, G2, {"21", "22"}, G2_START)):
            rec = res.pairings[gid]
            assert rec["game_id"] == gid and rec["start_ts"] == us(start)
            assert kalshi_markets_of(rec) == {f"{kev}-NYY", f"{kev}-BOS"}
            assert {i["market"] for b in rec["books"] if b["venue"] == "POLYMARKET" for i in b["instruments"]} == tokens


def test_doubleheader_game_2_keeps_its_id_after_game_1_is_gone() -> None:
    """At 19:30 game 1 is over: Kalshi no longer lists it. Game 2's id must not move to the plain id (game 1's)."""
    k1, k2 = mlb_kalshi(G1, G1_START), mlb_kalshi(G2, G2_START)
    p1 = mlb_poly("mlb-nyy-bos-2026-07-04", G1_START.astimezone(dt.UTC), ("11", "12"))
    p2 = mlb_poly("mlb-nyy-bos-2026-07-04-g2", G2_START.astimezone(dt.UTC), ("21", "22"))
    morning = match([k1, k2], [p1, p2], Overrides(), DRAWS, now_us=MORNING, rules=RULES).pairings
    # Published: the service passes what is on `markets`; game 1's pairing was withdrawn when it stopped pairing.
    evening = match([k2], [p2], Overrides(), DRAWS, now_us=EVENING, rules=RULES, published=on_markets({GID2: morning[GID2]}))
    assert list(evening.pairings) == [GID2] and evening.pairings[GID2] == morning[GID2]
    # Without anything published (a first round in the evening), a game 1 that Polymarket still lists (closed: false,
    # unresolved) still counts toward the numbering; only with no trace of game 1 at all is game 2 a single game.
    assert list(match([k2], [p1, p2], Overrides(), DRAWS, now_us=EVENING, rules=RULES).pairings) == [GID2]
    assert list(match([k2], [p2], Overrides(), DRAWS, now_us=EVENING, rules=RULES).pairings) == [GID1]


def test_a_new_game_never_takes_an_id_another_published_game_holds() -> None:
    """Game 2 was published alone under the plain id (game 1 was not listed then); when game 1 appears it gets another id."""
    k1, k2 = mlb_kalshi(G1, G1_START), mlb_kalshi(G2, G2_START)
    p1 = mlb_poly("mlb-nyy-bos-2026-07-04", G1_START.astimezone(dt.UTC), ("11", "12"))
    p2 = mlb_poly("mlb-nyy-bos-2026-07-04-g2", G2_START.astimezone(dt.UTC), ("21", "22"))
    alone = match([k2], [p2], Overrides(), DRAWS, now_us=MORNING, rules=RULES).pairings
    assert list(alone) == [GID1]
    res = match([k1, k2], [p1, p2], Overrides(), DRAWS, now_us=MORNING, rules=RULES, published=on_markets(alone))
    assert res.pairings[GID1] == alone[GID1]  # game 2 keeps the id it is published under
    assert kalshi_markets_of(res.pairings[GID2]) == {f"{G1}-NYY", f"{G1}-BOS"}  # game 1 takes the next free one
    # Even in a round where game 2 does not pair (its pairing is then withdrawn), game 1 is not published under
    # game 2's key: that would turn a live id into another game's.
    res = match([k1], [p1], Overrides(), DRAWS, now_us=MORNING, rules=RULES, published=on_markets(alone))
    assert list(res.pairings) == [GID2] and kalshi_markets_of(res.pairings[GID2]) == {f"{G1}-NYY", f"{G1}-BOS"}


def test_single_game_ids_are_unchanged_and_game_numbers_count_distinct_starts() -> None:
    k2 = mlb_kalshi(G2, G2_START)
    p2 = mlb_poly("mlb-nyy-bos-2026-07-04", (G2_START + dt.timedelta(minutes=20)).astimezone(dt.UTC), ("21", "22"))
    assert list(match([k2], [p2], Overrides(), DRAWS, now_us=MORNING, rules=RULES).pairings) == [GID1]
    assert ids.game_id("mlb", "20260704", "nyy", "bos") == GID1 and ids.game_id("mlb", "20260704", "nyy", "bos", 2) == GID2
    with pytest.raises(ValueError):
        ids.game_id("mlb", "20260704", "nyy", "bos", 0)
    tol = 5400 * 1_000_000
    g1, g2, g3 = us(G1_START), us(G2_START), us(G2_START + dt.timedelta(hours=4))
    assert game_number(g1, [g1, g1 + 60_000_000, g2], tol) == 1  # the same game at both venues is one start
    assert game_number(g2, [g1, g1 + 60_000_000, g2], tol) == 2
    assert game_number(g3, [g1, g2, g3], tol) == 3
    assert game_number(None, [g1, g2], tol) == 1


def test_ambiguity_is_refused_on_the_kalshi_side_too() -> None:
    k2 = mlb_kalshi(G2, G2_START)
    dup = VenueGame(k2.venue, k2.league, k2.date, k2.teams, k2.event + "X", k2.event_id + "X", k2.books, away=k2.away, home=k2.home,
                    start_ts=k2.start_ts)
    p2 = mlb_poly("mlb-nyy-bos-2026-07-04-g2", G2_START.astimezone(dt.UTC), ("21", "22"))
    res = match([k2, dup], [p2], Overrides(), DRAWS, now_us=MORNING, rules=RULES)
    assert res.pairings == {}
    assert sum("ambiguous" in r.reason for r in res.unmatched) == 3


def test_start_time_tolerance_setting() -> None:
    k2 = mlb_kalshi(G2, G2_START)
    p = mlb_poly("mlb-nyy-bos-2026-07-04-g2", (G2_START + dt.timedelta(minutes=80)).astimezone(dt.UTC), ("21", "22"))
    assert len(match([k2], [p], Overrides(), DRAWS, now_us=MORNING, rules=RULES).pairings) == 1
    tight = PairingRules(start_tolerance_s=1800.0, max_started_s=14400.0)
    res = match([k2], [p], Overrides(), DRAWS, now_us=MORNING, rules=tight)
    assert res.pairings == {} and any("start" in r.reason for r in res.unmatched)


@pytest.mark.parametrize("flags", [{"acceptingOrders": False}, {"closed": True}, {"active": False}])
def test_polymarket_market_that_stopped_trading_is_refused(flags: dict[str, Any]) -> None:
    ev = gamma_mlb_event("mlb-nyy-bos-2026-07-04", G1_START.astimezone(dt.UTC), ("11", "12"), **flags)
    r = gamma_source.parse_event(ev, MLB_TABLE, {"moneyline"})
    assert isinstance(r, Rejected) and "stopped trading" in r.reason


def test_polymarket_event_that_ended_is_refused() -> None:
    ev = gamma_mlb_event("mlb-nyy-bos-2026-07-04", G1_START.astimezone(dt.UTC), ("11", "12"))
    ev["ended"] = True
    r = gamma_source.parse_event(ev, MLB_TABLE, {"moneyline"})
    assert isinstance(r, Rejected) and "stopped trading" in r.reason


@pytest.mark.parametrize("status", ["closed", "inactive", "determined", "finalized"])
def test_kalshi_event_with_a_market_that_stopped_trading_is_refused(status: str) -> None:
    ev = "KXEPLGAME-26SEP12TOTEVE"
    ms = kalshi_game_markets(ev, dt.datetime(2026, 9, 12, 10, 0, tzinfo=NY), [("TOT", "Tottenham"), ("EVE", "Everton"), ("TIE", "Tie")],
                             "Tottenham vs Everton", "professional soccer")
    ms[2]["status"] = status  # the draw market stopped; the team markets are still active
    r = kalshi_source.parse_event(ev, ms, {**MLB_SERIES, "ticker": "KXEPLGAME"}, ALIASES.leagues["epl"])
    assert isinstance(r, Rejected) and "stopped trading" in r.reason


def test_draw_league_event_without_its_draw_market_is_refused() -> None:
    ev = "KXEPLGAME-26SEP12TOTEVE"
    ms = kalshi_game_markets(ev, None, [("TOT", "Tottenham"), ("EVE", "Everton")], "Tottenham vs Everton", "professional soccer")
    r = kalshi_source.parse_event(ev, ms, {**MLB_SERIES, "ticker": "KXEPLGAME"}, ALIASES.leagues["epl"])
    assert isinstance(r, Rejected) and "draw" in r.reason


# --- item 7: club-name suffixes and the Premier League table --------------------------------------


POLY_EPL_NAMES = {"Tottenham Hotspur FC": "tot", "Leeds United FC": "lee", "Newcastle United FC": "new", "West Ham United FC": "whu",
                  "Wolverhampton Wanderers FC": "wol", "Brighton & Hove Albion FC": "bha", "Nottingham Forest FC": "nfo",
                  "AFC Bournemouth": "bou", "Sunderland AFC": "sun", "Everton FC": "eve", "Arsenal FC": "ars"}


@pytest.mark.parametrize(("name", "code"), sorted(POLY_EPL_NAMES.items()))
def test_polymarket_premier_league_names_resolve(name: str, code: str) -> None:
    assert ALIASES.leagues["epl"].team(name) == code


def test_suffix_is_kept_where_it_is_the_distinguishing_part() -> None:
    mls = ALIASES.leagues["mls"]
    assert mls.team("Los Angeles FC") == "lafc" and mls.team("LA Galaxy") == "lag"
    assert mls.team("Los Angeles") is None  # the city alone names neither club
    assert mls.team("Inter Miami CF") == "mia" and mls.team("Orlando City SC") == "orl" and mls.team("Atlanta United FC") == "atl"
    assert mls.team("Los Angeles SC") is None  # stripping an affix only ever reaches a name the table lists
    assert mls.team("New York City FC") == "nyc" and mls.team("NYCFC") == "nyc"
    lg = alias_mod.parse({"leagues": {"x": {"teams": {"aaa": ["Alpha"], "bbb": ["Alpha FC"]}}}}).leagues["x"]
    assert (lg.team("Alpha"), lg.team("Alpha FC"), lg.team("FC Alpha")) == ("aaa", "bbb", None)  # ambiguous once stripped


def gamma_epl_event(home: str, away: str, day: str, kickoff_utc: str, **flags: Any) -> dict[str, Any]:
    """Polymarket's Premier League shape: one Yes/No market per club and one for the draw."""
    slug = f"epl-tot-eve-{day}"
    markets = []
    for i, (title, q) in enumerate(((home, f"Will {home} win on {day}?"), (f"Draw ({home} vs. {away})", f"Will {home} vs. {away} end in a draw?"),
                                    (away, f"Will {away} win on {day}?"))):
        markets.append({"id": str(1400768 + i), "question": q, "groupItemTitle": title, "conditionId": "0x" + f"{i + 1:x}" * 64,
                        "outcomes": '["Yes", "No"]', "clobTokenIds": json.dumps([f"{i}1", f"{i}2"]), "sportsMarketType": "moneyline",
                        "gameStartTime": kickoff_utc, "active": True, "closed": False, "acceptingOrders": True, "negRisk": True,
                        "orderPriceMinTickSize": 0.001, "orderMinSize": 5, "secondsDelay": 3, "feesEnabled": True, "feeType": "sports_fees_v2",
                        "feeSchedule": {"exponent": 1, "rate": 0.05, "takerOnly": True, "rebateRate": 0.15}, **flags})
    return {"id": "218306", "slug": slug, "title": f"{home} vs. {away}", "seriesSlug": "premier-league-2026",
            "series": [{"id": "10188", "slug": "premier-league-2026"}], "tags": [{"id": "1", "slug": "sports"}, {"id": "100350", "slug": "soccer"}],
            "active": True, "closed": False, "markets": markets}


def test_polymarket_fc_names_pair_with_kalshi() -> None:
    ev = gamma_epl_event("Tottenham Hotspur FC", "Everton FC", "2026-09-12", "2026-09-12 14:00:00+00")
    p = gamma_source.parse_event(ev, ALIASES, {"moneyline"})
    assert isinstance(p, VenueGame), p
    assert (p.league, p.date, p.teams) == ("epl", "20260912", frozenset({"tot", "eve"}))
    kev = "KXEPLGAME-26SEP12TOTEVE"
    ms = kalshi_game_markets(kev, dt.datetime(2026, 9, 12, 10, 0, tzinfo=NY), [("TOT", "Tottenham"), ("EVE", "Everton"), ("TIE", "Tie")],
                             "Tottenham vs Everton", "professional soccer")
    k = kalshi_source.parse_event(kev, ms, {**MLB_SERIES, "ticker": "KXEPLGAME"}, ALIASES.leagues["epl"])
    assert isinstance(k, VenueGame), k
    res = match([k], [p], Overrides(), DRAWS, now_us=us(dt.datetime(2026, 9, 11, tzinfo=NY)), rules=RULES)
    assert len(res.pairings) == 1, res.unmatched
    rec = next(iter(res.pairings.values()))
    pays = {i["market"]: i["pays_on"] for b in rec["books"] if b["venue"] == "POLYMARKET" for i in b["instruments"]}
    assert pays["01"] == ["tot"] and pays["11"] == ["draw"] and pays["21"] == ["eve"]


@pytest.mark.parametrize("name", ["Leeds United FC", "Newcastle United FC", "West Ham United FC", "Wolverhampton Wanderers FC",
                                  "Brighton & Hove Albion FC", "Nottingham Forest FC"])
def test_polymarket_fc_opponents_are_not_rejected(name: str) -> None:
    ev = gamma_epl_event("Tottenham Hotspur FC", name, "2026-09-12", "2026-09-12 14:00:00+00")
    assert isinstance(gamma_source.parse_event(ev, ALIASES, {"moneyline"}), VenueGame)


# --- item 8: away/home from the ticker, whatever the listing order --------------------------------


def test_away_home_does_not_depend_on_listing_order() -> None:
    ev = "KXNFLGAME-26NOV29LACLA"  # Chargers at Rams; Kalshi's Rams code is LA
    ms = kalshi_game_markets(ev, None, [("LAC", "Los Angeles C"), ("LA", "Los Angeles R")], "Los Angeles C at Los Angeles R",
                             "professional football")
    games = [kalshi_source.parse_event(ev, order, {**MLB_SERIES, "ticker": "KXNFLGAME"}, ALIASES.leagues["nfl"]) for order in (ms, ms[::-1])]
    for g in games:
        assert isinstance(g, VenueGame), g
        assert (g.away, g.home) == ("lac", "lar")
    assert games[0] == games[1]  # books too: a pairing must not look changed because the API listed it differently


def test_game_id_is_stable_across_discovery_rounds_in_either_order() -> None:
    ev = "KXNFLGAME-26NOV29LACLA"
    ms = kalshi_game_markets(ev, None, [("LAC", "Los Angeles C"), ("LA", "Los Angeles R")], "Los Angeles C at Los Angeles R",
                             "professional football")
    poly = gamma_source.parse_event({"id": "1", "slug": "nfl-lac-la-2026-11-29", "seriesSlug": "nfl", "markets": [{
        "conditionId": "0x" + "ab" * 32, "question": "Chargers vs. Rams", "outcomes": '["Chargers", "Rams"]', "clobTokenIds": '["1", "2"]',
        "gameStartTime": "2026-11-30 01:20:00+00", "sportsMarketType": "moneyline", "acceptingOrders": True,
        "feeSchedule": {"exponent": 1, "rate": 0.05, "takerOnly": True}}]}, ALIASES, {"moneyline"})
    assert isinstance(poly, VenueGame)
    ids = set()
    for order in (ms, ms[::-1]):
        k = kalshi_source.parse_event(ev, order, {**MLB_SERIES, "ticker": "KXNFLGAME"}, ALIASES.leagues["nfl"])
        assert isinstance(k, VenueGame)
        ids |= set(match([k], [poly], Overrides(), DRAWS, now_us=us(dt.datetime(2026, 11, 29, tzinfo=NY)), rules=RULES).pairings)
    assert ids == {"nfl-20261129-lac-lar"}


def test_a_teams_part_that_splits_two_ways_is_refused() -> None:
    lg = alias_mod.parse({"leagues": {"x": {"kalshi_series": ["KXXGAME"], "teams": {"a": ["Ay"], "aa": ["Double Ay"]}}}}).leagues["x"]
    ev = "KXXGAME-26NOV29AAA"
    ms = kalshi_game_markets(ev, None, [("A", "Ay"), ("AA", "Double Ay")], "Ay vs Double Ay", "game")
    r = kalshi_source.parse_event(ev, ms, {**MLB_SERIES, "ticker": "KXXGAME"}, lg)
    assert isinstance(r, Rejected) and "away/home" in r.reason
