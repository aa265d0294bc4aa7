"""Kalshi half of discovery: sports game series -> open markets (mve_filter=exclude) -> one VenueGame per event.

Event tickers look like KXNFLGAME-26NOV29BUFKC (date in the game's local calendar, then away and home
codes run together); each team market's ticker ends in that team's code, and a draw market ends in TIE.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Iterable
from typing import Any

from producers.discovery.aliases import AliasTable, League
from producers.discovery.model import DRAW, Book, Instrument, Rejected, VenueGame, scaled

log = logging.getLogger(__name__)

MONTHS = {m: i + 1 for i, m in enumerate(("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"))}
EVENT_RE = re.compile(r"^(?P<yy>\d{2})(?P<mon>[A-Z]{3})(?P<dd>\d{2})(?:\d{4})?(?P<teams>[A-Z0-9]+)$")
OPEN_STATUSES = {"active", "open"}
KALSHI_TAKER_RATE_PPM = 70_000  # 0.07 (K6)
QUADRATIC = {"quadratic", "quadratic_with_maker_fees", "quadratic_with_combo_maker_fees"}


def event_date(event_ticker: str) -> tuple[str, str] | None:
    """(yyyymmdd, run-together team codes) from an event ticker, or None."""
    _, _, tail = event_ticker.partition("-")
    m = EVENT_RE.match(tail)
    if m is None or m["mon"] not in MONTHS:
        return None
    return f"20{m['yy']}{MONTHS[m['mon']]:02d}{m['dd']}", m["teams"]


def fee_params(series: dict[str, Any], event: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """FeeParams from the series' fee_type / fee_multiplier (an event override wins); None if unsupported."""
    event = event or {}
    fee_type = str(event.get("fee_type_override") or series.get("fee_type") or "quadratic")
    if fee_type not in QUADRATIC:
        return None
    mult = event.get("fee_multiplier_override", series.get("fee_multiplier", 1))
    return {"model": "KALSHI_QUADRATIC", "rate_ppm": KALSHI_TAKER_RATE_PPM, "multiplier_ppm": scaled(mult if mult is not None else 1, 6),
            "exponent": 1}


def tick_size(market: dict[str, Any]) -> int:
    """The coarsest price step of the market's ranges: a price on it is valid in every range (1e-4 USD)."""
    steps = [scaled(r["step"], 4) for r in market.get("price_ranges") or [] if r.get("step")]
    return max(steps) if steps else 100


def _subject(league: League, suffix: str, market: dict[str, Any]) -> str | None:
    if suffix in ("TIE", "DRAW"):
        return DRAW
    return league.team(suffix) or league.team(str(market.get("yes_sub_title") or ""))


def parse_event(event_ticker: str, markets: list[dict[str, Any]], series: dict[str, Any], league: League) -> VenueGame | Rejected:
    """One Kalshi event and its (non-combo, open) markets -> VenueGame, or why not."""
    parsed = event_date(event_ticker)
    if parsed is None:
        return Rejected("KALSHI", event_ticker, "event ticker has no date/teams part")
    date, run_together = parsed
    fee = fee_params(series)
    if fee is None:
        return Rejected("KALSHI", event_ticker, f"unsupported fee_type {series.get('fee_type')!r}")
    subjects: dict[str, tuple[str, dict[str, Any]]] = {}
    for m in markets:
        ticker = str(m.get("ticker", ""))
        if m.get("status") not in OPEN_STATUSES:
            continue
        suffix = ticker.removeprefix(event_ticker + "-")
        subject = _subject(league, suffix, m)
        if subject is None:
            return Rejected("KALSHI", event_ticker, f"unknown team {suffix!r} / {m.get('yes_sub_title')!r} in league {league.code}")
        subjects[subject] = (suffix, m)
    teams = [s for s in subjects if s != DRAW]
    if len(teams) != 2:
        return Rejected("KALSHI", event_ticker, f"expected 2 team markets, found {len(teams)}")
    a, b = teams
    # Away team first in the ticker: KXNFLGAME-26NOV29BUFKC is BUF at KC.
    away, home = (a, b) if run_together.startswith(subjects[a][0]) else (b, a)
    outcomes_books = []
    for subject, (_, m) in subjects.items():
        t = str(m["ticker"])
        outcomes_books.append(Book(
            venue="KALSHI", market=t, event=event_ticker,
            instruments=(Instrument(t, "YES", subject), Instrument(t, "NO", subject, negated=True)),
            tick_size=tick_size(m), min_size=1 if m.get("fractional_trading_enabled") else 100, fee=fee,
            exchange_index=int(m.get("exchange_index", -1) if m.get("exchange_index") is not None else -1)))
    return VenueGame("KALSHI", league.code, date, frozenset(teams), event_ticker, event_ticker, tuple(outcomes_books), away=away, home=home)


def parse_markets(markets: Iterable[dict[str, Any]], series: dict[str, Any], league: League) -> list[VenueGame | Rejected]:
    """Markets of one series (any order) grouped by event."""
    by_event: dict[str, list[dict[str, Any]]] = {}
    for m in markets:
        by_event.setdefault(str(m.get("event_ticker", "")), []).append(m)
    return [parse_event(ev, ms, series, league) for ev, ms in sorted(by_event.items()) if ev]


class KalshiDiscovery:
    """Fetches Kalshi sports games through a KalshiRest client (whose token buckets rate-limit it)."""

    def __init__(self, rest: Any, aliases: AliasTable, leagues: set[str] | None = None) -> None:
        self.rest = rest
        self.aliases = aliases
        self.leagues = leagues

    async def _series(self) -> AsyncIterator[tuple[dict[str, Any], League]]:
        data = await self.rest.get("/series", {"category": "Sports"})
        for s in data.get("series") or []:
            league = self.aliases.league_of_kalshi_series(str(s.get("ticker", "")))
            if league is not None and (self.leagues is None or league.code in self.leagues):
                yield s, league

    async def fetch(self) -> list[VenueGame | Rejected]:
        out: list[VenueGame | Rejected] = []
        async for series, league in self._series():
            params = {"series_ticker": series["ticker"], "status": "open", "mve_filter": "exclude", "limit": 1000}
            markets = [m async for m in self.rest.paged("/markets", "markets", params)]
            out.extend(parse_markets(markets, series, league))
        return out
