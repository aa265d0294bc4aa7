"""Discovery settings (ARB_DISCOVER_*). Venue URLs and credentials come from ARB_KALSHI_* and ARB_GAMMA_URL."""

from __future__ import annotations

from dataclasses import dataclass

from core.config import setting


@dataclass(frozen=True)
class DiscoverySettings:
    every_s: float = setting("ARB_DISCOVER_EVERY_S", 60.0, "Seconds between discovery rounds when `arb discover` runs continuously.")
    leagues: str = setting("ARB_DISCOVER_LEAGUES", "", "Comma-separated league codes to pair (empty = every league in the alias table).")
    market_types: str = setting("ARB_DISCOVER_MARKET_TYPES", "moneyline", "Comma-separated Gamma sportsMarketType values to pair.")
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
    # Retired: ARB_DISCOVER_POLY_DEFAULT_FEE_RATE (a Polymarket rate assumed where Gamma gave none; real markets
    # carry other rates). Fees now come from the CLOB's GET /clob-markets; a market without them is refused. The
    # loader no longer reads the variable; this plain field only keeps old callers (cli/commands/discover.py) working.
    poly_default_fee_rate: str | None = None

    def league_set(self) -> set[str] | None:
        codes = {c.strip().lower() for c in self.leagues.split(",") if c.strip()}
        return codes or None

    def market_type_set(self) -> set[str]:
        return {t.strip() for t in self.market_types.split(",") if t.strip()}
