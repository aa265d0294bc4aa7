"""`Simulator`: both venues' fake servers and the admin API in one process on 127.0.0.1.

    async with Simulator(settings) as sim:
        sim.kalshi_url, sim.kalshi_ws_url, sim.poly_clob_url, sim.poly_ws_url, sim.gamma_url, sim.admin_url, sim.world

Kalshi REST and WS share one port; the Polymarket CLOB (REST + `/ws/market`) and Gamma apps are served
when `simulators.polymarket.app` defines `clob_app(world)` and `gamma_app(world)`.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from types import TracebackType
from typing import Any

from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from simulators.admin import admin_app
from simulators.kalshi.app import kalshi_app
from simulators.polymarket.app import clob_app, gamma_app
from simulators.settings import SimSettings
from simulators.world import SimWorld
from venues.kalshi import auth
from venues.kalshi.constants import REST_PREFIX, WS_PATH

log = logging.getLogger(__name__)


class Simulator:
    def __init__(self, settings: SimSettings | None = None, world: SimWorld | None = None) -> None:
        self.settings = settings or (world.settings if world else SimSettings())
        self.world = world or SimWorld(self.settings)
        self.kalshi_private_key: RSAPrivateKey | None = None  # set when the simulator generated the key pair
        self._runners: list[web.AppRunner] = []
        self.kalshi_url = self.kalshi_ws_url = self.admin_url = ""
        self.poly_clob_url = self.poly_ws_url = self.gamma_url = ""

    # --- credentials -----------------------------------------------------------------------------

    def _setup_kalshi_key(self) -> None:
        s = self.settings
        if s.kalshi_public_key is not None:
            pub = auth.load_public_key(Path(s.kalshi_public_key).read_bytes())
        else:
            self.kalshi_private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            pub = self.kalshi_private_key.public_key()
            if s.kalshi_private_key_out is not None:
                pem = self.kalshi_private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                            serialization.NoEncryption())
                path = Path(s.kalshi_private_key_out)
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "wb") as fh:
                    fh.write(pem)
        self.world.kalshi_keys[s.kalshi_key_id] = pub

    # --- lifecycle -------------------------------------------------------------------------------

    async def _serve(self, app: web.Application, port: int) -> int:
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self.settings.host, port)
        await site.start()
        self._runners.append(runner)
        addr: Any = runner.addresses[-1]
        return int(addr[1])

    async def start(self) -> Simulator:
        s = self.settings
        self._setup_kalshi_key()
        host = s.host
        kport = await self._serve(kalshi_app(self.world), s.kalshi_port)
        self.kalshi_url = f"http://{host}:{kport}{REST_PREFIX}"
        self.kalshi_ws_url = f"ws://{host}:{kport}{WS_PATH}"
        cport = await self._serve(clob_app(self.world), s.poly_clob_port)
        gport = await self._serve(gamma_app(self.world), s.poly_gamma_port)
        self.poly_clob_url = f"http://{host}:{cport}"
        self.poly_ws_url = f"ws://{host}:{cport}/ws/market"
        self.gamma_url = f"http://{host}:{gport}"
        aport = await self._serve(admin_app(self.world, self.urls), s.admin_port)
        self.admin_url = f"http://{host}:{aport}"
        if s.autostart and s.updates_per_s > 0:
            self.world.start_driver()
        return self

    def urls(self) -> dict[str, str]:
        return {"kalshi_url": self.kalshi_url, "kalshi_ws_url": self.kalshi_ws_url, "poly_clob_url": self.poly_clob_url,
                "poly_ws_url": self.poly_ws_url, "gamma_url": self.gamma_url, "admin_url": self.admin_url}

    async def stop(self) -> None:
        await self.world.stop_driver()
        for runner in reversed(self._runners):
            await runner.cleanup()
        self._runners.clear()

    async def __aenter__(self) -> Simulator:
        return await self.start()

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.stop()
