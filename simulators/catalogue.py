"""What the simulated venues list: the games and, for each, its Kalshi markets and Polymarket markets. Shared by
the world that trades them (world.py), the scenario that makes them (scenario.py) and the life that ends them
(lifecycle.py), so none of those needs another to name a game."""

from __future__ import annotations

from dataclasses import dataclass, field

KALSHI = "KALSHI"
POLYMARKET = "POLYMARKET"


@dataclass
class PolyMarketIds:
    """One Polymarket market of a game. Token 0 is the book's primary instrument."""

    condition_id: str  # 0x + 64 hex
    token_ids: tuple[str, str]  # large decimal strings; outcome i pairs with token i
    outcomes: tuple[str, str]  # team names for a moneyline; ("Yes", "No") for a per-outcome market
    question: str
    slug: str
    outcome_code: str | None  # None for the moneyline; the outcome ("draw", team code) of a Yes/No market
    tick: int  # 1e-4 USD


@dataclass
class KalshiMarket:
    ticker: str
    event_ticker: str
    series_ticker: str
    game_id: str
    outcome: str  # "kc", "buf", "draw"; "" for a combo (MVE) market
    title: str
    yes_sub_title: str
    tick: int = 100
    mve: bool = False
    status: str = "active"  # initialized / active / closed / determined / finalized (simulators/lifecycle.py)
    result: str = ""  # "yes" / "no" once determined
    closed_us: int = 0  # when trading stopped (0: open)
    determined_us: int = 0
    settled_us: int = 0  # finalized: positions paid


@dataclass
class SimGame:
    game_id: str  # {league}-{yyyymmdd}-{away}-{home}
    league: str
    date: str  # yyyymmdd, America/New_York
    away: str
    home: str
    away_name: str
    home_name: str
    draw_possible: bool
    start_ts_us: int
    kalshi_event: str
    kalshi_series: str
    kalshi_markets: dict[str, str]  # outcome code -> ticker
    poly_markets: list[PolyMarketIds] = field(default_factory=list)
    # fair probabilities per outcome code (floats are fine here: they only drive the random walk)
    fair: dict[str, float] = field(default_factory=dict)

    @property
    def outcomes(self) -> list[str]:
        return [self.away, self.home] + (["draw"] if self.draw_possible else [])
