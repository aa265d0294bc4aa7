"""Admin API of the simulator (HTTP + JSON): ground truth and control for tests, benchmarks and demos.

Prices and sizes are decimal strings in venue units ("0.4500" USD, "10.00" contracts); `venue` is
`kalshi` or `polymarket`; Polymarket book ids are condition ids and levels are in token-0 terms.

  GET    /health                         {"ok": true}
  GET    /state                          seed, clock, driver, step count, active windows
  GET    /games                          every game with its Kalshi tickers and Polymarket ids
  GET    /book?venue=&book_id=           {"bids": [[price, size]...], "asks": [...]} best first
  POST   /book                           {"venue", "book_id", "bids": [[p, s]...], "asks": [...]}: replace the
                                         background liquidity (real accounts' orders stay) and freeze the book
  POST   /book/release                   {"venue", "book_id"}: hand the book back to the random walk
  POST   /arb                            {"game_id"?, "outcome"?, "edge"?, "size"?, "lifetime_ms"?}: open a window
  GET    /arb                            every window so far (open ones have closed_us 0)
  GET    /faults                         fault settings per venue
  POST   /faults/{venue}                 set fields: p429, next_429, p5xx, next_5xx, status_5xx, latency_ms,
                                         retry_after_s, seq_skip, silence, malformed, accept_then_5xx,
                                         next_accept_then_5xx, accept_then_timeout, next_accept_then_timeout,
                                         timeout_hold_ms, lookup_lag_ms, p401, next_401, max_clock_skew_s,
                                         clock_offset_s; Polymarket also cancel_only, reject_in_200, delay_s
                                         (simulators/faults.py VenueFaults); a bad value sets nothing (400)
  DELETE /faults/{venue}                 clear every fault of the venue
  POST   /faults/{venue}/release         end the held (accept_then_timeout) answers now: closed unanswered -> {"released": n}
  POST   /faults/{venue}/disconnect      drop every WS connection now -> {"dropped": n}
  POST   /faults/{venue}/ws_error        {"code": 10|17|25|...}: error on every subscription (terminal ones end it)
  GET    /orders?venue=&account=&since=  ground-truth order log (every order request, accepted or refused)
  POST   /step                           {"n": 100}: run n scenario steps now (virtual clock advances per step)
  POST   /driver                         {"running": true|false}: start / stop the background driver
  GET    /clock, POST /clock             {"now_us"}: read / pin the sim clock (pinning makes it virtual)
  POST   /kalshi/keys                    {"key_id", "public_key_pem"}: accept another Kalshi key (its own account)
  GET    /accounts?venue=                balances and positions (1e-6 USD, 1e-2 contracts)
  POST   /accounts                       {"venue", "account", "balance": "100.00"}: create or set a balance
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any

from aiohttp import web

from core.errors import ArbError
from core.units import UnitError, parse_fixed, parse_price, parse_size
from simulators.catalogue import KALSHI, POLYMARKET
from simulators.world import SimWorld, parse_levels

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class AdminError(ArbError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _venue(name: Any) -> str:
    v = str(name or "").upper()
    if v not in (KALSHI, POLYMARKET):
        raise AdminError(400, "venue must be kalshi or polymarket")
    return v


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        data = await request.json()
    except ValueError:
        raise AdminError(400, "body is not valid JSON") from None
    if not isinstance(data, dict):
        raise AdminError(400, "body must be a JSON object")
    return data


def admin_app(world: SimWorld, info: Callable[[], dict[str, Any]] | None = None) -> web.Application:
    @web.middleware
    async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except AdminError as exc:
            return web.json_response({"error": str(exc)}, status=exc.status)
        except (UnitError, ValueError, TypeError) as exc:
            return web.json_response({"error": f"bad value: {exc}"}, status=400)
        except KeyError as exc:
            return web.json_response({"error": f"unknown: {exc.args[0]}"}, status=404)

    sc = world.scenario

    async def health(_r: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def state(_r: web.Request) -> web.Response:
        return web.json_response({"seed": world.settings.seed, "games": len(world.games), "now_us": world.now_us(),
                                  "clock": world.clock.mode, "driver_running": world.driver_running, "steps": sc.steps,
                                  "level_changes": world.level_changes, "windows": len(sc.windows),
                                  "active_windows": list(sc.active), **(info() if info else {})})

    async def games(_r: web.Request) -> web.Response:
        out = []
        for g in world.games.values():
            d = asdict(g)
            d.pop("fair", None)
            life = world.life.lives.get(g.game_id)
            if life is not None:  # simulators/lifecycle.py: phase, end / resolution / settlement instants, winner
                d["life"] = asdict(life)
            out.append(d)
        return web.json_response({"games": out})

    async def get_book(request: web.Request) -> web.Response:
        venue = _venue(request.query.get("venue"))
        book = world.books(venue)[request.query["book_id"]]
        return web.json_response({"bids": book.bids(), "asks": book.asks(), "tick": book.tick})

    async def set_book(request: web.Request) -> web.Response:
        b = await _body(request)
        venue = _venue(b.get("venue"))
        world.set_book(venue, str(b["book_id"]), parse_levels(b.get("bids")), parse_levels(b.get("asks")))
        book = world.books(venue)[str(b["book_id"])]
        return web.json_response({"bids": book.bids(), "asks": book.asks()})

    async def release_book(request: web.Request) -> web.Response:
        b = await _body(request)
        sc.release(_venue(b.get("venue")), str(b["book_id"]))
        return web.json_response({"ok": True})

    async def inject(request: web.Request) -> web.Response:
        b = await _body(request)
        if b.get("game_id") is not None and b["game_id"] not in world.games:
            raise AdminError(404, f"unknown game {b['game_id']}")
        lifetime = b.get("lifetime_ms")
        win = sc.inject(game_id=b.get("game_id"), outcome=b.get("outcome"),
                        edge=parse_price(str(b["edge"])) if b.get("edge") is not None else None,
                        size=parse_size(str(b["size"])) if b.get("size") is not None else None,
                        lifetime_us=int(lifetime) * 1000 if lifetime is not None else None)
        if win is None:
            raise AdminError(409, "no window possible now (game busy, book held by admin, or prices don't fit)")
        return web.json_response(win.to_json())

    async def windows(_r: web.Request) -> web.Response:
        return web.json_response({"windows": [w.to_json() for w in sc.windows]})

    async def get_faults(_r: web.Request) -> web.Response:
        return web.json_response({v.lower(): f.to_json() for v, f in world.faults.venues.items()})

    async def set_faults(request: web.Request) -> web.Response:
        venue = _venue(request.match_info["venue"])
        world.faults[venue].update(await _body(request))
        return web.json_response(world.faults[venue].to_json())

    async def clear_faults(request: web.Request) -> web.Response:
        venue = _venue(request.match_info["venue"])
        world.faults.reset(venue)
        return web.json_response(world.faults[venue].to_json())

    async def disconnect(request: web.Request) -> web.Response:
        return web.json_response({"dropped": world.faults.disconnect(_venue(request.match_info["venue"]))})

    async def release(request: web.Request) -> web.Response:
        return web.json_response({"released": world.faults.release_held(_venue(request.match_info["venue"]))})

    async def ws_error(request: web.Request) -> web.Response:
        b = await _body(request)
        return web.json_response({"sent": world.faults.ws_error(_venue(request.match_info["venue"]), int(b["code"]))})

    async def orders(request: web.Request) -> web.Response:
        q = request.query
        venue = _venue(q["venue"]) if q.get("venue") else None
        recs = world.orderlog.query(venue, q.get("account"), int(q.get("since", "0")))
        return web.json_response({"orders": [r.to_json() for r in recs], "next": len(world.orderlog.records)})

    async def step(request: web.Request) -> web.Response:
        b = await _body(request)
        sc.run_steps(int(b.get("n", 1)))
        return web.json_response({"steps": sc.steps, "now_us": world.now_us()})

    async def driver(request: web.Request) -> web.Response:
        b = await _body(request)
        if b.get("running", True):
            world.start_driver()
        else:
            await world.stop_driver()
        return web.json_response({"driver_running": world.driver_running})

    async def get_clock(_r: web.Request) -> web.Response:
        return web.json_response({"now_us": world.now_us(), "mode": world.clock.mode})

    async def set_clock(request: web.Request) -> web.Response:
        b = await _body(request)
        world.clock.pin(int(b["now_us"]))
        return web.json_response({"now_us": world.now_us(), "mode": world.clock.mode})

    async def add_key(request: web.Request) -> web.Response:
        from venues.kalshi.auth import load_public_key

        b = await _body(request)
        world.kalshi_keys[str(b["key_id"])] = load_public_key(str(b["public_key_pem"]).encode())
        world.kalshi_account(str(b["key_id"]), parse_fixed(str(b.get("balance", world.settings.kalshi_balance)), 6))
        return web.json_response({"ok": True})

    async def accounts(request: web.Request) -> web.Response:
        venue = _venue(request.query["venue"]) if request.query.get("venue") else None
        out: dict[str, Any] = {}
        for v, accts in world.accounts.items():
            if venue and v != venue:
                continue
            out[v.lower()] = {a.account_id: {"balance": a.balance, "positions": {k: asdict(p) for k, p in a.positions.items()}}
                              for a in accts.values()}
        return web.json_response(out)

    async def set_account(request: web.Request) -> web.Response:
        b = await _body(request)
        venue = _venue(b.get("venue"))
        acct = world._account(venue, str(b["account"]), 0)
        acct.balance = parse_fixed(str(b["balance"]), 6)
        return web.json_response({"account": acct.account_id, "balance": acct.balance})

    app = web.Application(middlewares=[errors])
    app.add_routes([
        web.get("/health", health), web.get("/state", state), web.get("/games", games),
        web.get("/book", get_book), web.post("/book", set_book), web.post("/book/release", release_book),
        web.post("/arb", inject), web.get("/arb", windows),
        web.get("/faults", get_faults), web.post("/faults/{venue}", set_faults), web.delete("/faults/{venue}", clear_faults),
        web.post("/faults/{venue}/disconnect", disconnect), web.post("/faults/{venue}/ws_error", ws_error),
        web.post("/faults/{venue}/release", release),
        web.get("/orders", orders), web.post("/step", step), web.post("/driver", driver),
        web.get("/clock", get_clock), web.post("/clock", set_clock),
        web.post("/kalshi/keys", add_key), web.get("/accounts", accounts), web.post("/accounts", set_account),
    ])

    async def on_shutdown(_app: web.Application) -> None:
        # The admin app is stopped first (simulators/runner.py): answers held by accept_then_timeout end now, so
        # the venue apps' shutdown does not wait for them.
        world.faults.close()

    async def on_startup(_app: web.Application) -> None:
        world.faults.reopen()

    app.on_startup.append(on_startup)
    app.on_shutdown.append(on_shutdown)
    return app
