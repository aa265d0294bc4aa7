"""Simulator faults set through the admin API: `reject_in_200` turns Polymarket order refusals into HTTP 200s; the
ambiguous-answer faults (accept_then_5xx / accept_then_timeout and their hold, lookup_lag_ms, delay_s, p401 / next_401,
max_clock_skew_s / clock_offset_s). Their effect on the live simulators: tests/integration/test_sim_ambiguous_faults.py."""

from __future__ import annotations

import asyncio
import json
import random
import time
from typing import Any
from unittest import mock

import pytest
from aiohttp import streams, web
from aiohttp.test_utils import make_mocked_request

from simulators.admin import admin_app
from simulators.catalogue import KALSHI, POLYMARKET
from simulators.faults import ACCEPT_THEN_5XX, ACCEPT_THEN_TIMEOUT, VenueFaults
from simulators.polymarket.clob import PolyClob
from simulators.settings import SimSettings
from simulators.world import SimWorld

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
    assert isinstance(resp, web.Response) and resp.text is not None
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


# --- ambiguous answers (design.md "Ambiguous venue answers") ----------------------------------------------------------


class CountingRng(random.Random):
    """A Random that counts draws, to show that faults switched off draw nothing."""

    def __init__(self) -> None:
        super().__init__(7)
        self.draws = 0

    def random(self) -> float:
        self.draws += 1
        return super().random()


def test_new_fault_fields_have_their_defaults_and_per_venue_clock_windows() -> None:
    f = VenueFaults()
    assert (f.accept_then_5xx, f.next_accept_then_5xx, f.accept_then_timeout, f.next_accept_then_timeout) == (0.0, 0, 0.0, 0)
    assert (f.timeout_hold_ms, f.lookup_lag_ms, f.delay_s, f.p401, f.next_401, f.clock_offset_s) == (30_000, 0, None, 0.0, 0, 0.0)
    world = sim_world()
    assert world.faults[KALSHI].max_clock_skew_s == 30.0 and world.faults[POLYMARKET].max_clock_skew_s == 300.0
    world.faults[KALSHI].update({"max_clock_skew_s": 5})
    world.faults.reset(KALSHI)
    assert world.faults[KALSHI].max_clock_skew_s == 30.0


def test_accept_fault_counters_first_then_probabilities_and_nothing_drawn_when_off() -> None:
    rng = CountingRng()
    f = VenueFaults()
    assert [f.accept_fault(rng) for _ in range(5)] == [None] * 5 and rng.draws == 0
    assert not f.deny_401(rng) and rng.draws == 0
    f.update({"next_accept_then_5xx": 1, "next_accept_then_timeout": 2})
    assert [f.accept_fault(rng) for _ in range(4)] == [ACCEPT_THEN_5XX, ACCEPT_THEN_TIMEOUT, ACCEPT_THEN_TIMEOUT, None] and rng.draws == 0
    f.update({"accept_then_5xx": 1.0})
    assert f.accept_fault(rng) == ACCEPT_THEN_5XX and rng.draws == 1
    f.update({"accept_then_5xx": 0.0, "accept_then_timeout": 0.5})
    got = [f.accept_fault(rng) for _ in range(200)]
    assert set(got) == {ACCEPT_THEN_TIMEOUT, None} and 50 < got.count(ACCEPT_THEN_TIMEOUT) < 150 and rng.draws == 201
    f.update({"next_401": 2})
    assert [f.deny_401(rng) for _ in range(3)] == [True, True, False]
    f.update({"p401": 1})
    assert f.deny_401(rng)


def test_update_validates_ranges_and_sets_nothing_on_a_bad_value() -> None:
    f = VenueFaults()
    with pytest.raises(ValueError):
        f.update({"next_accept_then_5xx": 3, "accept_then_timeout": 1.5})
    assert f.next_accept_then_5xx == 0  # nothing set
    for bad in ({"p401": -0.1}, {"lookup_lag_ms": -1}, {"timeout_hold_ms": -5}, {"delay_s": -1}, {"max_clock_skew_s": -1},
                {"next_401": "x"}):
        with pytest.raises(ValueError):
            f.update(bad)
    f.update({"delay_s": "1.5", "clock_offset_s": -90, "timeout_hold_ms": "250"})
    assert (f.delay_s, f.clock_offset_s, f.timeout_hold_ms) == (1.5, -90.0, 250)
    assert f.poly_delay_s(3) == 1.5
    f.update({"delay_s": None})
    assert f.delay_s is None and f.poly_delay_s(3) == 3
    f.update({"delay_s": 0})
    assert f.poly_delay_s(3) == 0.0


def test_clock_skew_is_measured_against_the_offset_venue_clock() -> None:
    f = VenueFaults(max_clock_skew_s=30)
    now_ms = int(time.time() * 1000)
    assert not f.clock_skewed(now_ms) and not f.clock_skewed(now_ms - 20_000)
    assert f.clock_skewed(now_ms - 40_000) and f.clock_skewed(now_ms + 40_000)
    f.update({"clock_offset_s": 120})  # the venue runs two minutes ahead: a correct client looks stale
    assert f.clock_skewed(now_ms) and not f.clock_skewed(now_ms + 120_000)


async def test_hold_ends_when_elapsed_client_gone_or_released_and_not_after_close() -> None:
    faults = sim_world().faults
    t0 = time.monotonic()
    assert await faults.hold(KALSHI, 0.05, lambda: False) == "elapsed"
    assert await faults.hold(KALSHI, 30, lambda: time.monotonic() - t0 > 0.1) == "gone"
    task = asyncio.create_task(faults.hold(POLYMARKET, 30, lambda: False))
    while faults.held == 0:
        await asyncio.sleep(0.01)
    assert faults.release_held(KALSHI) == 0 and faults.held == 1  # another venue's hold stays
    assert faults.release_held(POLYMARKET) == 1
    assert await task == "released" and faults.held == 0
    faults.close()
    assert await faults.hold(KALSHI, 30, lambda: False) == "released"  # shutting down: no new holds
    faults.reopen()
    assert await faults.hold(KALSHI, 0.01, lambda: False) == "elapsed"
    assert time.monotonic() - t0 < 5


async def test_admin_api_sets_the_new_faults_and_releases_held_answers() -> None:
    world = sim_world()
    app = admin_app(world)
    body = {"next_accept_then_5xx": 2, "accept_then_timeout": 0.25, "timeout_hold_ms": 1000, "lookup_lag_ms": 1500,
            "next_401": 1, "p401": 0.1, "max_clock_skew_s": 10, "clock_offset_s": -5, "delay_s": 2}
    status, faults = await admin(app, "POST", "/faults/polymarket", body)
    assert status == 200 and {k: faults[k] for k in body} == {**body, "accept_then_timeout": 0.25, "delay_s": 2.0}
    status, err = await admin(app, "POST", "/faults/polymarket", {"accept_then_5xx": 2})
    assert status == 400 and "probability" in err["error"]
    task = asyncio.create_task(world.faults.hold(POLYMARKET, 30, lambda: False))
    while world.faults.held == 0:
        await asyncio.sleep(0.01)
    status, out = await admin(app, "POST", "/faults/polymarket/release")
    assert status == 200 and out == {"released": 1} and await task == "released"
    status, faults = await admin(app, "DELETE", "/faults/polymarket")
    assert status == 200 and faults["next_accept_then_5xx"] == 0 and faults["delay_s"] is None and faults["max_clock_skew_s"] == 300.0
