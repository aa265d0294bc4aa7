"""Discovery settings (ARB_DISCOVER_*). Venue URLs and credentials come from ARB_KALSHI_* and ARB_GAMMA_URL."""

from __future__ import annotations

from dataclasses import dataclass

from core.config import ConfigError, setting
from producers.discovery.model import GAMMA_WINNER_TYPES, MARKET_TYPES


@dataclass(frozen=True)
class DiscoverySettings:
    every_s: float = setting("ARB_DISCOVER_EVERY_S", 60.0, "Seconds between discovery rounds when `arb discover` runs continuously.")
    leagues: str = setting("ARB_DISCOVER_LEAGUES", "", "Comma-separated league codes to pair (empty = every league in the alias table).")
    market_types: str = setting("ARB_DISCOVER_MARKET_TYPES", "moneyline",
                                "Comma-separated Gamma sportsMarketType values to pair with Kalshi's game series. Only `moneyline` "
                                "(the game winner) is accepted: other types (spreads, totals) list team names as outcomes too and "
                                "would be read as the winner.")
    exclude_leagues: str = setting(
        "ARB_DISCOVER_EXCLUDE_LEAGUES", "",
        "Comma-separated league codes never to pair (wins over ARB_DISCOVER_LEAGUES and the override file). A pairing already "
        "published for one is withdrawn (tombstoned) by the next round.")
    exclude_market_types: str = setting(
        "ARB_DISCOVER_EXCLUDE_MARKET_TYPES", "",
        "Comma-separated market types never to pair: `two_way` (game winner of a league without draws) and/or `three_way` "
        "(a team or the draw: leagues with draws, e.g. soccer). Withdrawn like ARB_DISCOVER_EXCLUDE_LEAGUES.")
    aliases_file: str = setting("ARB_DISCOVER_ALIASES_FILE", "", "YAML alias file merged over the shipped team alias table.")
    overrides_file: str = setting("ARB_DISCOVER_OVERRIDES_FILE", "", "YAML file forcing or blocking pairs; wins over the matcher. Re-read every round.")
    gamma_tag_id: str = setting("ARB_DISCOVER_GAMMA_TAG_ID", "1", "Gamma tag id of sports events (1 = Sports).")
    gamma_rate_per_s: float = setting("ARB_DISCOVER_GAMMA_RATE_PER_S", 40.0, "Client-side rate limit on Gamma requests (Gamma allows 500 /events per 10 s).")
    start_tolerance_s: float = setting(
        "ARB_DISCOVER_START_TOLERANCE_S", 5400.0,
        "Largest difference in scheduled start (Kalshi ticker/rules time vs Gamma gameStartTime) for two games to pair. "
        "Default 90 min: the two games of an MLB doubleheader start at least ~3 h apart.")
    max_started_s: float = setting(
        "ARB_DISCOVER_MAX_STARTED_S", 14400.0,
        "Seconds after a game's scheduled start after which it is no longer paired (its market may still be listed "
        "unresolved for hours). Default 4 h, longer than a regulation game with overtime; 0 disables the bound.")
    fee_horizon_s: float = setting(
        "ARB_DISCOVER_FEE_HORIZON_S", 600.0,
        "Fee changes due within this many seconds are priced now, whichever costs more: a Kalshi series fee change scheduled "
        "that soon counts if it raises the fee, and a Kalshi market fee waiver counts only while it has longer than this to run. "
        "Keep it above ARB_DISCOVER_EVERY_S: a pairing is refreshed once per round.")
    settle_watch_s: float = setting(
        "ARB_DISCOVER_SETTLE_WATCH_S", 604800.0,
        "Seconds after a game's start (or, start unknown, after discovery first saw it) during which each round asks the venues "
        "how its markets resolved, paired or withdrawn, until every market has a Settlement record on `settlements`. A market "
        "still unresolved then is logged as an ERROR and no longer asked. Default 7 days: a disputed UMA resolution takes days.")
    settle_max_markets: int = setting(
        "ARB_DISCOVER_SETTLE_MAX_MARKETS", 500,
        "Most markets per venue whose resolution one discovery round asks for (the games that started first go first; "
        "the rest wait for the next round). Requests carry 50 markets each.")
    # Retired: ARB_DISCOVER_POLY_DEFAULT_FEE_RATE (a Polymarket rate assumed where Gamma gave none; real markets
    # carry other rates). Fees now come from the CLOB's GET /clob-markets; a market without them is refused. The
    # loader no longer reads the variable; this plain field only keeps old callers (cli/commands/discover.py) working.
    poly_default_fee_rate: str | None = None

    def league_set(self) -> set[str] | None:
        codes = {c.strip().lower() for c in self.leagues.split(",") if c.strip()}
        return codes or None

    def market_type_set(self) -> set[str]:
        types = {t.strip() for t in self.market_types.split(",") if t.strip()}
        if types - GAMMA_WINNER_TYPES:
            raise ConfigError(f"ARB_DISCOVER_MARKET_TYPES: discovery pairs only game-winner markets ({', '.join(sorted(GAMMA_WINNER_TYPES))}), "
                              f"not {', '.join(sorted(types - GAMMA_WINNER_TYPES))}")
        return types

    def exclude_league_set(self) -> frozenset[str]:
        return frozenset(c.strip().lower() for c in self.exclude_leagues.split(",") if c.strip())

    def exclude_market_type_set(self) -> frozenset[str]:
        types = frozenset(t.strip().lower() for t in self.exclude_market_types.split(",") if t.strip())
        if types - set(MARKET_TYPES):
            raise ConfigError(f"ARB_DISCOVER_EXCLUDE_MARKET_TYPES: expected some of {', '.join(MARKET_TYPES)}, "
                              f"got {', '.join(sorted(types - set(MARKET_TYPES)))}")
        return types
