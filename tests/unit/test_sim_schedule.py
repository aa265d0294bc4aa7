"""The simulator's game schedule: relative to its own clock by default (so discovery, which refuses games that
started hours ago, pairs every simulated game), fixed dates with an explicit ARB_SIM_START_DATE, and the same
start instant at both simulated venues."""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from producers.discovery import aliases as alias_mod
from producers.discovery import gamma_source, kalshi_source
from producers.discovery.match import MatchResult, PairingRules, match
from producers.discovery.model import VenueGame
from producers.discovery.overrides import Overrides
from simulators.catalogue import SimGame
from simulators.kalshi.rest import KalshiRest
from simulators.polymarket.gamma import gamma_routes
from simulators.scenario import LEAGUES, make_games
from simulators.settings import SimSettings
from simulators.world import SimWorld

NY = ZoneInfo("America/New_York")
ALIASES = alias_mod.load()
DRAWS = {c: lg.draws for c, lg in ALIASES.leagues.items()}
RULES = PairingRules()  # the documented defaults (90 min tolerance, 4 h max started), whatever the environment says
HOUR = 3_600_000_000
KALSHI_PREFIX = "/trade-api/v2"


def world(**kw: Any) -> SimWorld:
    return SimWorld(SimSettings(**{"updates_per_s": 0.0, "arb_rate_per_min": 0.0, "autostart": False, **kw}))


def now_us() -> int:
    return time.time_ns() // 1000


async def _json(handler: Any, path: str) -> Any:
    resp = await handler(make_mocked_request("GET", path))
    assert isinstance(resp, web.Response) and resp.status == 200 and resp.text is not None
    return json.loads(resp.text)


async def discovery_inputs(w: SimWorld) -> tuple[list[Any], list[Any]]:
    """The simulator's listings as discovery fetches them (Kalshi: sports series, then each series' open non-combo
    markets; Gamma: active open sports events), parsed by discovery's own Kalshi and Gamma parsers."""
    rest = KalshiRest(w)
    kalshi: list[Any] = []
    for series in (await _json(rest.series_list, f"{KALSHI_PREFIX}/series?category=Sports"))["series"]:
        league = ALIASES.league_of_kalshi_series(series["ticker"])
        assert league is not None, series
        q = f"series_ticker={series['ticker']}&status=open&mve_filter=exclude&limit=1000"
        markets = (await _json(rest.markets_list, f"{KALSHI_PREFIX}/markets?{q}"))["markets"]
        kalshi += kalshi_source.parse_markets(markets, series, league)
    events_handler = next(r.handler for r in gamma_routes(w) if isinstance(r, web.RouteDef) and r.path == "/events")
    events = await _json(events_handler, "/events?active=true&closed=false&tag_id=1&limit=100&offset=0")
    assert len(events) < 100  # one page
    poly = [gamma_source.parse_event(ev, ALIASES, {"moneyline"}) for ev in events]
    return kalshi, poly


async def pair(w: SimWorld, at_us: int) -> tuple[MatchResult, list[Any], list[Any]]:
    kalshi, poly = await discovery_inputs(w)
    k_games = [g for g in kalshi if isinstance(g, VenueGame)]
    p_games = [g for g in poly if isinstance(g, VenueGame)]
    assert len(k_games) == len(kalshi) and len(p_games) == len(poly), [g for g in kalshi + poly if not isinstance(g, VenueGame)]
    return match(k_games, p_games, Overrides(), DRAWS, now_us=at_us, rules=RULES), k_games, p_games


def assert_every_game_pairs(w: SimWorld, res: MatchResult, k_games: list[VenueGame], p_games: list[VenueGame]) -> None:
    assert not res.unmatched, res.unmatched
    assert sorted(res.pairings) == sorted(w.games)
    starts = {g.game_id: g.start_ts_us for g in w.games.values()}
    # Both venues state exactly the game's start: Kalshi in its rules text / occurrence_datetime, Gamma in gameStartTime.
    assert {g.event: g.start_ts for g in k_games} == {g.kalshi_event: g.start_ts_us for g in w.games.values()}
    assert sorted(g.start_ts for g in p_games if g.start_ts is not None) == sorted(starts.values())
    for gid, rec in res.pairings.items():
        assert rec["start_ts"] == starts[gid] and rec["game_date"] == w.games[gid].date


def assert_schedule(games: list[SimGame], clock_us: int) -> None:
    """First game an hour (to 5 min) after the clock; all in the future; dates are New York dates; no team twice a day per league."""
    starts = sorted(g.start_ts_us for g in games)
    assert clock_us + HOUR <= starts[0] < clock_us + HOUR + 300_000_000
    assert all(s % 300_000_000 == 0 for s in starts)
    seen: set[tuple[str, str, str]] = set()
    for g in games:
        local = dt.datetime.fromtimestamp(g.start_ts_us // 1_000_000, NY)
        assert g.date == f"{local:%Y%m%d}" and g.game_id == f"{g.league}-{g.date}-{g.away}-{g.home}"
        assert g.kalshi_event == f"{g.kalshi_series}-{local:%y}{local.strftime('%b').upper()}{local:%d}{g.away.upper()}{g.home.upper()}"
        for team in (g.away, g.home):
            assert (g.league, g.date, team) not in seen, g.game_id
            seen.add((g.league, g.date, team))


async def test_a_world_built_now_pairs_every_game_for_hours() -> None:
    before = now_us()
    w = world(games=12)
    assert w.settings.clock == "real" and w.settings.start_date == ""
    assert_schedule(list(w.games.values()), before)
    res, k_games, p_games = await pair(w, now_us())
    assert_every_game_pairs(w, res, k_games, p_games)
    # A demo of several hours: 4 h on, the first game has been on for about 3 h and still pairs.
    res, k_games, p_games = await pair(w, now_us() + 4 * HOUR)
    assert_every_game_pairs(w, res, k_games, p_games)
    # Much later, the games that started more than ARB_DISCOVER_MAX_STARTED_S ago are refused, the later ones still pair.
    later = before + 10 * HOUR
    res, _, _ = await pair(w, later)
    old = {g.game_id for g in w.games.values() if g.start_ts_us < later - 4 * HOUR}
    assert old and set(res.pairings) == set(w.games) - old
    assert len(res.unmatched) == 2 * len(old) and all("game started" in r.reason for r in res.unmatched)
    assert {r.event for r in res.unmatched if r.venue == "KALSHI"} == {w.games[gid].kalshi_event for gid in old}


@pytest.mark.parametrize("clock_start", [
    1_796_000_000_000_000,  # the default virtual clock: 2026-11-29 19:53 New York, the day's games cross midnight
    int(dt.datetime(2026, 7, 4, 9, 0, tzinfo=NY).timestamp()) * 1_000_000,  # summer: EDT in Kalshi's rules text
    int(dt.datetime(2026, 11, 1, 0, 30, tzinfo=NY).timestamp()) * 1_000_000,  # the night the clocks go back
])
async def test_a_virtual_clock_world_pairs_every_game_at_its_own_time(clock_start: int) -> None:
    w = world(games=20, clock="virtual", clock_start_us=clock_start)
    assert w.now_us() == clock_start
    assert_schedule(list(w.games.values()), clock_start)
    res, k_games, p_games = await pair(w, w.now_us())
    assert_every_game_pairs(w, res, k_games, p_games)


def test_same_seed_and_virtual_clock_give_the_same_games() -> None:
    def ids(**kw: Any) -> list[tuple[str, int, list[str]]]:
        return [(g.game_id, g.start_ts_us, [pm.condition_id for pm in g.poly_markets]) for g in world(**kw).games.values()]

    a = ids(seed=4, games=30, clock="virtual", clock_start_us=1_796_000_000_000_000)
    assert a == ids(seed=4, games=30, clock="virtual", clock_start_us=1_796_000_000_000_000)
    assert a != ids(seed=5, games=30, clock="virtual", clock_start_us=1_796_000_000_000_000)
    later = ids(seed=4, games=30, clock="virtual", clock_start_us=1_796_000_000_000_000 + 7 * 24 * HOUR)
    assert [s for _, s, _ in later] == [s + 7 * 24 * HOUR for _, s, _ in a]  # same schedule, a week on
    assert make_games(4, 30, start_us=1_796_000_000_000_000) == [w for w in world(seed=4, games=30, clock="virtual").games.values()]


def test_schedule_spreads_over_days_and_fits_many_games() -> None:
    start = 1_796_000_000_000_000
    games = make_games(1, 60, start_us=start)  # `arb bench sim` uses 50
    assert len({g.game_id for g in games}) == 60
    assert_schedule(games, start)
    first = min(g.start_ts_us for g in games)
    offsets = sorted({(g.start_ts_us - first) // HOUR for g in games})
    assert offsets[:8] == list(range(8)) and offsets[8:16] == list(range(24, 32))  # 8 an hour apart, then a day later
    assert {g.league for g in games} == set(LEAGUES)


def test_explicit_start_date_keeps_fixed_dates() -> None:
    w = world(games=12, start_date="20261129", seed=7)  # the clock (real, now) plays no part
    games = list(w.games.values())
    assert games == make_games(7, 12, "20261129") == make_games(7, 12, "20261129", start_us=0)
    for g in games:
        local = dt.datetime.fromtimestamp(g.start_ts_us // 1_000_000, NY)
        assert g.date >= "20261129" and g.date == f"{local:%Y%m%d}" and 12 <= local.hour <= 20 and local.minute == 0
    assert games[0].date == "20261129"
    with pytest.raises(ValueError, match="yyyymmdd"):
        make_games(1, 2, "2026-11-29")


async def test_explicit_start_date_world_pairs_when_discovery_runs_on_those_dates() -> None:
    w = world(games=8, start_date="20261129")
    res, k_games, p_games = await pair(w, int(dt.datetime(2026, 11, 29, 9, 0, tzinfo=NY).timestamp()) * 1_000_000)
    assert_every_game_pairs(w, res, k_games, p_games)


def test_kalshi_markets_state_the_start_as_the_venue_does() -> None:
    from simulators.kalshi.rest import market_json

    w = world(games=10, clock="virtual", clock_start_us=int(dt.datetime(2026, 7, 4, 9, 0, tzinfo=NY).timestamp()) * 1_000_000)
    for g in w.games.values():
        start = dt.datetime.fromtimestamp(g.start_ts_us // 1_000_000, NY)
        for ticker in g.kalshi_markets.values():
            m = market_json(w, w.kalshi_markets[ticker])
            assert kalshi_source.ticker_start(m["event_ticker"]) is None  # these series' tickers carry no time
            assert f"originally scheduled for {start:%b} {start.day}, {start.year} at " in m["rules_primary"]
            assert f"at {start.hour % 12 or 12}:{start:%M} {start:%p} EDT" in m["rules_primary"]  # summer: Eastern Daylight Time
            assert kalshi_source.rules_start(m["rules_primary"]) == start
            assert dt.datetime.fromisoformat(m["occurrence_datetime"].replace("Z", "+00:00")) == start
