"""The Kalshi simulator app: REST (`/trade-api/v2`) and WS (`/trade-api/ws/v2`) on one aiohttp app.

Middleware, in order: added latency fault -> RSA-PSS authentication (401) -> token-bucket rate limit
per key (429 `{"error": "too many requests"}`, no Retry-After) -> 429/5xx faults -> handler.
Market data is public (signed requests are still verified); portfolio endpoints and the WS need a key.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from core.ratelimit import TokenBucket
from simulators.catalogue import KALSHI, KalshiMarket
from simulators.kalshi.rest import ACCOUNT_KEY, CHARGE_KEY, ApiError, KalshiRest
from simulators.kalshi.ws import KalshiWsHub
from simulators.world import SimWorld
from venues.kalshi import auth
from venues.kalshi import constants as C

HUB_KEY: web.AppKey[KalshiWsHub] = web.AppKey("kalshi_ws_hub")
WORLD_KEY: web.AppKey[SimWorld] = web.AppKey("kalshi_world")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_PUBLIC_PREFIXES = tuple(f"{C.REST_PREFIX}/{p}" for p in ("markets", "events", "series", "exchange"))
_BATCH_PATH = f"{C.REST_PREFIX}/portfolio/events/orders/batched"
_ORDER_PATHS = (f"{C.REST_PREFIX}/portfolio/events/orders", f"{C.REST_PREFIX}/portfolio/orders")


class RateLimiter:
    """Read and write token buckets per key id (K7); tier budgets are data in constants.TIERS."""

    def __init__(self, tier: str) -> None:
        self.tier = C.TIERS.get(tier)  # None: unlimited
        self.buckets: dict[tuple[str, bool], TokenBucket] = {}

    def take(self, key_id: str, write: bool, tokens: int) -> bool:
        if self.tier is None:
            return True
        b = self.buckets.get((key_id, write))
        if b is None:
            rate = self.tier.write_per_s if write else self.tier.read_per_s
            b = TokenBucket(rate, rate * (self.tier.write_burst_s if write else 1.0))
            self.buckets[(key_id, write)] = b
        return b.try_take(tokens)


def authenticate(world: SimWorld, request: web.Request) -> tuple[str | None, str | None]:
    """(key id, None) when validly signed, (None, None) when unsigned, (None, reason) when the signature is bad."""
    key_id = request.headers.get(auth.HEADER_KEY)
    ts = request.headers.get(auth.HEADER_TIMESTAMP)
    sig = request.headers.get(auth.HEADER_SIGNATURE)
    if not (key_id or ts or sig):
        return None, None
    if not (key_id and ts and sig):
        return None, "missing KALSHI-ACCESS-* header"
    pub = world.kalshi_keys.get(key_id)
    if pub is None:
        return None, "unknown API key"
    try:
        ts_ms = int(ts)
    except ValueError:
        return None, "bad timestamp"
    tol = world.settings.kalshi_ts_tolerance_ms
    if tol and abs(time.time() * 1000 - ts_ms) > tol:
        return None, "timestamp outside the allowed window"
    if not auth.verify(pub, ts_ms, request.method, request.path, sig):
        return None, "invalid signature"
    return key_id, None


def _log_refused(world: SimWorld, request: web.Request, account: str, status: int, reason: str, body: bytes) -> None:
    """Order requests refused before their handler still belong in the ground-truth log."""
    if request.method in ("POST", "DELETE") and request.path.startswith(_ORDER_PATHS):
        try:
            parsed = json.loads(body) if body else {}
        except ValueError:
            parsed = {"raw": body.decode("utf-8", "replace")}
        rec = world.orderlog.new(KALSHI, "cancel" if request.method == "DELETE" else "create", world.now_us(), account,
                                 parsed if isinstance(parsed, dict) else {"body": parsed})
        rec.http_status, rec.status, rec.reason = status, "rejected", reason
        rec.client_order_id = str(rec.request.get("client_order_id") or "")


def kalshi_app(world: SimWorld) -> web.Application:
    limiter = RateLimiter(world.settings.kalshi_tier)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        faults = world.faults[KALSHI]
        if faults.latency_ms:
            await asyncio.sleep(faults.latency_ms / 1000)
        key_id, problem = authenticate(world, request)
        if problem is not None:
            return web.json_response({"code": "authentication_error", "message": problem, "details": ""}, status=401)
        is_ws = request.path == C.WS_PATH
        if key_id is None and not (is_ws or request.path.startswith(_PUBLIC_PREFIXES)):
            return web.json_response({"code": "authentication_error", "message": "authentication required", "details": ""}, status=401)
        if key_id is not None:
            request[ACCOUNT_KEY] = key_id
        if is_ws:
            return await handler(request)
        write = request.method in ("POST", "DELETE", "PUT")
        body = await request.read() if write else b""
        if request.path != _BATCH_PATH and not limiter.take(key_id or request.remote or "anon", write, C.CALL_COST):
            _log_refused(world, request, key_id or "", 429, "rate limited", body)
            return web.json_response(C.RATE_LIMIT_BODY, status=429)
        status = faults.http_fault(world.faults.rng)
        if status is not None:
            _log_refused(world, request, key_id or "", status, "fault injected", body)
            if status == 429:
                return web.json_response(C.RATE_LIMIT_BODY, status=429)
            return web.json_response({"code": "internal_server_error", "message": "simulated server error", "details": ""}, status=status)
        try:
            return await handler(request)
        except ApiError as exc:
            return exc.response()

    def charge(request: web.Request, write: bool, tokens: int) -> bool:
        key = request.get(ACCOUNT_KEY) or request.remote or "anon"
        return limiter.take(str(key), write, tokens)

    app = web.Application(middlewares=[middleware])
    rest = KalshiRest(world)
    hub = KalshiWsHub(world)
    app[HUB_KEY] = hub
    app[WORLD_KEY] = world
    app[CHARGE_KEY] = charge
    app.add_routes(rest.routes())
    app.router.add_get(C.WS_PATH, hub.handle)

    async def on_shutdown(_app: web.Application) -> None:
        await hub.close()

    app.on_shutdown.append(on_shutdown)
    ensure_mve_markets(world)
    return app


def ensure_mve_markets(world: SimWorld) -> None:
    """A few multivariate combo markets (no book), so `mve_filter` has something to filter (K5)."""
    games = sorted(world.games.values(), key=lambda g: g.game_id)
    for i in range(0, len(games) - 1, 2):
        a, b = games[i], games[i + 1]
        coll = "KXMVESPORTSMULTIGAMEEXTENDED"
        ticker = f"{coll}-S{a.date[2:]}{i:04d}-{a.away.upper()}{b.home.upper()}"
        if ticker not in world.kalshi_markets:
            world.add_kalshi_market(KalshiMarket(ticker, f"{coll}-S{a.date[2:]}{i:04d}", coll, "", "",
                                                 title=f"{a.away_name} and {b.home_name} both win", yes_sub_title="Yes",
                                                 mve=True), with_book=False)


__all__ = ["HUB_KEY", "RateLimiter", "authenticate", "kalshi_app"]


