"""The life of a simulated game: listed, trading, closed, resolved, settled, and replaced by a new game.

With ARB_SIM_GAME_DURATION_S > 0 a game ends that long after its scheduled start. At its end trading stops on
both venues (every resting order is cancelled, orders are refused) and a new game is listed in its place, starting
ARB_SIM_FIRST_GAME_AFTER_S later on the sim clock. ARB_SIM_RESOLVE_DELAY_S after the end the winner is drawn
(seeded, from the game's fair odds at the end, draws included where the league has them): Kalshi's markets turn
`determined` with `result`, Polymarket's resolve (and winning shares are redeemed, ARB_SIM_POLY_REDEEM).
ARB_SIM_KALSHI_SETTLEMENT_TIMER_S later Kalshi's markets are `finalized` and positions are paid
(GET /portfolio/settlements). Every instant is the scheduled one (not when the driver noticed), so a run is
deterministic in the seed whatever the step rate.

Venue sources: Kalshi KD getting_started/market_lifecycle.md (statuses active -> closed -> determined -> finalized,
"Resting orders are cancelled shortly after close", `settlement_timer_seconds`), api-reference/portfolio/
get-settlements.md; Polymarket tests/resources/polymarket/gamma_market_sports_market_money_line.json (a resolved
market: closed true, acceptingOrders false, umaResolutionStatus "resolved", outcomePrices ["1", "0"], closedTime).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.units import ONE_DOLLAR
from simulators.catalogue import KALSHI, POLYMARKET, PolyMarketIds, SimGame
from simulators.scenario import replacement_game

if TYPE_CHECKING:
    from simulators.world import SimWorld

OPEN, CLOSED, DETERMINED, FINALIZED = "open", "closed", "determined", "finalized"
NEVER = 1 << 62


@dataclass
class GameLife:
    game_id: str
    end_us: int  # trading stops (0: never)
    determine_us: int
    finalize_us: int
    phase: str = OPEN
    winner: str = ""  # outcome code, set when determined
    replaced_by: str = ""

    def next_us(self) -> int:
        if not self.end_us or self.phase == FINALIZED:
            return NEVER
        return {OPEN: self.end_us, CLOSED: self.determine_us, DETERMINED: self.finalize_us}[self.phase]


@dataclass(frozen=True)
class KalshiSettlement:
    """One line of Kalshi's GET /portfolio/settlements (money 1e-6 USD, counts 1e-2 contracts)."""

    ticker: str
    event_ticker: str
    market_result: str  # "yes" | "no"
    yes_count: int
    yes_total_cost: int
    no_count: int
    no_total_cost: int
    revenue: int
    fee_cost: int
    value: int  # what one YES contract paid, 1e-4 USD
    settled_us: int


def draw_winner(seed: int, game: SimGame) -> str:
    """The game's winning outcome code, drawn from its fair probabilities (a draw where the league has them);
    deterministic in (seed, game id, fair odds)."""
    rng = random.Random(f"sim-winner:{seed}:{game.game_id}")
    outcomes = game.outcomes
    weights = [max(0.0, game.fair.get(o, 0.0)) for o in outcomes]
    if sum(weights) <= 0:
        weights = [1.0] * len(outcomes)
    return rng.choices(outcomes, weights=weights)[0]


def poly_yes_value(game: SimGame, pm: PolyMarketIds, winner: str) -> int:
    """What token 0 of `pm` pays (1e-4 USD): a moneyline's token 0 is the away team, a Yes/No market's is Yes."""
    code = pm.outcome_code if pm.outcome_code is not None else game.away
    return ONE_DOLLAR if winner == code else 0


# (event, game, life): event is CLOSED, DETERMINED or FINALIZED
LifeListener = Callable[[str, "SimGame", GameLife], None]


class Lifecycle:
    def __init__(self, world: SimWorld) -> None:
        s = world.settings
        self.world = world
        self.duration_us = int(s.game_duration_s * 1e6)
        self.resolve_delay_us = int(s.resolve_delay_s * 1e6)
        self.settle_timer_us = int(s.kalshi_settlement_timer_s) * 1_000_000
        self.first_after_us = int(s.first_game_after_s * 1e6)
        self.lives: dict[str, GameLife] = {}
        self.settlements: dict[str, list[KalshiSettlement]] = {}  # Kalshi account -> its settlements, oldest first
        self.listeners: list[LifeListener] = []
        self.replacements = 0
        self.next_us = NEVER  # the earliest transition due: the driver compares its clock with it every step
        for game in list(world.games.values()):
            self.track(game)

    def track(self, game: SimGame) -> GameLife:
        end = game.start_ts_us + self.duration_us if self.duration_us > 0 else 0
        life = GameLife(game.game_id, end, end + self.resolve_delay_us, end + self.resolve_delay_us + self.settle_timer_us)
        self.lives[game.game_id] = life
        self.next_us = min(self.next_us, life.next_us())
        return life

    def phase(self, game_id: str) -> str:
        life = self.lives.get(game_id)
        return life.phase if life is not None else OPEN

    def trading(self, game_id: str) -> bool:
        return self.phase(game_id) == OPEN

    def advance(self, now_us: int) -> None:
        """Run every transition due by `now_us`, in time order (a long gap may take a game through several)."""
        while True:
            due = [(life.next_us(), life.game_id) for life in self.lives.values() if life.next_us() <= now_us]
            if not due:
                break
            _, game_id = min(due)
            self._step(self.lives[game_id])
        self.next_us = min((life.next_us() for life in self.lives.values()), default=NEVER)

    def _step(self, life: GameLife) -> None:
        game = self.world.games[life.game_id]
        if life.phase == OPEN:
            self._close(game, life)
        elif life.phase == CLOSED:
            self._determine(game, life)
        elif life.phase == DETERMINED:
            self._finalize(game, life)
        for cb in self.listeners:
            cb(life.phase, game, life)

    def _close(self, game: SimGame, life: GameLife) -> None:
        """Trading stops: resting orders are cancelled (Kalshi: "shortly after close"; Polymarket's book goes with the
        market) and a new game is listed in its place."""
        w = self.world
        life.phase = CLOSED
        w.scenario.forget_game(game.game_id, life.end_us)
        for ticker in game.kalshi_markets.values():
            m = w.kalshi_markets[ticker]
            m.status, m.closed_us = "closed", life.end_us
            w.cancel_all(KALSHI, ticker)
        for pm in game.poly_markets:
            w.cancel_all(POLYMARKET, pm.condition_id)
        self.replacements += 1
        ended = frozenset(gid for gid, other in self.lives.items() if other.phase != OPEN)
        new = replacement_game(w.settings.seed, self.replacements, life.end_us, list(w.games.values()), self.first_after_us, ended)
        life.replaced_by = new.game_id
        w.add_game(new)
        w.scenario.add_game(new)
        self.track(new)

    def _determine(self, game: SimGame, life: GameLife) -> None:
        w = self.world
        life.phase = DETERMINED
        life.winner = draw_winner(w.settings.seed, game)
        for code, ticker in game.kalshi_markets.items():
            m = w.kalshi_markets[ticker]
            m.status, m.result, m.determined_us = "determined", "yes" if code == life.winner else "no", life.determine_us
        if w.settings.poly_redeem == "auto":  # what the holder's redeem would pay, at once
            for acct in w.accounts[POLYMARKET].values():
                if not acct.unlimited:
                    for pm in game.poly_markets:
                        yes = poly_yes_value(game, pm, life.winner)
                        for index, token in enumerate(pm.token_ids):
                            acct.settle(token, yes if index == 0 else ONE_DOLLAR - yes, life.determine_us)

    def _finalize(self, game: SimGame, life: GameLife) -> None:
        w = self.world
        life.phase = FINALIZED
        for ticker in game.kalshi_markets.values():
            m = w.kalshi_markets[ticker]
            m.status, m.settled_us = "finalized", life.finalize_us
            value = ONE_DOLLAR if m.result == "yes" else 0
            for account_id, acct in w.accounts[KALSHI].items():
                if acct.unlimited:
                    continue
                paid = acct.settle(ticker, value, life.finalize_us)
                if paid is None:
                    continue
                qty, cost, fees, payout = paid
                self.settlements.setdefault(account_id, []).append(KalshiSettlement(
                    ticker, m.event_ticker, m.result, max(qty, 0), cost if qty > 0 else 0, max(-qty, 0), cost if qty < 0 else 0,
                    payout, fees, value, life.finalize_us))
