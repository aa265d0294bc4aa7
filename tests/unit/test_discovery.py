"""Discovery: Kalshi and Gamma parsing, alias table, pairing rules and overrides (pure)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from producers.discovery import aliases as alias_mod
from producers.discovery import gamma_source, kalshi_source
from producers.discovery.exceptions import AliasError, OverrideError
from producers.discovery.match import PairingRules, match
from producers.discovery.model import Rejected, VenueGame
from producers.discovery.overrides import Overrides
from producers.discovery.overrides import parse as parse_overrides
from simulators.kalshi.rest import market_json
from simulators.scenario import make_games
from simulators.settings import SimSettings
from simulators.world import SimWorld
from tests.conftest import FIXTURES

ALIASES = alias_mod.load()
DRAWS = {c: lg.draws for c, lg in ALIASES.leagues.items()}
SERIES = {"ticker": "KXNFLGAME", "category": "Sports", "fee_type": "quadratic", "fee_multiplier": 1}
NOW = 1795960800 * 1_000_000  # 2026-11-29 09:00 New York: the morning of the games below (pairing reads the clock)
RULES = PairingRules()  # the documented defaults, whatever the environment says


def kalshi_market(ticker: str, name: str, step: str = "0.0100", status: str = "active") -> dict[str, Any]:
    return {"ticker": ticker, "event_ticker": ticker.rsplit("-", 1)[0], "yes_sub_title": name, "status": status,
            "price_ranges": [{"start": "0.0000", "end": "1.0000", "step": step}]}


def gamma_event(slug: str, league: str, start: str, outcomes: list[str], tokens: list[str], **market: Any) -> dict[str, Any]:
    m = {"conditionId": "0x" + slug.encode().hex()[:64].ljust(64, "0"), "question": " vs. ".join(outcomes), "outcomes": json.dumps(outcomes),
         "clobTokenIds": json.dumps(tokens), "gameStartTime": start, "sportsMarketType": "moneyline", "active": True, "closed": False,
         "orderMinSize": 5, "orderPriceMinTickSize": 0.01, "secondsDelay": 1, "negRisk": False,
         "feeSchedule": {"exponent": 1, "rate": 0.03, "takerOnly": True}, **market}
    return {"id": slug, "slug": slug, "seriesSlug": league, "tags": [{"slug": "sports"}], "markets": [m]}


def test_normalise_and_lookup() -> None:
    nfl = ALIASES.leagues["nfl"]
    assert alias_mod.normalise("  Brighton & Hove  Albion ") == "brighton and hove albion"
    assert nfl.team("KANSAS CITY CHIEFS") == "kc" and nfl.team("kc") == "kc" and nfl.team("Kansas City") == "kc"
    assert nfl.team("New York") is None  # ambiguous city names are not aliases
    assert ALIASES.leagues["epl"].team("Brighton & Hove Albion") == "bha"
    assert ALIASES.league_of_kalshi_series("KXNBAGAME") is ALIASES.leagues["nba"]


def test_user_alias_file_extends_and_rejects_ambiguity(tmp_path: Any) -> None:
    f = tmp_path / "aliases.yaml"
    f.write_text("leagues:\n  nfl:\n    teams:\n      kc: [KC Chiefs]\n  mlp:\n    gamma_series: [mlp]\n    teams:\n      stl: [St. Louis Shock]\n      tex: [Texas Ranchers]\n")
    t = alias_mod.load(str(f))
    assert t.leagues["nfl"].team("KC Chiefs") == "kc" and t.leagues["nfl"].team("Kansas City Chiefs") is None  # replaced
    assert t.leagues["nfl"].team("Buffalo Bills") == "buf"  # others kept
    assert t.leagues["mlp"].team("St Louis Shock") == "stl"
    f.write_text("leagues:\n  nfl:\n    teams:\n      xyz: [Buffalo]\n")
    with pytest.raises(AliasError, match="ambiguous"):
        alias_mod.load(str(f))


def test_kalshi_event_parse_orders_away_home_and_reads_fees() -> None:
    ev = "KXNFLGAME-26NOV29BUFKC"
    markets = [kalshi_market(f"{ev}-KC", "Kansas City"), kalshi_market(f"{ev}-BUF", "Buffalo", step="0.0010")]
    g = kalshi_source.parse_event(ev, markets, {**SERIES, "fee_multiplier": 0.5}, ALIASES.leagues["nfl"])
    assert isinstance(g, VenueGame)
    assert (g.league, g.date, g.away, g.home, g.teams) == ("nfl", "20261129", "buf", "kc", frozenset({"buf", "kc"}))
    books = {b.market: b for b in g.books}
    assert books[f"{ev}-BUF"].tick_size == 10 and books[f"{ev}-KC"].tick_size == 100
    assert books[f"{ev}-KC"].fee == {"model": "KALSHI_QUADRATIC", "rate_ppm": 70_000, "multiplier_ppm": 500_000, "exponent": 1}
    assert [(i.side, i.subject, i.negated) for i in books[f"{ev}-KC"].instruments] == [("YES", "kc", False), ("NO", "kc", True)]


@pytest.mark.parametrize(("markets", "why"), [
    ([kalshi_market("KXNFLGAME-26NOV29BUFKC-KC", "Kansas City")], "expected 2 team markets"),
    ([kalshi_market("KXNFLGAME-26NOV29BUFKC-KC", "Kansas City"), kalshi_market("KXNFLGAME-26NOV29BUFKC-ZZZ", "Nowhere")], "unknown team"),
])
def test_kalshi_event_rejections(markets: list[dict[str, Any]], why: str) -> None:
    r = kalshi_source.parse_event("KXNFLGAME-26NOV29BUFKC", markets, SERIES, ALIASES.leagues["nfl"])
    assert isinstance(r, Rejected) and why in r.reason


def test_kalshi_unsupported_fee_type_and_bad_ticker() -> None:
    ms = [kalshi_market("KXNFLGAME-26NOV29BUFKC-KC", "Kansas City"), kalshi_market("KXNFLGAME-26NOV29BUFKC-BUF", "Buffalo")]
    assert isinstance(kalshi_source.parse_event("KXNFLGAME-26NOV29BUFKC", ms, {**SERIES, "fee_type": "flat"}, ALIASES.leagues["nfl"]), Rejected)
    assert kalshi_source.event_date("KXNFLGAME-BADTICKER") is None
    assert kalshi_source.event_date("KXMLBGAME-26AUG251905NYYBOS") == ("20260825", "NYYBOS")


def test_kalshi_parses_every_simulated_event() -> None:
    """The simulator's REST market objects (the wire shape discovery reads) parse into the sim's games."""
    world = SimWorld(SimSettings(games=12))
    games = make_games(7, 12, "20261129")
    for g in games:
        world.add_game(g)
    for g in games:
        lg = ALIASES.leagues[g.league]
        ms = [market_json(world, world.kalshi_markets[t]) for t in g.kalshi_markets.values()]
        v = kalshi_source.parse_event(g.kalshi_event, ms, {**SERIES, "ticker": g.kalshi_series}, lg)
        assert isinstance(v, VenueGame), v
        assert (v.away, v.home, v.date) == (g.away, g.home, g.date)
        assert {b.market for b in v.books} == set(g.kalshi_markets.values())


def test_gamma_fixture_event_with_user_aliases(tmp_path: Any) -> None:
    """Real Gamma field encoding (JSON-encoded strings, gameStartTime, feeSchedule) from the recorded event."""
    f = tmp_path / "a.yaml"
    f.write_text("leagues:\n  mlp:\n    gamma_series: [mlp]\n    teams:\n      stl: [St. Louis Shock]\n      tex: [Texas Ranchers]\n")
    table = alias_mod.load(str(f))
    event = json.loads((FIXTURES / "polymarket" / "gamma_event_sports_composite_game_id.json").read_text())[0]
    g = gamma_source.parse_event(event, table, {"moneyline"})
    assert isinstance(g, VenueGame)
    m = next(m for m in event["markets"] if m.get("sportsMarketType") == "moneyline")
    tokens = json.loads(m["clobTokenIds"])
    assert (g.league, g.date, g.teams) == ("mlp", "20260814", frozenset({"stl", "tex"}))
    assert g.start_ts == 1786741200 * 1_000_000  # 2026-08-14 21:00 UTC
    book = g.books[0]
    assert book.market == m["conditionId"] and [i.market for i in book.instruments] == tokens
    assert [i.subject for i in book.instruments] == ["stl", "tex"]
    assert (book.tick_size, book.min_size, book.seconds_delay) == (100, 500, m["secondsDelay"])
    assert book.fee == {"model": "POLYMARKET_POWER", "rate_ppm": 50_000, "multiplier_ppm": 1_000_000, "exponent": 1}


def test_gamma_fixture_market_fields() -> None:
    m = json.loads((FIXTURES / "polymarket" / "gamma_market_sports_market_money_line.json").read_text())
    lg = alias_mod.League("cs2", False, (), ("cs2",), {"faze": "faze", "illwill": "ill"})
    book = gamma_source.parse_market(m, "cs2-faze-ill-2026-04-05", lg)
    assert not isinstance(book, str)
    assert (book.tick_size, book.min_size, book.seconds_delay, book.fee["rate_ppm"]) == (10, 500, 3, 30_000)
    assert gamma_source.gamma_fee_params({"feesEnabled": False})["model"] == "NONE"


def test_gamma_yes_no_markets_of_a_draw_league() -> None:
    ev: dict[str, Any] = {"id": "1", "slug": "epl-ars-che-2026-11-29", "seriesSlug": "epl", "markets": []}
    for title, tok in (("Arsenal", "1"), ("Chelsea", "3"), ("Draw (Arsenal vs. Chelsea)", "5")):
        ev["markets"].append({"conditionId": "0x" + tok * 64, "groupItemTitle": title, "outcomes": '["Yes", "No"]',
                              "clobTokenIds": json.dumps([tok, tok + "0"]), "gameStartTime": "2026-11-29 15:00:00+00",
                              "sportsMarketType": "moneyline", "orderPriceMinTickSize": 0.01, "orderMinSize": 5,
                              "feesEnabled": True, "feeSchedule": {"exponent": 1, "rate": 0.05, "takerOnly": True}})
    g = gamma_source.parse_event(ev, ALIASES, {"moneyline"})
    assert isinstance(g, VenueGame) and g.teams == frozenset({"ars", "che"})
    draw = next(b for b in g.books if b.instruments[0].subject == "draw")
    outcomes = ["ars", "che", "draw"]
    assert draw.instruments[0].pays_on(outcomes) == ["draw"] and draw.instruments[1].pays_on(outcomes) == ["ars", "che"]


def test_gamma_bad_markets_are_rejected_not_crashing() -> None:
    ev = gamma_event("nfl-buf-kc", "nfl", "2026-11-29 18:00:00+00", ["Buffalo Bills", "Atlantis"], ["1", "2"])
    assert isinstance(gamma_source.parse_event(ev, ALIASES, {"moneyline"}), Rejected)
    ev = gamma_event("nfl-buf-kc", "nfl", "2026-11-29 18:00:00+00", ["Buffalo Bills", "Kansas City Chiefs"], ["1", "2"], clobTokenIds="[not json")
    assert isinstance(gamma_source.parse_event(ev, ALIASES, {"moneyline"}), Rejected)
    ev = gamma_event("nfl-x", "nfl", "2026-11-29 18:00:00+00", ["Buffalo Bills", "Kansas City Chiefs"], ["1", "2"], sportsMarketType="totals")
    assert gamma_source.parse_event(ev, ALIASES, {"moneyline"}) is None


def _pair_inputs(poly_start: str = "2026-11-29 18:00:00+00") -> tuple[VenueGame, VenueGame]:
    ev = "KXNFLGAME-26NOV29BUFKC"
    k = kalshi_source.parse_event(ev, [kalshi_market(f"{ev}-BUF", "Buffalo"), kalshi_market(f"{ev}-KC", "Kansas City")], SERIES, ALIASES.leagues["nfl"])
    # Polymarket lists home first here: mapping must follow names, not positions.
    p = gamma_source.parse_event(gamma_event("nfl-buf-kc-2026-11-29", "nfl", poly_start, ["Kansas City Chiefs", "Buffalo Bills"], ["111", "222"]),
                                 ALIASES, {"moneyline"})
    assert isinstance(k, VenueGame) and isinstance(p, VenueGame)
    return k, p


def test_pairing_maps_each_team_to_its_token() -> None:
    k, p = _pair_inputs()
    res = match([k], [p], Overrides(), DRAWS, now_us=NOW, rules=RULES)
    rec = res.pairings["nfl-20261129-buf-kc"]
    assert (rec["away"], rec["home"], rec["outcomes"], rec["start_ts"]) == ("buf", "kc", ["buf", "kc"], p.start_ts)
    pays = {(i["market"], i["side"]): i["pays_on"] for b in rec["books"] for i in b["instruments"]}
    assert pays[("111", "YES")] == ["kc"] and pays[("222", "YES")] == ["buf"]
    assert pays[("KXNFLGAME-26NOV29BUFKC-BUF", "YES")] == ["buf"] and pays[("KXNFLGAME-26NOV29BUFKC-BUF", "NO")] == ["kc"]
    assert not res.unmatched


def test_same_teams_on_another_date_do_not_pair() -> None:
    k, p = _pair_inputs("2026-12-06 18:00:00+00")
    res = match([k], [p], Overrides(), DRAWS, now_us=NOW, rules=RULES)
    assert res.pairings == {} and {r.venue for r in res.unmatched} == {"KALSHI", "POLYMARKET"}


def test_late_evening_game_uses_new_york_date() -> None:
    k, p = _pair_inputs("2026-11-30 01:30:00+00")  # 20:30 on the 29th in New York
    assert "nfl-20261129-buf-kc" in match([k], [p], Overrides(), DRAWS, now_us=NOW, rules=RULES).pairings


def test_overrides_force_and_block() -> None:
    k, p = _pair_inputs("2026-12-06 18:00:00+00")
    forced = match([k], [p], parse_overrides({"force": [{"kalshi_event": k.event, "polymarket_event": p.event}]}), DRAWS, now_us=NOW, rules=RULES)
    assert list(forced.pairings) == ["nfl-20261129-buf-kc"]
    k, p = _pair_inputs()
    blocked = match([k], [p], parse_overrides({"block": [{"game_id": "nfl-20261129-buf-kc"}]}), DRAWS, now_us=NOW, rules=RULES)
    assert blocked.pairings == {} and blocked.blocked == ["nfl-20261129-buf-kc"]
    assert match([k], [p], parse_overrides({"block": [{"polymarket_event": p.event}]}), DRAWS, now_us=NOW, rules=RULES).pairings == {}
    with pytest.raises(OverrideError):
        parse_overrides({"force": [{"kalshi_event": "X"}]})


def test_ambiguous_polymarket_events_are_not_guessed() -> None:
    k, p = _pair_inputs()
    p2 = VenueGame(p.venue, p.league, p.date, p.teams, p.event + "-dup", p.event_id + "-dup", p.books, start_ts=p.start_ts)
    res = match([k], [p, p2], Overrides(), DRAWS, now_us=NOW, rules=RULES)
    assert res.pairings == {} and any("ambiguous" in r.reason for r in res.unmatched)
