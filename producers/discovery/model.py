"""What discovery knows about one game at one venue, before pairing (venue-neutral, pure data)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

DRAW = "draw"
# The market types discovery pairs (ARB_DISCOVER_EXCLUDE_MARKET_TYPES): the game-winner markets -- Kalshi's
# game series of a league, Gamma's `moneyline` -- of a league without draws (two outcomes) or with them (a
# team or the draw). Nothing else is paired: spreads, totals and props have no Kalshi counterpart here.
TWO_WAY, THREE_WAY = "two_way", "three_way"
MARKET_TYPES = (TWO_WAY, THREE_WAY)
# Gamma `sportsMarketType`s read as a game winner. A spreads market lists team names as outcomes too
# ("Spread: Chiefs (-2.5)", outcomes ["Chiefs", "Bills"]): read as a winner it would pay on the wrong games.
GAMMA_WINNER_TYPES = frozenset({"moneyline"})


def market_type(draws: bool) -> str:
    return THREE_WAY if draws else TWO_WAY


@dataclass(frozen=True)
class Instrument:
    market: str  # Tick.market: Kalshi ticker or Polymarket token id
    side: str  # "YES" | "NO" (Polymarket: always "YES", buy the token)
    subject: str  # team code or "draw": the outcome this instrument is about
    negated: bool = False  # True: pays unless `subject` happens (Kalshi NO, Polymarket "No" token)

    def pays_on(self, outcomes: list[str]) -> list[str]:
        return [o for o in outcomes if o != self.subject] if self.negated else [self.subject]

    def label(self) -> str:
        return f"not {self.subject}" if self.negated else self.subject


@dataclass(frozen=True)
class Book:
    venue: str  # "KALSHI" | "POLYMARKET"
    market: str  # Kalshi ticker or Polymarket condition id
    event: str
    instruments: tuple[Instrument, ...]
    tick_size: int  # 1e-4 USD
    min_size: int  # 1e-2 contracts
    fee: dict[str, Any]  # FeeParams record
    seconds_delay: int = 0
    neg_risk: bool = False
    exchange_version: int = 0
    exchange_index: int = -1


@dataclass(frozen=True)
class VenueGame:
    venue: str
    league: str
    date: str  # yyyymmdd, America/New_York
    teams: frozenset[str]
    event: str  # Kalshi event ticker, or Polymarket event slug
    event_id: str  # Kalshi event ticker, or Polymarket event id
    books: tuple[Book, ...]
    away: str | None = None  # known at Kalshi (event ticker order); Polymarket does not say
    home: str | None = None
    start_ts: int | None = None  # microseconds

    @property
    def key(self) -> tuple[str, str, frozenset[str]]:
        return (self.league, self.date, self.teams)


@dataclass(frozen=True)
class Rejected:
    """A venue event discovery could not use, and why (reported, never silently dropped)."""

    venue: str
    event: str
    reason: str


def decimal_text(value: Any) -> str:
    """A JSON number or numeric string as plain decimal text ("5e-05" -> "0.00005"); ValueError if not numeric."""
    try:
        d = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"not a number: {value!r}") from None
    if not d.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return format(d, "f")


def scaled(value: Any, decimals: int) -> int:
    """A decimal value as an integer of 10^-decimals units, exactly (ValueError if it does not fit)."""
    d = Decimal(decimal_text(value)).scaleb(decimals)
    if d != d.to_integral_value():
        raise ValueError(f"{value!r} has more than {decimals} decimals")
    return int(d)
