"""Kalshi half of discovery: sports game series -> open markets (mve_filter=exclude) -> one VenueGame per event.

Event tickers look like KXNFLGAME-26NOV29BUFKC or KXMLBGAME-26JUL041905NYYBOS: the scheduled date (and,
for some series, the start time HHMM) in America/New_York, then the away and home codes run together;
each team market's ticker ends in that team's code, and a draw market ends in TIE.

Start time. Kalshi documents no ticker grammar (its glossary, getting_started/terms.md, says not to parse
tickers), so the HHMM is read as New York wall time on the evidence of Kalshi's own market text as
quoted by public client code: each `rules_primary` found states the ticker's clock time with an explicit
Eastern zone ("... game originally scheduled for Jul 6, 2026 at 10:10 PM EDT" on
KXMLBSPREAD-26JUL062210COLLAD-COL2; "Aug 31, 2026 at 9:40 PM EDT" on KXMLBKS-26AUG312140PHIAZ), and
`occurrence_datetime` "2026-06-26T23:40:00Z" accompanies KXMLBGAME-26JUN261940KCCWS. The rules text, when it carries a time, is therefore checked against the
ticker (they must agree, or the event is refused) and is the start when the ticker has none; the market's
`occurrence_datetime` ("the recorded datetime when the underlying event occurred, if available", docs
get-market.md) is the last resort.

Away/home. The two codes are split where both halves are the event's own team-market suffixes (or names
the alias table resolves), so "LACLA" is LAC at LA whatever order the API lists the markets in; a teams
part that splits more than one way is refused.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import AsyncIterator, Iterable
from typing import Any
from zoneinfo import ZoneInfo

from producers.discovery.aliases import AliasTable, League
from producers.discovery.model import DRAW, Book, Instrument, Rejected, VenueGame, scaled

log = logging.getLogger(__name__)

NY = ZoneInfo("America/New_York")
MONTHS = {m: i + 1 for i, m in enumerate(("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"))}
EVENT_RE = re.compile(r"^(?P<yy>\d{2})(?P<mon>[A-Z]{3})(?P<dd>\d{2})(?:(?P<hh>\d{2})(?P<mi>\d{2}))?(?P<teams>[A-Z0-9]+)$")
# Kalshi's rules wording: "... game originally scheduled for Aug 12, 2026 at 7:07 PM EDT, then ..."
RULES_TIME = re.compile(r"scheduled for (?P<mon>[A-Z][a-z]{2})[a-z]*\.? (?P<dd>\d{1,2}), (?P<yyyy>\d{4}) at "
                        r"(?P<hh>\d{1,2}):(?P<mi>\d{2}) ?(?P<ampm>[AP])\.?M\.? (?P<zone>E[DS]T)\b")
ZONE_OFFSET_H = {"EDT": -4, "EST": -5}
# Market statuses that trade (REST `active`; `open` is the filter value). Anything else -- initialized,
# inactive (paused), closed, determined, disputed, amended, finalized -- is a market that is not trading.
OPEN_STATUSES = {"active", "open"}
KALSHI_TAKER_RATE_PPM = 70_000  # 0.07 (K6)
QUADRATIC = {"quadratic", "quadratic_with_maker_fees", "quadratic_with_combo_maker_fees"}


def event_parts(event_ticker: str) -> tuple[dt.date, tuple[int, int] | None, str] | None:
    """(date, (hour, minute) if the ticker carries a start time, run-together team codes), or None."""
    _, _, tail = event_ticker.partition("-")
    m = EVENT_RE.match(tail)
    if m is None or m["mon"] not in MONTHS:
        return None
    try:
        day = dt.date(2000 + int(m["yy"]), MONTHS[m["mon"]], int(m["dd"]))
    except ValueError:
        return None
    if m["hh"] is None:
        return day, None, m["teams"]
    hh, mi = int(m["hh"]), int(m["mi"])
    if hh > 23 or mi > 59:
        return None
    return day, (hh, mi), m["teams"]


def event_date(event_ticker: str) -> tuple[str, str] | None:
    """(yyyymmdd, run-together team codes) from an event ticker, or None."""
    parts = event_parts(event_ticker)
    return None if parts is None else (parts[0].strftime("%Y%m%d"), parts[2])


def ticker_start(event_ticker: str) -> dt.datetime | None:
    """The start time an event ticker carries (New York wall time), as an aware datetime; None if it has none."""
    parts = event_parts(event_ticker)
    if parts is None or parts[1] is None:
        return None
    day, (hh, mi) = parts[0], parts[1]
    return dt.datetime(day.year, day.month, day.day, hh, mi, tzinfo=NY)


def rules_start(text: str) -> dt.datetime | None:
    """The scheduled start stated in a market's rules text ("... Jul 6, 2026 at 10:10 PM EDT"), or None."""
    m = RULES_TIME.search(text or "")
    if m is None or m["mon"].upper() not in MONTHS:
        return None
    hh, mi = int(m["hh"]), int(m["mi"])
    if not 1 <= hh <= 12 or mi > 59:
        return None
    hh = hh % 12 + (12 if m["ampm"] == "P" else 0)
    try:
        local = dt.datetime(int(m["yyyy"]), MONTHS[m["mon"].upper()], int(m["dd"]), hh, mi)
    except ValueError:
        return None
    return local.replace(tzinfo=dt.timezone(dt.timedelta(hours=ZONE_OFFSET_H[m["zone"]])))


def _iso(value: Any) -> dt.datetime | None:
    if not value:
        return None
    try:
        t = dt.datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else None


def game_start(event_ticker: str, markets: list[dict[str, Any]]) -> dt.datetime | None | str:
    """The scheduled start of a game event: ticker time, else rules text, else occurrence_datetime.

    A string is returned when the sources contradict each other (the reason to refuse the event)."""
    from_ticker = ticker_start(event_ticker)
    from_rules = next((t for t in (rules_start(str(m.get("rules_primary") or "")) for m in markets) if t is not None), None)
    if from_ticker is not None:
        if from_rules is not None and abs((from_rules - from_ticker).total_seconds()) > 60:
            return (f"start times disagree: ticker {from_ticker:%H:%M} New York, rules text "
                    f"{from_rules.astimezone(NY):%Y-%m-%d %H:%M} New York")
        return from_ticker
    if from_rules is not None:
        return from_rules
    return next((t for t in (_iso(m.get("occurrence_datetime")) for m in markets) if t is not None), None)


def away_home(run_together: str, suffixes: dict[str, str], league: League) -> tuple[str, str] | None:
    """Split the event ticker's run-together codes into (away, home) team codes; None unless exactly one split fits.

    `suffixes` maps each team market's ticker suffix to its team code. A half fits if it is one of those
    suffixes or a name the league's alias table resolves to one of the two teams."""
    teams = set(suffixes.values())

    def code(part: str) -> str | None:
        return suffixes.get(part) or (c if (c := league.team(part)) in teams else None)

    splits = set()
    for i in range(1, len(run_together)):
        a, b = code(run_together[:i]), code(run_together[i:])
        if a is not None and b is not None and a != b:
            splits.add((a, b))
    return splits.pop() if len(splits) == 1 else None


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
    """One Kalshi event and its (non-combo) markets -> VenueGame, or why not.

    Every market of the event must be trading (status `active`): an event with a closed, paused or settled
    market is refused, not paired with what is left of it."""
    parsed = event_parts(event_ticker)
    if parsed is None:
        return Rejected("KALSHI", event_ticker, "event ticker has no date/teams part")
    day, _, run_together = parsed
    fee = fee_params(series)
    if fee is None:
        return Rejected("KALSHI", event_ticker, f"unsupported fee_type {series.get('fee_type')!r}")
    subjects: dict[str, tuple[str, dict[str, Any]]] = {}
    for m in sorted(markets, key=lambda m: str(m.get("ticker", ""))):
        ticker = str(m.get("ticker", ""))
        if m.get("status") not in OPEN_STATUSES:
            return Rejected("KALSHI", event_ticker, f"market {ticker} is {m.get('status')!r}: stopped trading")
        suffix = ticker.removeprefix(event_ticker + "-")
        subject = _subject(league, suffix, m)
        if subject is None:
            return Rejected("KALSHI", event_ticker, f"unknown team {suffix!r} / {m.get('yes_sub_title')!r} in league {league.code}")
        if subject in subjects:
            return Rejected("KALSHI", event_ticker, f"two markets for {subject!r}: {subjects[subject][1].get('ticker')} and {ticker}")
        subjects[subject] = (suffix, m)
    teams = [s for s in subjects if s != DRAW]
    if len(teams) != 2:
        return Rejected("KALSHI", event_ticker, f"expected 2 team markets, found {len(teams)}")
    if league.draws and DRAW not in subjects:
        return Rejected("KALSHI", event_ticker, "no open draw (TIE) market in a league with draws")
    # Away team first in the ticker: KXNFLGAME-26NOV29BUFKC is BUF at KC.
    order = away_home(run_together, {subjects[t][0]: t for t in teams}, league)
    if order is None:
        return Rejected("KALSHI", event_ticker, f"cannot tell away/home from {run_together!r} (team markets {sorted(subjects[t][0] for t in teams)})")
    away, home = order
    start = game_start(event_ticker, [m for _, m in subjects.values()])
    if isinstance(start, str):
        return Rejected("KALSHI", event_ticker, start)
    outcomes_books = []
    for subject, (_, m) in sorted(subjects.items(), key=lambda kv: str(kv[1][1]["ticker"])):
        t = str(m["ticker"])
        outcomes_books.append(Book(
            venue="KALSHI", market=t, event=event_ticker,
            instruments=(Instrument(t, "YES", subject), Instrument(t, "NO", subject, negated=True)),
            tick_size=tick_size(m), min_size=1 if m.get("fractional_trading_enabled") else 100, fee=fee,
            exchange_index=int(m.get("exchange_index", -1) if m.get("exchange_index") is not None else -1)))
    return VenueGame("KALSHI", league.code, day.strftime("%Y%m%d"), frozenset(teams), event_ticker, event_ticker, tuple(outcomes_books),
                     away=away, home=home, start_ts=None if start is None else int(start.timestamp()) * 1_000_000)


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
