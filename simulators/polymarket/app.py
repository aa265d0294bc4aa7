"""The Polymarket simulator apps served by simulators.runner: the CLOB (REST + market WS) and Gamma."""

from __future__ import annotations

from aiohttp import web

from simulators.polymarket.clob import PolyClob
from simulators.polymarket.gamma import gamma_routes
from simulators.polymarket.ws import PolyWsHub
from simulators.world import SimWorld


def clob_app(world: SimWorld) -> web.Application:
    clob = PolyClob(world)
    hub = PolyWsHub(world)
    app = web.Application(middlewares=[clob.middleware])
    app.add_routes(clob.routes())
    app.router.add_get("/ws/market", hub.handle)

    async def on_shutdown(_app: web.Application) -> None:
        await clob.close()
        await hub.close()

    app.on_shutdown.append(on_shutdown)
    return app


def gamma_app(world: SimWorld) -> web.Application:
    app = web.Application()
    app.add_routes(gamma_routes(world))
    return app
