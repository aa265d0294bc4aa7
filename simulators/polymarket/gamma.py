"""Simulated Gamma API (P3): /events, /markets, /sports with the real field encoding.

`outcomes`, `outcomePrices` and `clobTokenIds` are JSON-encoded strings; numbers that Gamma sends as
JSON numbers (tick, min size) stay numbers. Moneyline markets of no-draw leagues have the team names as
outcomes; draw leagues have one Yes/No market per team and one for the draw (neg-risk), each with a
`groupItemTitle`.

The game's start is `gameStartTime` on each market ("2026-11-29 21:05:00+00", what discovery reads) and
`startTime` on the event, both from `SimGame.start_ts_us` -- the instant the Kalshi simulator states in its
markets' `rules_primary` and `occurrence_datetime`; `eventDate` and the slug carry the New York date.

The same public app also serves the Data API's `GET /positions` (data-api.polymarket.com; point
ARB_POLY_DATA_API_URL at this app): a JSON array of the user's positions, sizes and prices as JSON numbers,
`sizeThreshold` defaulting to 1.0 (the venue's default: smaller positions are left out), `limit` 0-500
(default 100) and `offset` 0-10000 (docs /developers/open-api/get-positions.json). Out-of-range or
unreadable parameters answer 400 (how the venue answers those is not documented).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from core.units import ONE_DOLLAR, format_price
from simulators import lifecycle
from simulators.catalogue import POLYMARKET, PolyMarketIds, SimGame
from simulators.world import SimWorld

NY = ZoneInfo("America/New_York")
SPORTS_TAG = {"id": "1", "label": "Sports", "slug": "sports"}


def _league_tag(league: str) -> dict[str, str]:
    return {"id": str(100 + sum(map(ord, league))), "label": league.upper(), "slug": league}


def _num(text: str) -> float | int:
    """A decimal as Gamma writes it: a JSON number (display/config values, never our money)."""
    value = float(text)
    return int(value) if value.is_integer() else value


def _stable_id(base: int, key: str) -> str:
    """A numeric id that stays the game's while games come and go (discovery keys on the event id)."""
    return str(base + int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % 9_000_000)


def market_id(condition_id: str) -> str:
    """The Gamma market id of a simulated market (also the `id` of its WS `market_resolved`)."""
    return _stable_id(1_000_000, condition_id)


def _gamma_time(ts_us: int) -> str:
    """Gamma's "2026-04-05 19:37:33+00" (gameStartTime, closedTime)."""
    return dt.datetime.fromtimestamp(ts_us // 1_000_000, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S+00")


def life_fields(world: SimWorld, game: SimGame, pm: PolyMarketIds, mid: int) -> dict[str, Any]:
    """The market's state over the game's life (simulators/lifecycle.py). Trading: active, open, accepting orders.
    Ended: acceptingOrders false, still `closed: false` until it resolves (gamma_source.py). Resolved, as the
    recorded resolved market (tests/resources/polymarket/gamma_market_sports_market_money_line.json): `closed: true`,
    `active: true`, `acceptingOrders: false`, `umaResolutionStatus: "resolved"`, `outcomePrices` the payout of
    each outcome (["1", "0"]) and `closedTime`."""
    life = world.life.lives.get(game.game_id)
    prices = [format_price(mid), format_price(ONE_DOLLAR - mid)]
    if life is None or life.phase == lifecycle.OPEN:
        return {"active": True, "closed": False, "acceptingOrders": True, "outcomePrices": json.dumps(prices)}
    if life.phase == lifecycle.CLOSED:
        return {"active": True, "closed": False, "acceptingOrders": False, "outcomePrices": json.dumps(prices)}
    won = lifecycle.poly_yes_value(game, pm, life.winner) == ONE_DOLLAR
    return {"active": True, "closed": True, "acceptingOrders": False, "outcomePrices": json.dumps(["1", "0"] if won else ["0", "1"]),
            "umaResolutionStatus": "resolved", "closedTime": _gamma_time(life.determine_us),
            "umaEndDate": dt.datetime.fromtimestamp(life.determine_us // 1_000_000, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}


def market_json(world: SimWorld, game: SimGame, pm: PolyMarketIds, index: int) -> dict[str, Any]:
    s = world.settings
    book = world.poly_books[pm.condition_id]
    bb, ba = book.best_bid(), book.best_ask()
    mid = ((bb[0] if bb else 0) + (ba[0] if ba else ONE_DOLLAR)) // 2
    start = dt.datetime.fromtimestamp(game.start_ts_us / 1e6, tz=dt.UTC)
    life = world.life.lives.get(game.game_id)
    end_us = life.end_us if life is not None and life.end_us else game.start_ts_us + 6 * 3_600_000_000
    out: dict[str, Any] = {
        "id": market_id(pm.condition_id), "question": pm.question, "conditionId": pm.condition_id, "slug": pm.slug,
        "outcomes": json.dumps(list(pm.outcomes)), "clobTokenIds": json.dumps(list(pm.token_ids)), "archived": False,
        **life_fields(world, game, pm, mid),
        "endDate": dt.datetime.fromtimestamp(end_us // 1_000_000, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
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
    closed = world.life.phase(game.game_id) in (lifecycle.DETERMINED, lifecycle.FINALIZED)  # every market resolved
    return {"id": _stable_id(100_000, game.game_id), "ticker": slug, "slug": slug, "title": f"{game.away_name} vs. {game.home_name}",
            "startTime": start.strftime("%Y-%m-%dT%H:%M:%SZ"), "eventDate": start.astimezone(NY).strftime("%Y-%m-%d"), "active": True,
            "closed": closed, "archived": False, "negRisk": game.draw_possible, "seriesSlug": game.league,
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
        for name in ("closed", "active", "archived"):  # simulated events are active and never archived
            if (want := flag(request, name)) is not None:
                out = [e for e in out if e[name] is want]
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
        # `closed` defaults to false: closed markets only when asked for (PD api-reference/markets/list-markets.md;
        # polyoxide-gamma src/api/markets.rs: a list "inherits the upstream `closed=false` default")
        want_closed = flag(request, "closed") is True
        out = [m for m in out if m["closed"] is want_closed]
        if v := q.get("slug"):
            out = [m for m in out if m["slug"] in v.split(",")]
        if ids := [c for v in q.getall("condition_ids", []) for c in v.split(",") if c]:  # an array: repeated or comma-joined
            out = [m for m in out if m["conditionId"] in ids]
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

    async def positions(request: web.Request) -> web.Response:
        return web.json_response(data_api_positions(world, request))

    return [web.get("/events", events), web.get("/events/slug/{slug}", event_by_slug), web.get("/markets", markets),
            web.get("/sports", sports), web.get("/positions", positions)]


def _bad_request(message: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=json.dumps({"error": message}), content_type="application/json")


def data_api_positions(world: SimWorld, request: web.Request) -> list[dict[str, Any]]:
    """Data API `GET /positions?user=&sizeThreshold=&limit=&offset=` over the simulated accounts (largest first)."""
    q = request.query
    user = (q.get("user") or "").lower()
    if not user:
        raise _bad_request("user is required")
    try:
        threshold = float(q.get("sizeThreshold", "1"))
        limit = int(q.get("limit", "100"))
        offset = int(q.get("offset", "0"))
    except ValueError:
        raise _bad_request("sizeThreshold must be a number, limit and offset integers") from None
    if not (0 <= limit <= 500 and 0 <= offset <= 10_000 and threshold >= 0):
        raise _bad_request("limit must be 0-500, offset 0-10000, sizeThreshold >= 0")
    acct = world.accounts[POLYMARKET].get(user)
    rows: list[tuple[int, str, dict[str, Any]]] = []
    held = {token for token, pos in (acct.positions if acct else {}).items() if pos.qty > 0}
    for token, pos in (acct.positions if acct else {}).items():
        cond, index = world.poly_token_index.get(token, ("", 0))
        pm = world.poly_markets.get(cond)
        if pm is None or pos.qty <= 0 or pos.qty / 100 < threshold:
            continue
        qty = pos.qty
        book = world.poly_books[cond]
        bb, ba = book.best_bid(), book.best_ask()
        bid = (bb[0] if bb else 0) if index == 0 else (ONE_DOLLAR - ba[0] if ba else 0)  # the token's best bid
        game = world.game_of_book(POLYMARKET, cond)
        life = world.life.lives.get(game.game_id) if game is not None else None
        resolved = game is not None and life is not None and life.winner != ""
        if resolved and game is not None and life is not None:  # ARB_SIM_POLY_REDEEM=manual: the payout waits for a redeem
            yes = lifecycle.poly_yes_value(game, pm, life.winner)
            bid = yes if index == 0 else ONE_DOLLAR - yes
        rows.append((-qty, pm.token_ids[index], {"proxyWallet": user, "asset": pm.token_ids[index], "conditionId": cond, "size": qty / 100,
                     "avgPrice": round(pos.cost / qty / 10_000, 6), "initialValue": pos.cost / 1e6, "currentValue": bid * qty / 1e6,
                     "cashPnl": (bid * qty - pos.cost) / 1e6, "realizedPnl": pos.realized / 1e6, "curPrice": bid / 10_000,
                     "redeemable": resolved, "mergeable": pm.token_ids[1 - index] in held and not resolved, "title": pm.question, "slug": pm.slug,
                     "eventSlug": pm.slug.removesuffix(f"-{pm.outcome_code}") if pm.outcome_code else pm.slug,
                     "outcome": pm.outcomes[index], "outcomeIndex": index, "oppositeOutcome": pm.outcomes[1 - index],
                     "oppositeAsset": pm.token_ids[1 - index], "negativeRisk": bool(game and game.draw_possible)}))
    rows.sort(key=lambda r: r[:2])  # largest first, then by token
    return [r[2] for r in rows[offset:offset + limit]]
