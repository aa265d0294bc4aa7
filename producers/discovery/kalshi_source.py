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

Fees (issue 29 item 4; docs api-reference/events/get-events.md, get-event-fee-changes.md,
exchange/get-series-fee-changes.md, market/get-markets.md, openapi 3.28.0). A series has `fee_type` and
`fee_multiplier` (both required). "Event fees are an override layered on top of the parent series' fee
structure": an event's `fee_type_override` / `fee_multiplier_override` win where set, and null means
cleared, i.e. the series' own value ("falls back to the parent series' fee multiplier"), never 1.0.
`GET /series/fee_changes` lists the upcoming `{series_ticker, fee_type, fee_multiplier, scheduled_ts}`, and a
market's `fee_waiver_expiration_time` is when "this market's fee waiver expires". A pairing is republished
only once per discovery round, so anything due within ARB_DISCOVER_FEE_HORIZON_S is priced now, whichever
costs more: a change that starts soon counts if it raises the fee, and a waiver counts only while it has
longer than that to run. A waived market keeps the quadratic model with multiplier 0: its trade fee is
zero, the balance-precision rounding fee (core/fees.py) still applies.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any
from zoneinfo import ZoneInfo

from core.fees import KALSHI_TAKER_RATE_PPM
from core.units import now_us as wall_clock_us
from producers.discovery.aliases import AliasTable, League
from producers.discovery.model import DRAW, Book, Instrument, Rejected, VenueGame, scaled
from producers.discovery.resolution import kalshi_resolution

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


def _layered(base_type: Any, base_mult: Any, event: dict[str, Any]) -> tuple[Any, Any]:
    """(fee type, multiplier) of an event: its overrides where set (non-null), else the series' values."""
    ft, fm = event.get("fee_type_override"), event.get("fee_multiplier_override")
    return (base_type if ft is None else ft), (base_mult if fm is None else fm)


def _multiplier_ppm(fee_type: Any, mult: Any, what: str) -> int | str:
    if fee_type is None or mult is None:
        return f"{what}: no fee_type / fee_multiplier"
    if str(fee_type) not in QUADRATIC:
        return f"{what}: unsupported fee_type {fee_type!r}"
    try:
        ppm = scaled(mult, 6)
    except ValueError:
        return f"{what}: fee_multiplier {mult!r} not usable"
    return ppm if ppm >= 0 else f"{what}: negative fee_multiplier {mult!r}"


def fee_params(series: dict[str, Any], event: dict[str, Any] | None = None, *, market: dict[str, Any] | None = None,
               changes: Iterable[dict[str, Any]] = (), now_us: int | None = None, horizon_s: float = 0.0) -> dict[str, Any] | str:
    """FeeParams of a market, or the reason its fee cannot be established (the event is then refused).

    The series' fee with the event's override layered on top; every series fee change in `changes` scheduled
    before now + `horizon_s` is a candidate too, and the dearest candidate wins; a market fee waiver that runs
    past now + `horizon_s` sets the multiplier to 0."""
    event = event or {}
    now = wall_clock_us() if now_us is None else now_us
    horizon = now + int(horizon_s * 1_000_000)
    candidates = [("series " + str(series.get("ticker")), series.get("fee_type"), series.get("fee_multiplier"))]
    for ch in changes:
        when = _iso(ch.get("scheduled_ts"))
        if when is None:
            return f"series fee change {ch.get('id')!r}: scheduled_ts {ch.get('scheduled_ts')!r} not readable"
        if int(when.timestamp() * 1_000_000) <= horizon:
            candidates.append((f"series fee change {ch.get('id')!r} at {ch.get('scheduled_ts')}", ch.get("fee_type"), ch.get("fee_multiplier")))
    mult = 0
    for what, base_type, base_mult in candidates:
        ppm = _multiplier_ppm(*_layered(base_type, base_mult, event), what)
        if isinstance(ppm, str):
            return ppm
        mult = max(mult, ppm)
    waiver = (market or {}).get("fee_waiver_expiration_time")
    if waiver is not None:
        ends = _iso(waiver)
        if ends is not None and int(ends.timestamp() * 1_000_000) > horizon:
            mult = 0  # waived for longer than a pairing can go unrefreshed
    return {"model": "KALSHI_QUADRATIC", "rate_ppm": KALSHI_TAKER_RATE_PPM, "multiplier_ppm": mult, "exponent": 1}


def tick_size(market: dict[str, Any]) -> int:
    """The coarsest price step of the market's ranges: a price on it is valid in every range (1e-4 USD)."""
    steps = [scaled(r["step"], 4) for r in market.get("price_ranges") or [] if r.get("step")]
    return max(steps) if steps else 100


def _subject(league: League, suffix: str, market: dict[str, Any]) -> str | None:
    if suffix in ("TIE", "DRAW"):
        return DRAW
    return league.team(suffix) or league.team(str(market.get("yes_sub_title") or ""))


def parse_event(event_ticker: str, markets: list[dict[str, Any]], series: dict[str, Any], league: League, *,
                event: dict[str, Any] | None = None, fee_changes: Iterable[dict[str, Any]] = (), now_us: int | None = None,
                fee_horizon_s: float = 0.0) -> VenueGame | Rejected:
    """One Kalshi event and its (non-combo) markets -> VenueGame, or why not.

    Every market of the event must be trading (status `active`): an event with a closed, paused or settled
    market is refused, not paired with what is left of it. `event` is the event object (its fee overrides;
    None: no override), `fee_changes` the series' scheduled fee changes (see `fee_params`)."""
    parsed = event_parts(event_ticker)
    if parsed is None:
        return Rejected("KALSHI", event_ticker, "event ticker has no date/teams part")
    day, _, run_together = parsed
    fee_changes = list(fee_changes)
    fees: dict[str, dict[str, Any]] = {}
    for m in markets:
        fee = fee_params(series, event, market=m, changes=fee_changes, now_us=now_us, horizon_s=fee_horizon_s)
        if isinstance(fee, str):
            return Rejected("KALSHI", event_ticker, f"fee: {fee}")
        fees[str(m.get("ticker", ""))] = fee
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
            tick_size=tick_size(m), min_size=1 if m.get("fractional_trading_enabled") else 100, fee=fees[t],
            exchange_index=int(m.get("exchange_index", -1) if m.get("exchange_index") is not None else -1)))
    return VenueGame("KALSHI", league.code, day.strftime("%Y%m%d"), frozenset(teams), event_ticker, event_ticker, tuple(outcomes_books),
                     away=away, home=home, start_ts=None if start is None else int(start.timestamp()) * 1_000_000)


def parse_markets(markets: Iterable[dict[str, Any]], series: dict[str, Any], league: League, *,
                  events: dict[str, dict[str, Any]] | None = None, fee_changes: Iterable[dict[str, Any]] = (),
                  now_us: int | None = None, fee_horizon_s: float = 0.0) -> list[VenueGame | Rejected]:
    """Markets of one series (any order) grouped by event. `events`: event ticker -> event object (its fee
    overrides); when given, an event missing from it is refused (its override cannot be known)."""
    by_event: dict[str, list[dict[str, Any]]] = {}
    for m in markets:
        by_event.setdefault(str(m.get("event_ticker", "")), []).append(m)
    changes = list(fee_changes)
    out: list[VenueGame | Rejected] = []
    for ev, ms in sorted(by_event.items()):
        if not ev:
            continue
        if events is not None and ev not in events:
            out.append(Rejected("KALSHI", ev, "event not listed by GET /events: its fee override is unknown"))
            continue
        out.append(parse_event(ev, ms, series, league, event=None if events is None else events[ev], fee_changes=changes,
                               now_us=now_us, fee_horizon_s=fee_horizon_s))
    return out


class KalshiDiscovery:
    """Fetches Kalshi sports games through a KalshiRest client (whose token buckets rate-limit it): per series
    its open markets and events (the events carry the fee overrides), and once per round the scheduled series
    fee changes. `fee_horizon_s` None: ARB_DISCOVER_FEE_HORIZON_S."""

    def __init__(self, rest: Any, aliases: AliasTable, leagues: set[str] | None = None, *, fee_horizon_s: float | None = None,
                 clock: Callable[[], int] = wall_clock_us) -> None:
        self.rest = rest
        self.aliases = aliases
        self.leagues = leagues
        if fee_horizon_s is None:
            from core.config import load
            from producers.discovery.settings import DiscoverySettings

            fee_horizon_s = load(DiscoverySettings).fee_horizon_s
        self.fee_horizon_s = fee_horizon_s
        self.clock = clock

    async def _series(self) -> AsyncIterator[tuple[dict[str, Any], League]]:
        data = await self.rest.get("/series", {"category": "Sports"})
        for s in data.get("series") or []:
            league = self.aliases.league_of_kalshi_series(str(s.get("ticker", "")))
            if league is not None and (self.leagues is None or league.code in self.leagues):
                yield s, league

    async def _fee_changes(self) -> dict[str, list[dict[str, Any]]]:
        """Upcoming series fee changes (show_historical defaults to false), by series ticker."""
        data = await self.rest.get("/series/fee_changes")
        if not isinstance(data, dict) or not isinstance(data.get("series_fee_change_arr"), list):
            raise ValueError("Kalshi GET /series/fee_changes: expected {series_fee_change_arr: [...]}")
        out: dict[str, list[dict[str, Any]]] = {}
        for ch in data["series_fee_change_arr"]:
            if isinstance(ch, dict):
                out.setdefault(str(ch.get("series_ticker")), []).append(ch)
        return out

    async def fetch(self) -> list[VenueGame | Rejected]:
        out: list[VenueGame | Rejected] = []
        changes = await self._fee_changes()
        now = self.clock()
        async for series, league in self._series():
            params = {"series_ticker": series["ticker"], "status": "open", "mve_filter": "exclude", "limit": 1000}
            markets = [m async for m in self.rest.paged("/markets", "markets", params)]
            ev_params = {"series_ticker": series["ticker"], "status": "open", "limit": 200}
            events = {str(e.get("event_ticker")): e async for e in self.rest.paged("/events", "events", ev_params)}
            out.extend(parse_markets(markets, series, league, events=events, fee_changes=changes.get(str(series["ticker"]), []),
                                     now_us=now, fee_horizon_s=self.fee_horizon_s))
        return out


# Tickers per GET /markets?tickers= request: the parameter is a comma-separated list (KD api-reference/market/
# get-markets.md, TickersQuery) with no documented maximum; 50 keeps the URL short.
RESOLVE_BATCH = 50


async def fetch_resolutions(rest: Any, tickers: Iterable[str]) -> tuple[list[Any], list[str]]:
    """How Kalshi resolved `tickers`: (Resolutions of the finalized ones, problems with the others' payloads).

    `GET /markets?tickers=` without `status` returns markets of any status (get-markets.md: "Leave empty to return
    markets with any status"), so one request per batch reads open, closed and settled markets alike. A venue
    error raises (the caller retries next round); a payload it cannot read is a problem, never a Resolution."""

    wanted = sorted(set(tickers))
    found: list[Any] = []
    problems: list[str] = []
    for i in range(0, len(wanted), RESOLVE_BATCH):
        batch = wanted[i:i + RESOLVE_BATCH]
        async for m in rest.paged("/markets", "markets", {"tickers": ",".join(batch), "limit": 1000}):
            if str(m.get("ticker")) not in batch:
                continue
            try:
                res = kalshi_resolution(m)
            except ValueError as exc:
                problems.append(str(exc))
                continue
            if res is not None:
                found.append(res)
    return found, problems
