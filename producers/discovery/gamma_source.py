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

Fees. Each market's taker fee parameters come from the CLOB, `GET /clob-markets/{condition_id}` `fd`
(clob_info.py), as the official client reads them; a market whose parameters the CLOB does not give is
refused, never priced at an assumed rate. Offline (`parse_event` without CLOB answers) Gamma's own
`feeSchedule` is used, and a market without one is refused the same way.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from core.units import parse_price
from producers.discovery.aliases import AliasTable, League, normalise
from producers.discovery.clob_info import NO_FEE, clob_fee_params, fetch_clob_info, power_fee
from producers.discovery.exceptions import UnknownFee
from producers.discovery.fields import json_list, parse_iso, token_ids
from producers.discovery.model import DRAW, GAMMA_WINNER_TYPES, Book, Instrument, Rejected, VenueGame, decimal_text, scaled
from producers.discovery.resolution import gamma_resolutions

log = logging.getLogger(__name__)

NY = ZoneInfo("America/New_York")
WILL_WIN = re.compile(r"^will (?P<team>.+?) win\b")


def start_time(market: dict[str, Any], event: dict[str, Any]) -> dt.datetime | None:
    """gameStartTime ("2026-08-14 21:00:00+00"), else the event's startTime; aware UTC datetime."""
    for raw in (market.get("gameStartTime"), event.get("startTime"), market.get("startTime")):
        t = parse_iso(raw) if raw else None
        if t is not None:
            return t
    return None


ClobInfo = Mapping[str, dict[str, Any] | None]  # condition_id -> GET /clob-markets answer (None: not found)


def gamma_fee_params(market: dict[str, Any]) -> dict[str, Any]:
    """FeeParams from Gamma's own fields (offline use); UnknownFee when Gamma does not state them."""
    if market.get("feesEnabled") is False:
        return dict(NO_FEE)
    sched = market.get("feeSchedule")
    if not isinstance(sched, dict) or not sched:
        raise UnknownFee(f"market {market.get('conditionId')}: no feeSchedule, fee parameters unknown")
    return power_fee(sched.get("rate"), sched.get("exponent"), f"market {market.get('conditionId')} feeSchedule")


def fee_params(market: dict[str, Any], tokens: list[str], clob: ClobInfo | None) -> dict[str, Any]:
    """The market's FeeParams: the CLOB's `fd` when CLOB answers are given, else Gamma's feeSchedule."""
    if clob is None:
        return gamma_fee_params(market)
    cid = str(market.get("conditionId") or "")
    fee = clob_fee_params(clob.get(cid), cid, tokens, market.get("feesEnabled"))
    sched = market.get("feeSchedule")
    if isinstance(sched, dict) and sched:
        try:
            gamma = gamma_fee_params(market)
        except UnknownFee:
            gamma = None
        if gamma != fee:
            log.warning("market %s: Gamma feeSchedule %s differs from the CLOB's fd %s; using the CLOB's", cid, gamma, fee)
    return fee


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


def parse_market(market: dict[str, Any], event_slug: str, league: League, clob: ClobInfo | None = None) -> Book | str:
    """One Gamma market -> Book, or the reason it cannot be used (fees: see `fee_params`)."""
    outcomes = json_list(market.get("outcomes"))
    tokens = token_ids(market)
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
    try:
        fee = fee_params(market, tokens, clob)
    except UnknownFee as exc:
        return f"refused: {exc}"
    return Book(venue="POLYMARKET", market=str(market["conditionId"]), event=event_slug, instruments=instruments,
                tick_size=parse_price(decimal_text(market.get("orderPriceMinTickSize", "0.01"))),
                min_size=scaled(market.get("orderMinSize", 0) or 0, 2), fee=fee,
                seconds_delay=int(market.get("secondsDelay") or 0), neg_risk=bool(market.get("negRisk")),
                exchange_version=3 if market.get("version") == "v2" else 2, exchange_index=0)


def game_markets(event: dict[str, Any], aliases: AliasTable, market_types: set[str]) -> tuple[League, list[dict[str, Any]]] | None:
    """The event's league and its markets of the wanted types, or None if it is not a game we trade."""
    league = league_of(event, aliases)
    if league is None:
        return None  # not a league we trade
    wanted = market_types & GAMMA_WINNER_TYPES  # only a game-winner market is read as one (model.GAMMA_WINNER_TYPES)
    markets = [m for m in event.get("markets") or [] if isinstance(m, dict) and m.get("sportsMarketType") in wanted
               and m.get("enableOrderBook", True)]
    return (league, markets) if markets else None


def parse_event(event: dict[str, Any], aliases: AliasTable, market_types: set[str], *, clob: ClobInfo | None = None) -> VenueGame | Rejected | None:
    """One Gamma event -> VenueGame (its usable markets of the wanted types), Rejected, or None if not a game.

    `clob`: the CLOB's /clob-markets answers of the event's markets, the source of their fees (None: offline,
    Gamma's feeSchedule)."""
    slug = str(event.get("slug") or event.get("id") or "")
    found = game_markets(event, aliases, market_types)
    if found is None:
        return None
    league, markets = found
    why = stopped(event, "event") or next((w for m in markets if (w := stopped(m, f"market {m.get('conditionId')}"))), None)
    if why is not None:
        return Rejected("POLYMARKET", slug, why)
    books: list[Book] = []
    start: dt.datetime | None = None
    for m in sorted(markets, key=lambda m: str(m.get("conditionId") or "")):
        try:
            book = parse_market(m, slug, league, clob)
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
    """Pages through Gamma's active sports events (offset paging, rate-limited) and reads each candidate
    market's fee parameters from the CLOB (`clob`: an httpx.AsyncClient on the CLOB URL; None: one on
    ARB_POLY_CLOB_URL for the round)."""

    PAGE = 100

    def __init__(self, client: Any, aliases: AliasTable, *, tag_id: str, market_types: set[str], default_fee_rate: str | None = None,
                 bucket: Any = None, leagues: set[str] | None = None, clob: Any = None, clob_bucket: Any = None) -> None:
        # default_fee_rate: retired (a rate assumed where Gamma gave none); accepted and ignored for old callers.
        self.client = client  # httpx.AsyncClient with base_url = the Gamma URL
        self.aliases = aliases
        self.tag_id = tag_id
        self.market_types = market_types
        self.bucket = bucket
        self.leagues = leagues
        self.clob = clob
        self.clob_bucket = clob_bucket

    async def fetch(self) -> list[VenueGame | Rejected]:
        if self.clob is not None:
            return await self._fetch(self.clob)
        import httpx

        from core.config import load
        from venues.polymarket.settings import PolymarketSettings

        async with httpx.AsyncClient(base_url=load(PolymarketSettings).clob_url.rstrip("/"), timeout=10.0) as clob:
            return await self._fetch(clob)

    def _wanted(self, ev: dict[str, Any]) -> list[str]:
        """Condition ids of the markets parse_event would price (in a league we pair)."""
        found = game_markets(ev, self.aliases, self.market_types)
        if found is None or (self.leagues is not None and found[0].code not in self.leagues):
            return []
        return [str(m["conditionId"]) for m in found[1] if m.get("conditionId")]

    async def _fetch(self, clob: Any) -> list[VenueGame | Rejected]:
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
            events = [ev for ev in page if isinstance(ev, dict)]
            info = await fetch_clob_info(clob, [cid for ev in events for cid in self._wanted(ev)], bucket=self.clob_bucket)
            for ev in events:
                game = parse_event(ev, self.aliases, self.market_types, clob=info)
                if game is None or (isinstance(game, VenueGame) and self.leagues is not None and game.league not in self.leagues):
                    continue
                out.append(game)
            if len(page) < self.PAGE:
                return out
            offset += len(page)


# Condition ids per Gamma GET /markets request (an array query parameter, sent repeated).
RESOLVE_BATCH = 50


async def fetch_resolutions(client: Any, condition_ids: list[str], *, bucket: Any = None) -> tuple[list[Any], list[str]]:
    """How Polymarket resolved the markets `condition_ids`: (one Resolution per token of each resolved market,
    problems with the others' payloads). Gamma's GET /markets takes `condition_ids` (array) and `closed` (boolean,
    default false: closed markets are left out unless asked for; PD api-reference/markets/list-markets.md), so
    the request asks for `closed=true`: a market still open is simply not in the answer. A venue error raises."""
    wanted = sorted(set(condition_ids))
    found: list[Any] = []
    problems: list[str] = []
    for i in range(0, len(wanted), RESOLVE_BATCH):
        batch = wanted[i:i + RESOLVE_BATCH]
        if bucket is not None:
            await bucket.take(1)
        resp = await client.get("/markets", params={"condition_ids": batch, "closed": "true", "limit": len(batch)})
        resp.raise_for_status()
        page = resp.json()
        if not isinstance(page, list):
            raise ValueError("Gamma /markets: expected a JSON array")
        for m in page:
            if not isinstance(m, dict) or str(m.get("conditionId")) not in batch:
                continue
            try:
                found += gamma_resolutions(m)
            except (ValueError, TypeError) as exc:
                problems.append(str(exc))
    return found, problems
