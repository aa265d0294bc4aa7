"""Polymarket half of discovery: Gamma sports events -> moneyline markets -> one VenueGame per event.

Gamma encodes `outcomes`, `outcomePrices` and `clobTokenIds` as JSON strings (outcome i pairs with
token i); `version: "v2"` markets carry a real `positionIds` array instead and sign with exchange
domain version 3. Team-outcome markets (outcomes are team names) give one token per team; draw leagues
list one Yes/No market per team and one for the draw.

A game whose market has stopped trading is refused, never paired with what is left: a finished game's
market stays `closed: false` until it resolves (hours), so `acceptingOrders: false`, `active: false`,
`closed: true` on any of its markets, or `closed`/`ended`/`archived` on the event, stops it. (Fields
absent from a payload are taken as trading; the start-time bound in match.py covers games whose
flags lag.)
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from typing import Any
from zoneinfo import ZoneInfo

from core.units import parse_price
from producers.discovery.aliases import AliasTable, League, normalise
from producers.discovery.model import DRAW, Book, Instrument, Rejected, VenueGame, decimal_text, scaled

log = logging.getLogger(__name__)

NY = ZoneInfo("America/New_York")
WILL_WIN = re.compile(r"^will (?P<team>.+?) win\b")


def json_list(value: Any) -> list[str]:
    """A Gamma list field: a JSON-encoded string (the usual form) or already a list."""
    if isinstance(value, str):
        value = json.loads(value) if value else []
    if not isinstance(value, list):
        raise ValueError(f"expected a list, got {type(value).__name__}")
    return [str(v) for v in value]


def start_time(market: dict[str, Any], event: dict[str, Any]) -> dt.datetime | None:
    """gameStartTime ("2026-08-14 21:00:00+00"), else the event's startTime; aware UTC datetime."""
    for raw in (market.get("gameStartTime"), event.get("startTime"), market.get("startTime")):
        if not raw:
            continue
        text = str(raw).strip().replace("Z", "+00:00")
        if re.search(r"[+-]\d{2}$", text):
            text += ":00"
        try:
            t = dt.datetime.fromisoformat(text)
        except ValueError:
            continue
        return t if t.tzinfo else t.replace(tzinfo=dt.UTC)
    return None


def fee_params(market: dict[str, Any], default_rate: str) -> dict[str, Any]:
    if market.get("feesEnabled") is False:
        return {"model": "NONE", "rate_ppm": 0, "multiplier_ppm": 1_000_000, "exponent": 1}
    sched = market.get("feeSchedule") or {}
    rate = sched.get("rate", default_rate)
    return {"model": "POLYMARKET_POWER", "rate_ppm": scaled(rate, 6), "multiplier_ppm": 1_000_000, "exponent": int(sched.get("exponent", 1))}


def league_of(event: dict[str, Any], aliases: AliasTable) -> League | None:
    slugs = [str(event.get("seriesSlug") or "")]
    slugs += [str(s.get("slug") or "") for s in event.get("series") or [] if isinstance(s, dict)]
    slugs += [str(t.get("slug") or "") for t in event.get("tags") or [] if isinstance(t, dict)]
    return aliases.league_of_gamma(slugs)


def _yes_no_subject(market: dict[str, Any], league: League) -> str | None:
    title = str(market.get("groupItemTitle") or "")
    if title:
        if "draw" in normalise(title).split():
            return DRAW
        return league.team(title)
    q = normalise(str(market.get("question") or ""))
    if "draw" in q.split():
        return DRAW
    m = WILL_WIN.match(q)
    return league.team(m["team"]) if m else None


def stopped(item: dict[str, Any], what: str) -> str | None:
    """Why a Gamma event or market is not trading (explicit flags only), or None."""
    flags = [f"{k}={str(item[k]).lower()}" for k, bad in (("acceptingOrders", False), ("active", False), ("closed", True), ("ended", True),
                                                          ("archived", True)) if k in item and item[k] is bad]
    return f"{what} stopped trading ({', '.join(flags)})" if flags else None


def parse_market(market: dict[str, Any], event_slug: str, league: League, default_fee_rate: str) -> Book | str:
    """One Gamma market -> Book, or the reason it cannot be used."""
    outcomes = json_list(market.get("outcomes"))
    tokens = json_list(market["positionIds"]) if market.get("version") == "v2" and market.get("positionIds") else json_list(market.get("clobTokenIds"))
    if len(outcomes) != 2 or len(tokens) != 2:
        return f"expected 2 outcomes and 2 tokens, found {len(outcomes)} and {len(tokens)}"
    if [o.lower() for o in outcomes] == ["yes", "no"]:
        subject = _yes_no_subject(market, league)
        if subject is None:
            return f"cannot tell which team {market.get('question')!r} is about"
        instruments: tuple[Instrument, ...] = (Instrument(tokens[0], "YES", subject), Instrument(tokens[1], "YES", subject, negated=True))
    else:
        codes = [league.team(o) for o in outcomes]
        if None in codes or codes[0] == codes[1]:
            return f"unknown team among outcomes {outcomes} in league {league.code}"
        instruments = tuple(Instrument(tok, "YES", str(code)) for tok, code in zip(tokens, codes, strict=True))
    return Book(venue="POLYMARKET", market=str(market["conditionId"]), event=event_slug, instruments=instruments,
                tick_size=parse_price(decimal_text(market.get("orderPriceMinTickSize", "0.01"))),
                min_size=scaled(market.get("orderMinSize", 0) or 0, 2), fee=fee_params(market, default_fee_rate),
                seconds_delay=int(market.get("secondsDelay") or 0), neg_risk=bool(market.get("negRisk")),
                exchange_version=3 if market.get("version") == "v2" else 2, exchange_index=0)


def parse_event(event: dict[str, Any], aliases: AliasTable, market_types: set[str], default_fee_rate: str = "0.03") -> VenueGame | Rejected | None:
    """One Gamma event -> VenueGame (its usable markets of the wanted types), Rejected, or None if not a game."""
    slug = str(event.get("slug") or event.get("id") or "")
    league = league_of(event, aliases)
    if league is None:
        return None  # not a league we trade
    markets = [m for m in event.get("markets") or [] if isinstance(m, dict) and m.get("sportsMarketType") in market_types
               and m.get("enableOrderBook", True)]
    if not markets:
        return None
    why = stopped(event, "event") or next((w for m in markets if (w := stopped(m, f"market {m.get('conditionId')}"))), None)
    if why is not None:
        return Rejected("POLYMARKET", slug, why)
    books: list[Book] = []
    start: dt.datetime | None = None
    for m in sorted(markets, key=lambda m: str(m.get("conditionId") or "")):
        try:
            book = parse_market(m, slug, league, default_fee_rate)
        except (KeyError, ValueError, TypeError) as exc:
            return Rejected("POLYMARKET", slug, f"market {m.get('conditionId')}: malformed ({exc})")
        if isinstance(book, str):
            return Rejected("POLYMARKET", slug, book)
        books.append(book)
        start = start or start_time(m, event)
    if start is None:
        return Rejected("POLYMARKET", slug, "no game start time")
    teams = frozenset(i.subject for b in books for i in b.instruments if i.subject != DRAW)
    if len(teams) != 2:
        return Rejected("POLYMARKET", slug, f"expected 2 teams, found {sorted(teams)}")
    return VenueGame("POLYMARKET", league.code, start.astimezone(NY).strftime("%Y%m%d"), teams, slug, str(event.get("id") or slug),
                     tuple(books), start_ts=int(start.timestamp()) * 1_000_000)


class GammaDiscovery:
    """Pages through Gamma's active sports events (offset paging, rate-limited)."""

    PAGE = 100

    def __init__(self, client: Any, aliases: AliasTable, *, tag_id: str, market_types: set[str], default_fee_rate: str,
                 bucket: Any = None, leagues: set[str] | None = None) -> None:
        self.client = client  # httpx.AsyncClient with base_url = the Gamma URL
        self.aliases = aliases
        self.tag_id = tag_id
        self.market_types = market_types
        self.default_fee_rate = default_fee_rate
        self.bucket = bucket
        self.leagues = leagues

    async def fetch(self) -> list[VenueGame | Rejected]:
        out: list[VenueGame | Rejected] = []
        offset = 0
        while True:
            if self.bucket is not None:
                await self.bucket.take(1)
            params: dict[str, Any] = {"active": "true", "closed": "false", "limit": self.PAGE, "offset": offset}
            if self.tag_id:
                params["tag_id"] = self.tag_id
            resp = await self.client.get("/events", params=params)
            resp.raise_for_status()
            page = resp.json()
            if not isinstance(page, list):
                raise ValueError("Gamma /events: expected a JSON array")
            for ev in page:
                if not isinstance(ev, dict):
                    continue
                game = parse_event(ev, self.aliases, self.market_types, self.default_fee_rate)
                if game is None or (isinstance(game, VenueGame) and self.leagues is not None and game.league not in self.leagues):
                    continue
                out.append(game)
            if len(page) < self.PAGE:
                return out
            offset += len(page)
