"""Simulated Gamma API (P3): /events, /markets, /sports with the real field encoding.

`outcomes`, `outcomePrices` and `clobTokenIds` are JSON-encoded strings; numbers that Gamma sends as
JSON numbers (tick, min size) stay numbers. Moneyline markets of no-draw leagues have the team names as
outcomes; draw leagues have one Yes/No market per team and one for the draw (neg-risk), each with a
`groupItemTitle`.

The game's start is `gameStartTime` on each market ("2026-11-29 21:05:00+00", what discovery reads) and
`startTime` on the event, both from `SimGame.start_ts_us` -- the instant the Kalshi simulator states in its
markets' `rules_primary` and `occurrence_datetime`; `eventDate` and the slug carry the New York date.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from core.units import ONE_DOLLAR, format_price
from venues.sim.world import PolyMarketIds, SimGame, SimWorld

NY = ZoneInfo("America/New_York")
SPORTS_TAG = {"id": "1", "label": "Sports", "slug": "sports"}


def _league_tag(league: str) -> dict[str, str]:
    return {"id": str(100 + sum(map(ord, league))), "label": league.upper(), "slug": league}


def _num(text: str) -> float | int:
    """A decimal as Gamma writes it: a JSON number (display/config values, never our money)."""
    value = float(text)
    return int(value) if value.is_integer() else value


def market_json(world: SimWorld, game: SimGame, pm: PolyMarketIds, index: int) -> dict[str, Any]:
    s = world.settings
    book = world.poly_books[pm.condition_id]
    bb, ba = book.best_bid(), book.best_ask()
    mid = ((bb[0] if bb else 0) + (ba[0] if ba else ONE_DOLLAR)) // 2
    start = dt.datetime.fromtimestamp(game.start_ts_us / 1e6, tz=dt.UTC)
    out: dict[str, Any] = {
        "id": str(1_000_000 + index), "question": pm.question, "conditionId": pm.condition_id, "slug": pm.slug,
        "outcomes": json.dumps(list(pm.outcomes)), "outcomePrices": json.dumps([format_price(mid), format_price(ONE_DOLLAR - mid)]),
        "clobTokenIds": json.dumps(list(pm.token_ids)), "active": True, "closed": False, "archived": False, "acceptingOrders": True,
        "enableOrderBook": True, "orderPriceMinTickSize": _num(format_price(pm.tick)), "orderMinSize": _num(s.poly_min_size),
        "gameStartTime": start.strftime("%Y-%m-%d %H:%M:%S+00"), "secondsDelay": s.poly_seconds_delay, "negRisk": game.draw_possible,
        "sportsMarketType": "moneyline", "gameId": f"sim-{game.game_id}", "feesEnabled": True, "feeType": "sports_fees_v2",
        "feeSchedule": {"exponent": 1, "rate": _num(s.poly_fee_rate), "takerOnly": True, "rebateRate": 0.25}, "version": "v1",
        "bestBid": _num(format_price(bb[0])) if bb else 0, "bestAsk": _num(format_price(ba[0])) if ba else 1,
    }
    if pm.outcome_code is not None:
        code = pm.outcome_code
        out["groupItemTitle"] = (f"Draw ({game.away_name} vs. {game.home_name})" if code == "draw"
                                 else game.away_name if code == game.away else game.home_name)
    return out


def event_json(world: SimWorld, game: SimGame, index: int) -> dict[str, Any]:
    start = dt.datetime.fromtimestamp(game.start_ts_us / 1e6, tz=dt.UTC)
    slug = game.poly_markets[0].slug.removesuffix(f"-{game.poly_markets[0].outcome_code}") if game.draw_possible else game.poly_markets[0].slug
    return {"id": str(800_000 + index), "ticker": slug, "slug": slug, "title": f"{game.away_name} vs. {game.home_name}",
            "startTime": start.strftime("%Y-%m-%dT%H:%M:%SZ"), "eventDate": start.astimezone(NY).strftime("%Y-%m-%d"), "active": True, "closed": False,
            "archived": False, "negRisk": game.draw_possible, "seriesSlug": game.league,
            "series": [{"id": str(11_000 + sum(map(ord, game.league))), "ticker": game.league, "slug": game.league, "title": game.league.upper()}],
            "tags": [SPORTS_TAG, _league_tag(game.league)],
            "markets": [market_json(world, game, pm, index * 10 + i) for i, pm in enumerate(game.poly_markets)]}


def _page(items: list[Any], request: web.Request) -> list[Any]:
    try:
        limit = int(request.query.get("limit", 100))
        offset = int(request.query.get("offset", 0))
    except ValueError:
        raise web.HTTPBadRequest(text=json.dumps({"error": "limit and offset must be integers"}), content_type="application/json") from None
    return items[offset:offset + max(0, min(limit, 500))]


def gamma_routes(world: SimWorld) -> list[web.RouteDef]:
    def games() -> list[tuple[int, SimGame]]:
        return list(enumerate(sorted(world.games.values(), key=lambda g: g.game_id)))

    def flag(request: web.Request, name: str) -> bool | None:
        v = request.query.get(name)
        return None if v is None else v.lower() == "true"

    async def events(request: web.Request) -> web.Response:
        out = [event_json(world, g, i) for i, g in games()]
        if flag(request, "closed") is True or flag(request, "active") is False or flag(request, "archived") is True:
            out = []  # every simulated event is active and open
        if tag := request.query.get("tag_id"):
            out = [e for e in out if any(t["id"] == tag for t in e["tags"])]
        if slug := request.query.get("slug"):
            out = [e for e in out if e["slug"] == slug]
        return web.json_response(_page(out, request))

    async def event_by_slug(request: web.Request) -> web.Response:
        for i, g in games():
            ev = event_json(world, g, i)
            if ev["slug"] == request.match_info["slug"]:
                return web.json_response(ev)
        raise web.HTTPNotFound(text=json.dumps({"error": "event not found"}), content_type="application/json")

    async def markets(request: web.Request) -> web.Response:
        out = [m for i, g in games() for m in event_json(world, g, i)["markets"]]
        q = request.query
        if v := q.get("slug"):
            out = [m for m in out if m["slug"] in v.split(",")]
        if v := q.get("condition_ids"):
            out = [m for m in out if m["conditionId"] in v.split(",")]
        if v := q.get("clob_token_ids"):
            want = set(v.split(","))
            out = [m for m in out if want & set(json.loads(m["clobTokenIds"]))]
        if v := q.get("game_id"):
            out = [m for m in out if m["gameId"] == v]
        if v := q.get("sports_market_types"):
            out = [m for m in out if m["sportsMarketType"] in v.split(",")]
        return web.json_response(_page(out, request))

    async def sports(_r: web.Request) -> web.Response:
        leagues = sorted({g.league for g in world.games.values()})
        return web.json_response([{"sport": lg, "tags": f"1,{_league_tag(lg)['id']}", "series": str(11_000 + sum(map(ord, lg)))}
                                  for lg in leagues])

    return [web.get("/events", events), web.get("/events/slug/{slug}", event_by_slug), web.get("/markets", markets),
            web.get("/sports", sports)]
