"""The simulated games' life (simulators/lifecycle.py): they trade, end ARB_SIM_GAME_DURATION_S after their start
(trading stops, resting orders are cancelled, a new game is listed in their place), resolve with a seeded winner
(draws where the league has them) and settle (Kalshi positions paid, Polymarket shares redeemed).

Venue behaviour followed: KD getting_started/market_lifecycle.md (active -> closed -> determined -> finalized,
resting orders cancelled after close), api-reference/portfolio/get-settlements.md; the resolved Gamma market of
tests/resources/polymarket/gamma_market_sports_market_money_line.json."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from core.units import ONE_DOLLAR
from producers.discovery import gamma_source, kalshi_source
from producers.discovery.match import match
from producers.discovery.model import VenueGame
from producers.discovery.overrides import Overrides
from simulators import lifecycle
from simulators.catalogue import KALSHI, POLYMARKET, SimGame
from simulators.engine import BookSide, TimeInForce
from simulators.kalshi.rest import KalshiRest
from simulators.lifecycle import NEVER, draw_winner, poly_yes_value
from simulators.polymarket.gamma import event_json, gamma_routes
from simulators.scenario import LEAGUES, ROUND_US, make_games, replacement_game
from simulators.settings import SimSettings
from simulators.world import SimWorld
from tests.unit.test_sim_schedule import ALIASES, DRAWS, KALSHI_PREFIX, RULES

S = 1_000_000
CLOCK0 = 1_796_000_000_000_000
LIFE = {"game_duration_s": 600.0, "first_game_after_s": 300.0, "game_spacing_s": 300.0, "resolve_delay_s": 60.0,
        "kalshi_settlement_timer_s": 30}


def world(**kw: Any) -> SimWorld:
    base: dict[str, Any] = {"games": 4, "updates_per_s": 0.0, "arb_rate_per_min": 0.0, "autostart": False, "clock": "virtual",
                            "clock_start_us": CLOCK0, **LIFE}
    return SimWorld(SimSettings(**{**base, **kw}))


def at(w: SimWorld, t_us: int) -> None:
    """Move the sim clock to `t_us` and run one scenario step (the driver's hook runs every transition due)."""
    w.clock.pin(t_us)
    w.scenario.step()


def first(w: SimWorld) -> SimGame:
    return min(w.games.values(), key=lambda g: g.start_ts_us)


def book_empty(w: SimWorld, venue: str, book_id: str) -> bool:
    book = w.books(venue)[book_id]
    return not book.bids() and not book.asks()


def buy_yes(w: SimWorld, venue: str, book_id: str, account: str, size: int) -> int:
    """`account` takes `size` of the book's primary instrument at the best ask; returns the price."""
    ask = w.books(venue)[book_id].best_ask()
    assert ask is not None
    res = w.place(venue, book_id, account, BookSide.BUY, ask[0], size, TimeInForce.IOC)
    assert res.filled == size
    return ask[0]


def test_games_never_end_by_default() -> None:
    w = world(game_duration_s=0.0)
    assert w.life.next_us == NEVER
    at(w, CLOCK0 + 30 * 86_400 * S)
    assert {life.phase for life in w.life.lives.values()} == {lifecycle.OPEN} and len(w.games) == 4
    assert {m.status for m in w.kalshi_markets.values()} == {"active"}


def test_a_game_ends_after_its_duration_stops_trading_and_is_replaced() -> None:
    w = world()
    g = first(w)
    end = g.start_ts_us + 600 * S
    assert w.life.lives[g.game_id].end_us == end
    ticker = next(iter(g.kalshi_markets.values()))
    cond = g.poly_markets[0].condition_id
    rec = w.orderlog.new(KALSHI, "create", w.now_us(), "alice", {})
    w.kalshi_account("alice", 1_000 * S)
    bid = w.kalshi_books[ticker].best_bid()
    assert bid is not None
    w.place(KALSHI, ticker, "alice", BookSide.BUY, bid[0] - 300, 500, TimeInForce.GTC, record=rec)  # rests below the book
    assert rec.status == "resting"

    at(w, end - 1)
    assert w.kalshi_markets[ticker].status == "active" and w.life.trading(g.game_id) and len(w.games) == 4
    gamma_ids = {x.game_id: event_json(w, x, i)["id"] for i, x in enumerate(sorted(w.games.values(), key=lambda x: x.game_id))}
    assert len(set(gamma_ids.values())) == 4

    at(w, end)
    assert w.life.phase(g.game_id) == lifecycle.CLOSED
    assert {w.kalshi_markets[t].status for t in g.kalshi_markets.values()} == {"closed"}
    assert w.kalshi_markets[ticker].closed_us == end
    assert rec.status == "canceled" and rec.remaining == 0  # resting orders are cancelled at the close
    assert all(book_empty(w, KALSHI, t) for t in g.kalshi_markets.values()) and book_empty(w, POLYMARKET, cond)
    # The replacement: listed now, starting ARB_SIM_FIRST_GAME_AFTER_S after the end (to 5 min), quoted, with its own life.
    assert len(w.games) == 5
    new = w.games[w.life.lives[g.game_id].replaced_by]
    assert new.start_ts_us == -(-(end + 300 * S) // ROUND_US) * ROUND_US
    assert w.life.lives[new.game_id].end_us == new.start_ts_us + 600 * S
    assert all(not book_empty(w, KALSHI, t) for t in new.kalshi_markets.values())
    day = [x for x in w.games.values() if x.league == new.league and x.date == new.date and x is not new]
    assert not {new.away, new.home} & {t for x in day for t in (x.away, x.home)}  # no team twice on its New York day

    # Gamma ids stay each game's while games are added (discovery keys a Polymarket game on its event id).
    now = {x.game_id: event_json(w, x, i)["id"] for i, x in enumerate(sorted(w.games.values(), key=lambda x: x.game_id))}
    assert {gid: now[gid] for gid in gamma_ids} == gamma_ids and len(set(now.values())) == 5

    w.scenario.run_steps(2_000)  # the random walk leaves the ended game's books alone
    assert all(book_empty(w, KALSHI, t) for t in g.kalshi_markets.values()) and book_empty(w, POLYMARKET, cond)


def test_resolution_then_settlement_pay_the_positions() -> None:
    w = world()
    g = first(w)
    life = w.life.lives[g.game_id]
    away_ticker = g.kalshi_markets[g.away]
    w.kalshi_account("alice", 1_000 * S)
    w.kalshi_account("bob", 1_000 * S)
    price = buy_yes(w, KALSHI, away_ticker, "alice", 300)  # 3 YES of the away team
    bid = w.kalshi_books[away_ticker].best_bid()
    assert bid is not None
    bob_fill = w.place(KALSHI, away_ticker, "bob", BookSide.SELL, bid[0], 200, TimeInForce.IOC)  # 2 NO of the away team
    assert bob_fill.filled == 200
    pm = g.poly_markets[0]
    w.poly_account("carol", 1_000 * S)
    buy_yes(w, POLYMARKET, pm.condition_id, "carol", 500)  # 5 shares of token 0
    alice, bob, carol = (w.kalshi_account("alice"), w.kalshi_account("bob"), w.poly_account("carol"))
    cost_a, fees_a = alice.positions[away_ticker].cost, alice.positions[away_ticker].fees
    assert cost_a == 300 * price
    before = (alice.balance, bob.balance, carol.balance)

    at(w, life.determine_us)
    assert life.phase == lifecycle.DETERMINED and life.winner in g.outcomes
    results = {code: w.kalshi_markets[t].result for code, t in g.kalshi_markets.items()}
    assert results == {code: "yes" if code == life.winner else "no" for code in g.kalshi_markets}
    assert {w.kalshi_markets[t].status for t in g.kalshi_markets.values()} == {"determined"}
    assert (alice.balance, bob.balance) == before[:2] and "alice" not in w.life.settlements  # paid only when finalized
    token0 = poly_yes_value(g, pm, life.winner)
    assert carol.balance == before[2] + 500 * token0  # ARB_SIM_POLY_REDEEM=auto: the 5 shares are redeemed at once
    assert carol.positions[pm.token_ids[0]].qty == 0

    at(w, life.finalize_us)
    assert {w.kalshi_markets[t].status for t in g.kalshi_markets.values()} == {"finalized"}
    won = life.winner == g.away
    assert alice.balance == before[0] + (300 * ONE_DOLLAR if won else 0)
    assert bob.balance == before[1] + (0 if won else 200 * ONE_DOLLAR)
    (st,) = w.life.settlements["alice"]
    assert (st.ticker, st.market_result, st.yes_count, st.yes_total_cost, st.no_count, st.fee_cost) == (
        away_ticker, "yes" if won else "no", 300, cost_a, 0, fees_a)
    assert st.revenue == (300 * ONE_DOLLAR if won else 0) and st.value == (ONE_DOLLAR if won else 0) and st.settled_us == life.finalize_us
    (sb,) = w.life.settlements["bob"]
    assert (sb.yes_count, sb.no_count, sb.revenue) == (0, 200, 0 if won else 200 * ONE_DOLLAR)
    assert alice.positions[away_ticker].qty == 0 and alice.positions[away_ticker].realized == st.revenue - cost_a - fees_a


def test_a_polymarket_account_holds_both_tokens_of_a_condition_apart() -> None:
    """A condition's two tokens are separate ERC-1155 balances: buying token 1 while holding token 0 keeps both (no
    cash back, as the simulator's Kalshi-style netting once gave), a SELL of token 0 takes token 0 only, and the
    resolution pays each. Our positions fold keeps tokens apart
    too; with netting, reconciliation saw a drift on every game where both tokens were bought."""
    w = world()
    g = first(w)
    pm = g.poly_markets[0]
    w.poly_account("carol", 1_000 * S)
    p0 = buy_yes(w, POLYMARKET, pm.condition_id, "carol", 500)  # 5 shares of token 0
    bid = w.poly_books[pm.condition_id].best_bid()
    assert bid is not None
    res = w.place(POLYMARKET, pm.condition_id, "carol", BookSide.SELL, bid[0], 300, TimeInForce.IOC, token_index=1)  # 3 of token 1
    assert res.filled == 300
    carol = w.poly_account("carol")
    t0, t1 = (carol.positions[tok] for tok in pm.token_ids)
    assert (t0.qty, t1.qty) == (500, 300) and (t0.cost, t1.cost) == (500 * p0, 300 * (ONE_DOLLAR - bid[0]))
    assert carol.balance == 1_000 * S - t0.cost - t1.cost - t0.fees - t1.fees
    sold = w.place(POLYMARKET, pm.condition_id, "carol", BookSide.SELL, bid[0], 200, TimeInForce.IOC)  # 2 of token 0 back
    assert sold.filled == 200 and (t0.qty, t1.qty) == (300, 300)
    before = carol.balance
    at(w, w.life.lives[g.game_id].determine_us)
    yes = poly_yes_value(g, pm, w.life.lives[g.game_id].winner)
    assert carol.balance == before + 300 * yes + 300 * (ONE_DOLLAR - yes)  # ARB_SIM_POLY_REDEEM=auto pays both tokens
    assert (t0.qty, t1.qty) == (0, 0)


def test_poly_manual_redeem_keeps_the_position() -> None:
    w = world(poly_redeem="manual")
    g = first(w)
    pm = g.poly_markets[0]
    w.poly_account("carol", 1_000 * S)
    buy_yes(w, POLYMARKET, pm.condition_id, "carol", 500)
    balance = w.poly_account("carol").balance
    at(w, w.life.lives[g.game_id].determine_us)
    assert w.poly_account("carol").balance == balance and w.poly_account("carol").positions[pm.token_ids[0]].qty == 500


def test_the_winner_is_seeded_and_follows_the_fair_odds() -> None:
    g = make_games(5, 40, start_us=CLOCK0)[0]
    assert draw_winner(5, g) == draw_winner(5, g)
    draws = next(x for x in make_games(5, 40, start_us=CLOCK0) if x.draw_possible)
    draws.fair = {draws.away: 0.2, draws.home: 0.2, "draw": 0.6}
    picks = [draw_winner(seed, draws) for seed in range(2_000)]
    assert abs(picks.count("draw") / 2_000 - 0.6) < 0.05 and abs(picks.count(draws.away) / 2_000 - 0.2) < 0.05
    # A draw resolves the draw market YES at both venues, and every team market NO.
    tie = {pm.outcome_code: poly_yes_value(draws, pm, "draw") for pm in draws.poly_markets}
    assert tie == {draws.away: 0, draws.home: 0, "draw": ONE_DOLLAR}


def test_a_run_is_deterministic_in_the_seed() -> None:
    def run(seed: int) -> list[tuple[str, str, str]]:
        w = world(seed=seed, games=6, updates_per_s=2.0)
        w.scenario.run_steps(2 * 1_800)  # 30 min of sim time: the first games end, resolve and settle
        return sorted((life.game_id, life.winner, life.replaced_by) for life in w.life.lives.values())

    a = run(11)
    assert a == run(11) and a != run(12)
    assert sum(1 for _, winner, _ in a if winner) >= 3  # several games resolved through the driver's hook


def test_make_games_takes_the_first_start_and_the_spacing() -> None:
    games = make_games(3, 10, start_us=CLOCK0, first_after_us=60 * S, spacing_us=120 * S)
    starts = sorted(x.start_ts_us for x in games)
    first_start = -(-(CLOCK0 + 60 * S) // ROUND_US) * ROUND_US
    assert starts[:8] == [first_start + k * 120 * S for k in range(8)]
    assert starts[8] == first_start + 24 * 3_600 * S
    assert make_games(3, 10, start_us=CLOCK0) == make_games(3, 10, start_us=CLOCK0, first_after_us=3_600 * S, spacing_us=3_600 * S)


def test_a_replacement_moves_to_the_next_day_when_every_league_is_full() -> None:
    new = replacement_game(1, 1, CLOCK0, [], 300 * S)
    day_full: list[SimGame] = []
    for league, (_, _, teams) in LEAGUES.items():  # every team of every league plays that day
        for a, b in zip(teams[::2], teams[1::2], strict=True):
            day_full.append(SimGame(f"{league}-{new.date}-{a[0]}-{b[0]}", league, new.date, a[0], b[0], a[1], b[1], False, 0, "", "", {}))
    later = replacement_game(1, 1, CLOCK0, day_full, 300 * S)
    assert later.start_ts_us == new.start_ts_us + 24 * 3_600 * S and later.date != new.date
    assert replacement_game(1, 1, CLOCK0, [], 300 * S) == new  # deterministic


def test_a_team_whose_games_ended_plays_again_that_day_against_a_new_opponent() -> None:
    new = replacement_game(1, 1, CLOCK0, [], 300 * S)
    day_full: list[SimGame] = []
    for league, (_, _, teams) in LEAGUES.items():
        for a, b in zip(teams[::2], teams[1::2], strict=True):
            day_full.append(SimGame(f"{league}-{new.date}-{a[0]}-{b[0]}", league, new.date, a[0], b[0], a[1], b[1], False, 0, "", "", {}))
    ended = frozenset(g.game_id for g in day_full)
    again = replacement_game(1, 1, CLOCK0, day_full, 300 * S, ended)
    assert again.start_ts_us == new.start_ts_us and again.date == new.date  # same day: every team is free again
    assert frozenset((again.away, again.home)) not in {frozenset((g.away, g.home)) for g in day_full if g.league == again.league}
    # Every pair of every league has met that day: the next day.
    every_pair = [SimGame(f"{lg}-{new.date}-{a[0]}-{b[0]}", lg, new.date, a[0], b[0], a[1], b[1], False, 0, "", "", {})
                  for lg, (_, _, teams) in LEAGUES.items() for i, a in enumerate(teams) for b in teams[i + 1:]]
    later = replacement_game(1, 1, CLOCK0, every_pair, 300 * S, frozenset(g.game_id for g in every_pair))
    assert later.start_ts_us == new.start_ts_us + 24 * 3_600 * S
    # A team still playing is not listed twice: only its ended games free it.
    busy = replacement_game(1, 1, CLOCK0, day_full, 300 * S, ended - {day_full[0].game_id})
    assert {busy.away, busy.home}.isdisjoint({day_full[0].away, day_full[0].home}) or busy.league != day_full[0].league


def test_games_at_the_demos_pace_go_on_ending_for_hours() -> None:
    """`arb demo`'s game life (six games at a time, each ending 6 min after its start): every replacement starts the same day, minutes after the game
    it replaces ended, for three hours of sim time (a day's rosters alone, 22 games, ran out at ~40 min: the later
    games were listed for the next day and never ended within the run). Ids stay unique."""
    start = 1_796_040_000_000_000  # 2026-11-30 07:00 New York: three hours later is still the same day there
    w = world(games=6, clock_start_us=start, game_duration_s=360.0, first_game_after_s=60.0, game_spacing_s=60.0,
              resolve_delay_s=20.0, kalshi_settlement_timer_s=10)
    for t in range(start, start + 3 * 3_600 * S, 30 * S):
        at(w, t)
    replaced = [life for life in w.life.lives.values() if life.replaced_by]
    assert len(replaced) >= 90  # six games at a time, each ~10 min from listing to its end
    for life in replaced:
        new = w.games[life.replaced_by]
        assert new.start_ts_us - life.end_us <= 6 * 60 * S, (life.game_id, new.game_id)
    assert len({(g.league, g.date, frozenset((g.away, g.home))) for g in w.games.values()}) == len(w.games)
    assert len({g.kalshi_event for g in w.games.values()}) == len(w.games)


async def _json(handler: Any, path: str) -> Any:
    resp = await handler(make_mocked_request("GET", path))
    assert isinstance(resp, web.Response) and resp.status == 200 and resp.text is not None
    return json.loads(resp.text)


async def test_discovery_pairs_the_replacement_and_drops_the_ended_game() -> None:
    """Discovery's own parsers and matcher over the simulator's listings (as tests/unit/test_sim_schedule.py does)."""
    w = world()
    g = first(w)
    at(w, w.life.lives[g.game_id].end_us)
    new_id = w.life.lives[g.game_id].replaced_by
    rest = KalshiRest(w)
    kalshi: list[Any] = []
    for series in (await _json(rest.series_list, f"{KALSHI_PREFIX}/series?category=Sports"))["series"]:
        league = ALIASES.league_of_kalshi_series(series["ticker"])
        assert league is not None
        q = f"series_ticker={series['ticker']}&status=open&mve_filter=exclude&limit=1000"
        kalshi += kalshi_source.parse_markets((await _json(rest.markets_list, f"{KALSHI_PREFIX}/markets?{q}"))["markets"], series, league)
    events = next(r.handler for r in gamma_routes(w) if isinstance(r, web.RouteDef) and r.path == "/events")
    poly = [gamma_source.parse_event(ev, ALIASES, {"moneyline"}) for ev in await _json(events, "/events?active=true&closed=false&tag_id=1")]
    k_games = [x for x in kalshi if isinstance(x, VenueGame)]
    p_games = [x for x in poly if isinstance(x, VenueGame)]
    res = match(k_games, p_games, Overrides(), DRAWS, now_us=w.now_us(), rules=RULES)
    assert sorted(res.pairings) == sorted(gid for gid in w.games if gid != g.game_id) and new_id in res.pairings
    # The ended game: its Kalshi markets are no longer `open`; its Gamma markets no longer accept orders.
    assert g.kalshi_event not in {x.event for x in k_games}
    assert any(not isinstance(x, VenueGame) and x is not None and "accepting" in x.reason.lower() for x in poly), poly
