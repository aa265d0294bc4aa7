"""Seeded scenarios: synthetic games, books moving as random walks with background flow, and
cross-venue arbitrage windows that close when taken or when they expire.

One RNG seeded from the settings drives everything here, so the same seed and the same sequence of
steps give the same books and the same WS messages (with a virtual clock, the same timestamps too).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import random
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from core.units import ONE_DOLLAR, parse_price, parse_size
from simulators.catalogue import KALSHI, POLYMARKET, PolyMarketIds, SimGame
from simulators.engine import BookSide, TimeInForce

if TYPE_CHECKING:
    from simulators.world import SimWorld

NY = ZoneInfo("America/New_York")
CENT = 100  # the scenario quotes on a 1¢ grid, valid on every book tick the sim uses (100, 50, 25, 10)
DEPTH = 5  # levels per side the background market maker keeps
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")

# league -> (Kalshi series, draws possible, teams (code, name))
LEAGUES: dict[str, tuple[str, bool, tuple[tuple[str, str], ...]]] = {
    "nfl": ("KXNFLGAME", False, (("buf", "Buffalo"), ("kc", "Kansas City"), ("phi", "Philadelphia"), ("gb", "Green Bay"),
                                 ("dal", "Dallas"), ("sf", "San Francisco"), ("mia", "Miami"), ("det", "Detroit"),
                                 ("bal", "Baltimore"), ("cin", "Cincinnati"), ("nyj", "New York J"), ("lar", "Los Angeles R"))),
    "nba": ("KXNBAGAME", False, (("bos", "Boston"), ("lal", "Los Angeles L"), ("den", "Denver"), ("mil", "Milwaukee"),
                                 ("phx", "Phoenix"), ("gsw", "Golden State"), ("nyk", "New York"), ("mia", "Miami"),
                                 ("okc", "Oklahoma City"), ("dal", "Dallas"))),
    "nhl": ("KXNHLGAME", False, (("tor", "Toronto"), ("bos", "Boston"), ("edm", "Edmonton"), ("nyr", "New York R"),
                                 ("col", "Colorado"), ("vgk", "Vegas"), ("fla", "Florida"), ("dal", "Dallas"))),
    "epl": ("KXEPLGAME", True, (("ars", "Arsenal"), ("che", "Chelsea"), ("liv", "Liverpool"), ("mci", "Manchester City"),
                                ("mun", "Manchester United"), ("tot", "Tottenham"), ("new", "Newcastle"), ("avl", "Aston Villa"))),
    "mls": ("KXMLSGAME", True, (("lafc", "Los Angeles FC"), ("mia", "Inter Miami"), ("sea", "Seattle"), ("atl", "Atlanta"),
                                ("cin", "Cincinnati"), ("clb", "Columbus"))),
}
POLY_TICKS = (100, 10, 10, 50, 25)  # 0.01, 0.001 (sports), 0.005, 0.0025 (added 2026-07)


def _hex(*parts: object) -> str:
    return hashlib.sha256(":".join(str(p) for p in parts).encode()).hexdigest()


def _poly_market(seed: int, game_id: str, code: str | None, outcomes: tuple[str, str], question: str, slug: str, tick: int) -> PolyMarketIds:
    cond = "0x" + _hex("sim-condition", seed, game_id, code)
    tokens = (str(int(_hex("sim-token", cond, 0)[:62], 16)), str(int(_hex("sim-token", cond, 1)[:62], 16)))
    return PolyMarketIds(cond, tokens, outcomes, question, slug, code, tick)


HOUR_US = 3_600_000_000
FIRST_GAME_AFTER_US = HOUR_US  # clock-relative schedule: the first game starts an hour after the world is built
GAMES_PER_DAY = 8  # clock-relative schedule: a day's games start an hour apart, the next day's 24 h later
ROUND_US = 300_000_000  # starts on whole 5 minutes: Kalshi's rules text states the start to the minute


def make_games(seed: int, n: int, start_date: str = "", *, start_us: int | None = None, first_after_us: int = FIRST_GAME_AFTER_US,
               spacing_us: int = HOUR_US) -> list[SimGame]:
    """N synthetic games, deterministic in (seed, n, start_date) or, without a start date, in (seed, n, start_us).

    With `start_date` (yyyymmdd, an explicit ARB_SIM_START_DATE: reproducible recordings) the games fall on
    fixed dates from that day, between 12:00 and 20:00 New York time, at most 8 a day. Without it they start
    relative to `start_us` (the sim clock when the world is built; the wall clock if None): the first
    `first_after_us` later (an hour; rounded up to 5 min), then one every `spacing_us` (an hour) for 8 games,
    the next 8 a day later at the same times, and so on. Either way no team plays twice on one (New York) day
    of its league."""
    if start_date:
        return _games_on_dates(seed, n, start_date)
    return _games_from_clock(seed, n, time.time_ns() // 1000 if start_us is None else start_us, first_after_us, spacing_us)


def replacement_game(seed: int, serial: int, now_us: int, taken: list[SimGame], first_after_us: int = FIRST_GAME_AFTER_US,
                     ended: frozenset[str] = frozenset()) -> SimGame:
    """The game listed in place of one that ended: deterministic in (seed, serial, now_us, taken, ended), starting
    `first_after_us` after the sim clock's now (rounded up to 5 min) like the first game of a world. Its league and
    teams are drawn among those not playing that New York day (`taken`: every game listed so far). A team whose
    games that day have all ended (`ended`: their game ids) may play again, against a team it has not met that day:
    games with a life last minutes (`arb demo` ends one a minute), so a day of real rosters (22 games) would run out
    in well under an hour, while a new pair keeps every id unique (game id, Kalshi event, Polymarket slug) and every
    pairing unambiguous. A day with no such pair left moves the game to the next day, same time."""
    rng = random.Random(f"sim-replacement:{seed}:{serial}")
    ts_us = -(-(now_us + first_after_us) // ROUND_US) * ROUND_US
    busy: dict[tuple[str, str], set[str]] = {}  # (league, date) -> teams in a game that has not ended
    met: dict[tuple[str, str], set[frozenset[str]]] = {}  # (league, date) -> pairs that already played
    for g in taken:
        if g.game_id not in ended:
            busy.setdefault((g.league, g.date), set()).update((g.away, g.home))
        met.setdefault((g.league, g.date), set()).add(frozenset((g.away, g.home)))
    for _ in range(366):
        start = dt.datetime.fromtimestamp(ts_us // 1_000_000, NY)
        date = start.strftime("%Y%m%d")
        choices: dict[str, list[tuple[tuple[str, str], tuple[str, str]]]] = {}
        for league in sorted(LEAGUES):
            free = [t for t in LEAGUES[league][2] if t[0] not in busy.get((league, date), set())]
            pairs = [(a, b) for i, a in enumerate(free) for b in free[i + 1:]
                     if frozenset((a[0], b[0])) not in met.get((league, date), set())]
            if pairs:
                choices[league] = pairs
        if choices:
            league = sorted(choices)[rng.randrange(len(choices))]
            away, home = choices[league][rng.randrange(len(choices[league]))]
            if rng.random() < 0.5:
                away, home = home, away
            return _game(rng, seed, league, away, home, start)
        ts_us += 24 * HOUR_US
    raise RuntimeError("no free teams within a year")  # unreachable with a bounded number of games


def _games_on_dates(seed: int, n: int, start_date: str) -> list[SimGame]:
    rng = random.Random(seed)
    try:
        day0 = dt.datetime.strptime(start_date, "%Y%m%d").date()
    except ValueError:
        raise ValueError(f"start date must be yyyymmdd, not {start_date!r}") from None
    used: dict[tuple[str, dt.date], set[str]] = {}
    games: list[SimGame] = []
    leagues = sorted(LEAGUES)
    i = 0
    while len(games) < n:
        day = day0 + dt.timedelta(days=i // 8)
        league = leagues[rng.randrange(len(leagues))]
        free = [t for t in LEAGUES[league][2] if t[0] not in used.setdefault((league, day), set())]
        i += 1
        if len(free) < 2:
            continue
        (away, away_name), (home, home_name) = rng.sample(free, 2)
        used[(league, day)].update((away, home))
        start = dt.datetime(day.year, day.month, day.day, 12 + (len(games) % 9), 0, tzinfo=NY)
        games.append(_game(rng, seed, league, (away, away_name), (home, home_name), start))
    return games


def _games_from_clock(seed: int, n: int, start_us: int, first_after_us: int = FIRST_GAME_AFTER_US, spacing_us: int = HOUR_US) -> list[SimGame]:
    rng = random.Random(seed)
    first = -(-(start_us + first_after_us) // ROUND_US) * ROUND_US
    used: dict[tuple[str, dt.date], set[str]] = {}
    games: list[SimGame] = []
    leagues = sorted(LEAGUES)
    slot = 0
    while len(games) < n:
        ts_us = first + (slot // GAMES_PER_DAY) * 24 * HOUR_US + (slot % GAMES_PER_DAY) * spacing_us
        start = dt.datetime.fromtimestamp(ts_us // 1_000_000, NY)
        day = start.date()
        open_ = [lg for lg in leagues if len(LEAGUES[lg][2]) - len(used.get((lg, day), ())) >= 2]
        if not open_:  # every league's teams already play that day: try the next slot
            slot += 1
            continue
        league = open_[rng.randrange(len(open_))]
        free = [t for t in LEAGUES[league][2] if t[0] not in used.setdefault((league, day), set())]
        (away, away_name), (home, home_name) = rng.sample(free, 2)
        used[(league, day)].update((away, home))
        games.append(_game(rng, seed, league, (away, away_name), (home, home_name), start))
        slot += 1
    return games


def _game(rng: random.Random, seed: int, league: str, away_team: tuple[str, str], home_team: tuple[str, str], start: dt.datetime) -> SimGame:
    """One game of `league` starting at `start`: its ids at both venues (dated in New York) and fair odds."""
    series, draws, _ = LEAGUES[league]
    (away, away_name), (home, home_name) = away_team, home_team
    day = start.astimezone(NY).date()
    date = day.strftime("%Y%m%d")
    game_id = f"{league}-{date}-{away}-{home}"
    event = f"{series}-{day:%y}{MONTHS[day.month - 1]}{day:%d}{away.upper()}{home.upper()}"
    markets = {away: f"{event}-{away.upper()}", home: f"{event}-{home.upper()}"}
    if draws:
        markets["draw"] = f"{event}-TIE"
    slug = f"{league}-{away}-{home}-{day:%Y-%m-%d}"
    tick = POLY_TICKS[rng.randrange(len(POLY_TICKS))]
    if draws:
        p_draw = rng.uniform(0.2, 0.3)
        share = rng.uniform(0.3, 0.7)
        fair = {away: (1 - p_draw) * share, home: (1 - p_draw) * (1 - share), "draw": p_draw}
        poly = [_poly_market(seed, game_id, away, ("Yes", "No"), f"Will {away_name} win on {day:%Y-%m-%d}?", f"{slug}-{away}", tick),
                _poly_market(seed, game_id, home, ("Yes", "No"), f"Will {home_name} win on {day:%Y-%m-%d}?", f"{slug}-{home}", tick),
                _poly_market(seed, game_id, "draw", ("Yes", "No"), f"Will {away_name} vs. {home_name} end in a draw?", f"{slug}-draw", tick)]
    else:
        p_away = rng.uniform(0.25, 0.75)
        fair = {away: p_away, home: 1 - p_away}
        poly = [_poly_market(seed, game_id, None, (away_name, home_name), f"{away_name} vs. {home_name}", slug, tick)]
    return SimGame(game_id, league, date, away, home, away_name, home_name, draws, int(start.timestamp()) * 1_000_000,
                   event, series, markets, poly, fair)


@dataclass
class ArbWindow:
    window_id: str
    game_id: str
    outcome: str  # Kalshi leg buys YES of this outcome; the Polymarket leg buys "not this outcome"
    kalshi_ticker: str
    kalshi_yes_ask: int  # 1e-4 USD
    poly_condition_id: str
    poly_token_id: str  # the token to buy
    poly_ask: int  # price of that token, 1e-4 USD
    size: int  # 1e-2 contracts on each leg
    edge: int  # 1 - kalshi_yes_ask - poly_ask, 1e-4 USD (gross, before fees)
    opened_us: int
    expires_us: int
    kalshi_order_id: str
    poly_order_id: str
    closed_us: int = 0
    close_reason: str = ""  # "taken" | "expired" | "replaced" | "ended" (the game stopped trading)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _BookState:
    venue: str
    book_id: str
    game_id: str
    outcome: str  # the outcome whose probability is this book's primary price
    half_spread: int
    orders: dict[BookSide, dict[int, list[str]]]


class Scenario:
    def __init__(self, world: SimWorld) -> None:
        self.world = world
        s = world.settings
        self.rng = random.Random(s.seed * 1_000_003 + 1)
        self.rate = float(s.updates_per_s)
        self.arb_rate_per_s = float(s.arb_rate_per_min) / 60.0
        self.arb_lifetime_us = int(s.arb_lifetime_ms) * 1000
        self.arb_edge = parse_price(s.arb_edge)
        self.arb_size = parse_size(s.arb_size)
        self.frozen: dict[tuple[str, str], str] = {}  # (venue, book) -> owner (window id or "admin")
        self.windows: list[ArbWindow] = []
        self.active: dict[str, ArbWindow] = {}
        self.steps = 0
        self._states: list[_BookState] = []
        self._by_key: dict[tuple[str, str], _BookState] = {}
        self._by_game: dict[str, list[_BookState]] = {}
        for game in world.games.values():
            self.add_game(game)

    def add_game(self, game: SimGame) -> None:
        books = [(KALSHI, t, code) for code, t in game.kalshi_markets.items()]
        for pm in game.poly_markets:
            books.append((POLYMARKET, pm.condition_id, pm.outcome_code or game.away))
        for venue, book_id, outcome in books:
            st = _BookState(venue, book_id, game.game_id, outcome, CENT * self.rng.randint(1, 2), {BookSide.BUY: {}, BookSide.SELL: {}})
            self._states.append(st)
            self._by_key[(venue, book_id)] = st
            self._by_game.setdefault(game.game_id, []).append(st)
            self.quote(st)

    def forget_game(self, game_id: str, now_us: int) -> None:
        """A game that stopped trading: its windows close and its books leave the random walk (the world cancels
        what rests on them)."""
        for win in [w for w in self.active.values() if w.game_id == game_id]:
            self.close(win, "ended", now_us)
        states = self._by_game.pop(game_id, [])
        gone = {id(st) for st in states}
        self._states = [st for st in self._states if id(st) not in gone]
        for st in states:
            self._by_key.pop((st.venue, st.book_id), None)
            self.frozen.pop((st.venue, st.book_id), None)

    # --- background market maker -----------------------------------------------------------------

    def fair_price(self, st: _BookState) -> int:
        p = self.world.games[st.game_id].fair[st.outcome]
        return min(ONE_DOLLAR - 2 * CENT, max(2 * CENT, round(p * 100) * CENT))  # probability -> integer price at the edge

    def quote(self, st: _BookState) -> None:
        """Keep DEPTH levels a side around fair: cancel stale prices first (never self-cross), then fill gaps."""
        if (st.venue, st.book_id) in self.frozen:
            return
        fair = self.fair_price(st)
        targets = {BookSide.BUY: {fair - st.half_spread - k * CENT for k in range(DEPTH)},
                   BookSide.SELL: {fair + st.half_spread + k * CENT for k in range(DEPTH)}}
        book = self.world.books(st.venue)[st.book_id]
        for side in (BookSide.BUY, BookSide.SELL):
            by_price = st.orders[side]
            for price in list(by_price):
                live = [oid for oid in by_price[price] if book.order(oid) is not None]
                if price not in targets[side]:
                    for oid in live:
                        book.cancel(oid)
                    del by_price[price]
                elif live:
                    by_price[price] = live
                else:
                    del by_price[price]
        for side in (BookSide.BUY, BookSide.SELL):
            for price in sorted(targets[side]):
                if 0 < price < ONE_DOLLAR and price not in st.orders[side]:
                    self._add(st, side, price)

    def _add(self, st: _BookState, side: BookSide, price: int) -> None:
        oid = self.world.new_id()
        res = self.world.place(st.venue, st.book_id, "mm", side, price, CENT * self.rng.randint(10, 300), TimeInForce.GTC, order_id=oid)
        if res.rested:
            st.orders[side].setdefault(price, []).append(oid)

    # --- stepping --------------------------------------------------------------------------------

    def step(self) -> None:
        """One background event: a fair-value move of a game, a taker, or liquidity added / pulled."""
        self.steps += 1
        now = self.world.now_us()
        life = self.world.life
        if now >= life.next_us:  # one comparison per step: games end, resolve and settle only when due
            life.advance(now)
        self.check_windows(now)
        if not self._states:
            return
        if self.arb_rate_per_s > 0 and self.rate > 0 and self.rng.random() < self.arb_rate_per_s / self.rate:
            self.inject()
        st = self._states[self.rng.randrange(len(self._states))]
        r = self.rng.random()
        if (st.venue, st.book_id) in self.frozen:
            return
        if r < 0.45:
            self._walk(st.game_id)
        elif r < 0.65:
            self._taker(st)
        elif r < 0.85:
            side = BookSide.BUY if self.rng.random() < 0.5 else BookSide.SELL
            prices = sorted(st.orders[side])
            if prices:
                self._add(st, side, prices[self.rng.randrange(len(prices))])
        else:
            self._pull(st)

    def _walk(self, game_id: str) -> None:
        game = self.world.games[game_id]
        move = self.rng.gauss(0.0, 0.01)
        a, h = game.away, game.home
        fa = min(0.95, max(0.03, game.fair[a] + move))
        game.fair[h] = max(0.03, game.fair[h] - (fa - game.fair[a]))
        game.fair[a] = fa
        for st in self._by_game[game_id]:
            self.quote(st)

    def _taker(self, st: _BookState) -> None:
        book = self.world.books(st.venue)[st.book_id]
        side = BookSide.BUY if self.rng.random() < 0.5 else BookSide.SELL
        best = book.best_ask() if side is BookSide.BUY else book.best_bid()
        size = CENT * self.rng.randint(1, 40)
        if best is not None:
            self.world.place(st.venue, st.book_id, "flow", side, best[0], size, TimeInForce.IOC)
        self.quote(st)

    def _pull(self, st: _BookState) -> None:
        side = BookSide.BUY if self.rng.random() < 0.5 else BookSide.SELL
        prices = sorted(st.orders[side])
        if not prices:
            return
        ids = st.orders[side][prices[self.rng.randrange(len(prices))]]
        book = self.world.books(st.venue)[st.book_id]
        oid = ids[self.rng.randrange(len(ids))]
        o = book.order(oid)
        if o is not None and o.remaining > CENT:
            book.reduce(oid, CENT * self.rng.randint(1, o.remaining // CENT - 1 or 1))

    # --- arbitrage windows -----------------------------------------------------------------------

    def freeze(self, venue: str, book_id: str, owner: str) -> None:
        self.frozen[(venue, book_id)] = owner

    def release(self, venue: str, book_id: str) -> None:
        """Hand a book back to the background market maker (after an admin 'set book' or a window)."""
        if self.frozen.pop((venue, book_id), None) is not None:
            st = self._by_key.get((venue, book_id))
            if st is not None:
                st.orders = {BookSide.BUY: {}, BookSide.SELL: {}}
                book = self.world.books(venue)[book_id]
                for o in book.resting_orders():
                    if o.account in ("mm", "admin"):
                        book.cancel(o.order_id)
                self.quote(st)

    def inject(self, game_id: str | None = None, outcome: str | None = None, edge: int | None = None,
               size: int | None = None, lifetime_us: int | None = None) -> ArbWindow | None:
        """Open a window: a Kalshi YES ask on `outcome` plus a Polymarket ask on "not outcome" costing 1 - edge.

        Conflicting background quotes are pulled and both books freeze until the window closes.
        Returns None when no game is free (every game already has a window) or the prices don't fit.
        """
        w = self.world
        busy = {win.game_id for win in self.active.values()}
        if game_id is None:
            free = [g for g in w.games if g not in busy and g in self._by_game]  # trading games only
            if not free:
                return None
            game_id = free[self.rng.randrange(len(free))]
        elif game_id in busy or game_id not in self._by_game:
            return None
        game = w.games[game_id]
        if outcome is None:
            outcome = (game.away, game.home)[self.rng.randrange(2)]
        edge = self.arb_edge if edge is None else edge
        size = self.arb_size if size is None else size
        lifetime_us = self.arb_lifetime_us if lifetime_us is None else lifetime_us
        ticker = game.kalshi_markets[outcome]
        if game.draw_possible:
            pm = next(m for m in game.poly_markets if m.outcome_code == outcome)
            not_x = 1  # the "No" token
        else:
            pm = game.poly_markets[0]
            not_x = 1 if outcome == game.away else 0
        if (KALSHI, ticker) in self.frozen or (POLYMARKET, pm.condition_id) in self.frozen:
            return None  # an admin owns one of the books
        a = min(ONE_DOLLAR - 3 * CENT, max(3 * CENT, self.fair_price(self._by_key[(KALSHI, ticker)])))
        b = (ONE_DOLLAR - a - edge) // CENT * CENT
        if b < CENT:
            return None
        now = w.now_us()
        self.freeze(KALSHI, ticker, "window")
        self.freeze(POLYMARKET, pm.condition_id, "window")
        self._pull_crossing(KALSHI, ticker, BookSide.BUY, a)
        k_oid = w.new_id()
        w.place(KALSHI, ticker, "arb", BookSide.SELL, a, size, TimeInForce.GTC, order_id=k_oid)
        p_oid = w.new_id()
        if not_x == 1:  # an ask for token 1 at b is a bid for token 0 at 1 - b
            self._pull_crossing(POLYMARKET, pm.condition_id, BookSide.SELL, ONE_DOLLAR - b)
            w.place(POLYMARKET, pm.condition_id, "arb", BookSide.BUY, ONE_DOLLAR - b, size, TimeInForce.GTC, order_id=p_oid)
        else:
            self._pull_crossing(POLYMARKET, pm.condition_id, BookSide.BUY, b)
            w.place(POLYMARKET, pm.condition_id, "arb", BookSide.SELL, b, size, TimeInForce.GTC, order_id=p_oid)
        win = ArbWindow(w.new_id(), game_id, outcome, ticker, a, pm.condition_id, pm.token_ids[not_x], b, size,
                        ONE_DOLLAR - a - b, now, now + lifetime_us, k_oid, p_oid)
        self.frozen[(KALSHI, ticker)] = self.frozen[(POLYMARKET, pm.condition_id)] = win.window_id
        self.windows.append(win)
        self.active[win.window_id] = win
        return win

    def _pull_crossing(self, venue: str, book_id: str, side: BookSide, price: int) -> None:
        """Cancel background orders on `side` that would cross a new opposite order at `price`."""
        book = self.world.books(venue)[book_id]
        for o in book.resting_orders():
            if o.account in ("mm", "admin") and o.side is side and (o.price >= price if side is BookSide.BUY else o.price <= price):
                book.cancel(o.order_id)

    def check_windows(self, now_us: int) -> None:
        for win in list(self.active.values()):
            k_open = self.world.kalshi_books[win.kalshi_ticker].order(win.kalshi_order_id) is not None
            p_open = self.world.poly_books[win.poly_condition_id].order(win.poly_order_id) is not None
            if not k_open and not p_open:
                self.close(win, "taken", now_us)
            elif now_us >= win.expires_us:
                self.close(win, "expired", now_us)

    def close(self, win: ArbWindow, reason: str, now_us: int) -> None:
        self.world.kalshi_books[win.kalshi_ticker].cancel(win.kalshi_order_id)
        self.world.poly_books[win.poly_condition_id].cancel(win.poly_order_id)
        win.closed_us = now_us
        win.close_reason = reason
        self.active.pop(win.window_id, None)
        self.release(KALSHI, win.kalshi_ticker)
        self.release(POLYMARKET, win.poly_condition_id)

    # --- driver ----------------------------------------------------------------------------------

    def run_steps(self, n: int) -> None:
        """Run n steps now, advancing a virtual clock by one step interval each."""
        step_us = int(1_000_000 / self.rate) if self.rate > 0 else 1000
        for _ in range(n):
            self.world.clock.advance(step_us)
            self.step()

    async def run(self, tick_s: float = 0.005) -> None:
        """Step at `rate` events per second of wall time (batched every tick_s), forever."""
        loop = asyncio.get_running_loop()
        last = loop.time()
        owed = 0.0
        while True:
            await asyncio.sleep(tick_s)
            now = loop.time()
            owed += (now - last) * self.rate
            last = now
            n = int(owed)
            owed -= n
            if n > max(1, self.rate):  # fell behind by more than a second: drop the backlog, don't burst
                n = int(max(1, self.rate))
                owed = 0.0
            if n:
                self.run_steps(n)
            else:
                now = self.world.now_us()
                if now >= self.world.life.next_us:
                    self.world.life.advance(now)
                self.check_windows(now)
