"""Simulator faults set through the admin API: `reject_in_200` turns Polymarket order refusals into HTTP 200s."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from unittest import mock

from aiohttp import streams, web
from aiohttp.test_utils import make_mocked_request

from venues.polymarket.sim_clob import PolyClob
from venues.sim.admin import admin_app
from venues.sim.faults import VenueFaults
from venues.sim.settings import SimSettings
from venues.sim.world import POLYMARKET, SimWorld

NOT_OWNER = "the order owner has to be the owner of the API KEY"


def sim_world() -> SimWorld:
    return SimWorld(SimSettings(games=1, updates_per_s=0.0, arb_rate_per_min=0.0, autostart=False))


def _request(method: str, path: str, body: Any = None, app: web.Application | None = None, match_info: dict[str, str] | None = None) -> web.Request:
    payload = None
    if body is not None:
        payload = streams.StreamReader(mock.Mock(_reading_paused=False), 2**16, loop=asyncio.get_running_loop())
        payload.feed_data(json.dumps(body).encode())
        payload.feed_eof()
    return make_mocked_request(method, path, headers={"Content-Type": "application/json"}, payload=payload, app=app, match_info=match_info or {})


async def admin(app: web.Application, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """One admin API call through the app's router and its error middleware (as the HTTP server runs it)."""
    match = await app.router.resolve(_request(method, path, app=app))
    assert match.http_exception is None, (method, path)
    request = _request(method, path, body, app, dict(match))
    resp = await app.middlewares[0](request, match.handler)
    assert isinstance(resp, web.Response) and resp.text is not None
    return resp.status, json.loads(resp.text)


async def refused_order(clob: PolyClob) -> tuple[int, Any]:
    """An order the CLOB refuses (wrong owner) -> (HTTP status, body)."""
    resp = await clob.post_order(_request("POST", "/order", {"order": {}, "owner": "someone-else", "orderType": "FAK"}))
    assert resp.text is not None
    return resp.status, json.loads(resp.text)


async def test_reject_in_200_set_through_the_admin_api_turns_refusals_into_200s() -> None:
    world = sim_world()
    app, clob = admin_app(world), PolyClob(world)
    status, faults = await admin(app, "GET", "/faults")
    assert status == 200 and faults["polymarket"]["reject_in_200"] == 0.0 and faults["kalshi"]["reject_in_200"] == 0.0

    status, body = await refused_order(clob)  # off: the usual 400
    assert status == 400 and body["success"] is False and body["errorMsg"] == NOT_OWNER

    status, faults = await admin(app, "POST", "/faults/polymarket", {"reject_in_200": 1})
    assert status == 200 and faults["reject_in_200"] == 1.0 and world.faults[POLYMARKET].reject_in_200 == 1.0
    status, body = await refused_order(clob)
    assert status == 200 and body["success"] is True and body["errorMsg"] == NOT_OWNER and not body["orderID"]
    rec = world.orderlog.query(venue=POLYMARKET)[-1]
    assert (rec.http_status, rec.status, rec.reason, rec.accepted) == (200, "rejected", NOT_OWNER, False)

    status, err = await admin(app, "POST", "/faults/polymarket", {"reject_in_200": "sometimes"})  # validated like p429
    assert status == 400 and "bad value" in err["error"] and world.faults[POLYMARKET].reject_in_200 == 1.0

    status, faults = await admin(app, "DELETE", "/faults/polymarket")
    assert status == 200 and faults["reject_in_200"] == 0.0
    status, _ = await refused_order(clob)
    assert status == 400


async def test_reject_in_200_probability_draws_from_the_fault_rng() -> None:
    world = sim_world()
    clob = PolyClob(world)
    world.faults[POLYMARKET].update({"reject_in_200": 0.5})
    statuses = [(await refused_order(clob))[0] for _ in range(200)]
    assert {200, 400} == set(statuses) and 50 < statuses.count(200) < 150


def test_reject_in_200_is_a_float_field_like_the_other_probabilities() -> None:
    f = VenueFaults()
    f.update({"reject_in_200": True})  # JSON true: always, as sim_clob reads it
    assert f.reject_in_200 == 1.0 and isinstance(f.reject_in_200, float)
    f.update({"reject_in_200": "0.25", "p429": "0.5"})
    assert (f.reject_in_200, f.p429) == (0.25, 0.5) and f.to_json()["reject_in_200"] == 0.25
