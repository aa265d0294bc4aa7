"""Issue 25, defect 9: Polymarket positions for reconciliation come from the Data API host, every page.

The venue: `GET /positions?user=` on data-api.polymarket.com (not the CLOB host), `sizeThreshold`
defaulting to 1.0 (0 shows small positions), `limit` 0-500 and `offset` 0-10000 paging (docs
/developers/open-api/get-positions.json; NautilusTrader crates/adapters/polymarket/src/http/data_api.rs
reads all pages). Recorded payload: tests/resources/polymarket/data_api_positions_response.json
(NautilusTrader test data, `{"data": [...], "pagination": {...}}` with snake_case rows; see
tests/resources/PROVENANCE.md), served here page by page in both that envelope and the documented bare
array.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer, make_mocked_request

from cli.commands import positions as positions_cli
from positions.fold import Book
from positions.reconcile import polymarket_positions
from simulators.polymarket.gamma import gamma_routes
from venues import errors
from venues.polymarket.rest import PolymarketDataApi
from venues.polymarket.settings import PolymarketSettings

RECORDED = json.loads((Path(__file__).resolve().parents[1] / "resources" / "polymarket" / "data_api_positions_response.json").read_text())
ROWS: list[dict[str, Any]] = RECORDED["data"]
USER = "0x56687bf447db6ffa42ffe2204a05edaa20f55839"  # the recorded rows' proxy_wallet
EXPECTED = {("POLYMARKET", "71321045863084981365469005770620412523470745398083994982746259498689308907982"): 15050,
            ("POLYMARKET", "8888888888888888888"): 4200}  # 150.5 and 42 shares; the closed (0) and dust (0.005) rows are none


class FakeDataApi:
    """The Data API's /positions over the recorded rows: `envelope` answers in the recorded
    {"data", "pagination"} form, else the documented bare array; `cap` is the host's own page limit."""

    def __init__(self, envelope: bool, cap: int = 500) -> None:
        self.envelope, self.cap = envelope, cap
        self.requests: list[httpx.URL] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request.url)
        if request.url.path != "/positions" or "POLY_API_KEY" in request.headers:
            return httpx.Response(404, json={"error": "not found"})
        q = request.url.params
        limit, offset = min(int(q["limit"]), self.cap), int(q["offset"])
        threshold = float(q.get("sizeThreshold", "1"))
        rows = [r for r in ROWS if q.get("user") == USER and r["current_size"] >= threshold]
        page = rows[offset:offset + limit]
        if not self.envelope:
            return httpx.Response(200, json=page)
        return httpx.Response(200, json={"data": page, "pagination": {"limit": limit, "offset": offset, "has_more": offset + limit < len(rows),
                                                                      "next_cursor": None}})


def test_recorded_payload_folds_to_shares_per_token() -> None:
    assert RECORDED["pagination"]["has_more"] is False and len(ROWS) == 4
    assert polymarket_positions(ROWS) == EXPECTED


@pytest.mark.parametrize(("envelope", "page_size", "requests"), [(False, 2, 3), (True, 2, 2), (False, 1, 5), (True, 500, 1), (False, 500, 2)])
async def test_every_page_is_read_from_the_data_api(envelope: bool, page_size: int, requests: int) -> None:
    fake = FakeDataApi(envelope)
    api = PolymarketDataApi("http://data-api.test", page_size=page_size, transport=httpx.MockTransport(fake))
    try:
        rows = await api.positions(USER)
    finally:
        await api.aclose()
    assert rows == ROWS  # all four, the zero-size and the dust rows too (sizeThreshold=0)
    assert len(fake.requests) == requests  # a bare array ends on an empty page; the envelope on has_more: false
    assert [u.host for u in fake.requests] == ["data-api.test"] * requests
    assert [(u.params["user"], u.params["sizeThreshold"], int(u.params["limit"]), int(u.params["offset"])) for u in fake.requests] == [
        (USER, "0", page_size, min(page_size * i, len(ROWS))) for i in range(requests)]
    assert polymarket_positions(rows) == EXPECTED


async def test_a_host_that_caps_the_page_below_our_limit_is_still_read_to_the_end() -> None:
    fake = FakeDataApi(envelope=False, cap=3)
    api = PolymarketDataApi("http://data-api.test", transport=httpx.MockTransport(fake))
    try:
        assert await api.positions(USER) == ROWS
    finally:
        await api.aclose()
    assert [int(u.params["offset"]) for u in fake.requests] == [0, 3, 4]


@pytest.mark.parametrize("answer", [{"data": "x"}, {"positions": []}, [1, 2], "text", {"data": [], "pagination": {"offset": 7}}])
async def test_an_unreadable_answer_raises_never_a_partial_list(answer: Any) -> None:
    api = PolymarketDataApi("http://data-api.test", transport=httpx.MockTransport(lambda _r: httpx.Response(200, json=answer)))
    try:
        with pytest.raises(errors.Unknown):
            await api.positions(USER)
    finally:
        await api.aclose()


async def test_more_positions_than_the_host_pages_through_raises() -> None:
    full = [dict(ROWS[0], token_id=str(i)) for i in range(500)]
    api = PolymarketDataApi("http://data-api.test", transport=httpx.MockTransport(lambda _r: httpx.Response(200, json=full)))
    try:
        with pytest.raises(errors.Unknown, match="more than 10000"):
            await api.positions(USER)
    finally:
        await api.aclose()


@pytest.mark.parametrize("row", [{"asset": "1"}, {"size": 3}, {"asset": "1", "size": "abc"}, {"asset": "1", "size": True}])
def test_a_row_that_cannot_be_read_is_an_error_not_a_missing_position(row: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        polymarket_positions([row])


def test_documented_and_simulator_shapes_fold_alike() -> None:
    documented = [{"proxyWallet": USER, "asset": "7", "conditionId": "0x1", "size": 1.464786}, {"asset": "8", "size": 0.004}]
    assert polymarket_positions(documented) == {("POLYMARKET", "7"): 146}
    assert polymarket_positions([{"token_id": "9", "current_size": 10.0, "size_fp": "10.00"}]) == {("POLYMARKET", "9"): 1000}


# --- `arb positions --reconcile` ---------------------------------------------------------------------------


@pytest.fixture
async def data_api_server() -> AsyncIterator[tuple[str, FakeDataApi]]:
    """A Data API host on 127.0.0.1 whose pages hold at most 2 rows (so the command must page)."""
    fake = FakeDataApi(envelope=False, cap=2)

    async def positions(request: web.Request) -> web.Response:
        url = httpx.URL(str(request.url))
        resp = fake(httpx.Request("GET", url, headers=dict(request.headers)))
        return web.json_response(resp.json(), status=resp.status_code)

    app = web.Application()
    app.router.add_get("/positions", positions)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/"), fake
    finally:
        await server.close()


async def test_reconcile_command_reads_every_page_from_the_data_api(data_api_server: tuple[str, FakeDataApi],
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    url, fake = data_api_server
    for name in ("ARB_KALSHI_KEY_ID", "ARB_KALSHI_PRIVATE_KEY_FILE", "ARB_POLY_ADDRESS", "ARB_POLY_PRIVATE_KEY"):
        monkeypatch.delenv(name, raising=False)
    # The CLOB host has no /positions: nothing answers there. Credentials are set (the old code needed them)
    # and must not be needed nor sent to the public Data API.
    monkeypatch.setenv("ARB_POLY_CLOB_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("ARB_POLY_DATA_API_URL", url)
    monkeypatch.setenv("ARB_POLY_FUNDER", USER)
    monkeypatch.setenv("ARB_POLY_API_KEY", "k")
    monkeypatch.setenv("ARB_POLY_API_SECRET", "AAAAAAAA")
    monkeypatch.setenv("ARB_POLY_PASSPHRASE", "passphrase")
    rec = await positions_cli._reconcile(Book())
    assert sorted((d["market"], d["ours"], d["venue_reports"]) for d in rec["drift"]) == sorted((m, 0, q) for (_, m), q in EXPECTED.items())
    assert [int(u.params["offset"]) for u in fake.requests] == [0, 2, 4] and all(u.params["sizeThreshold"] == "0" for u in fake.requests)


def test_data_api_url_is_a_setting() -> None:
    from core.config import load

    assert load(PolymarketSettings, env={}).data_api_url == "https://data-api.polymarket.com"
    assert load(PolymarketSettings, env={"ARB_POLY_DATA_API_URL": "http://127.0.0.1:1"}).data_api_url == "http://127.0.0.1:1"


# --- the simulator's Data API --------------------------------------------------------------------------------


async def test_simulator_serves_the_data_api_positions_with_its_defaults_and_paging() -> None:
    from simulators.catalogue import POLYMARKET
    from simulators.world import Position
    from tests.unit.test_poly_fak_amounts import TEST_KEY, sim_world
    from venues.polymarket.eip712 import address_of

    world = sim_world()
    user = address_of(TEST_KEY)
    acct = world.poly_account(user)
    pms = [pm for g in sorted(world.games.values(), key=lambda g: g.game_id) for pm in g.poly_markets][:3]
    for pm, (index, qty) in zip(pms, ((0, 1050), (1, 300), (0, 50)), strict=True):  # 10.5 of token 0, 3 of token 1, 0.5 of token 0
        acct.positions[pm.token_ids[index]] = Position(qty=qty, cost=qty * 4000)
    handler = next(r.handler for r in gamma_routes(world) if getattr(r, "path", "") == "/positions")

    async def get(query: str) -> tuple[int, Any]:
        try:
            resp = await handler(make_mocked_request("GET", "/positions?" + query))
        except web.HTTPException as exc:
            return exc.status, json.loads(exc.text or "{}")
        assert isinstance(resp, web.Response) and isinstance(resp.body, bytes)
        return resp.status, json.loads(resp.body)

    status, rows = await get(f"user={user}")  # the venue's default sizeThreshold=1 hides the 0.5 position
    assert status == 200 and [(r["asset"], r["size"]) for r in rows] == [(pms[0].token_ids[0], 10.5), (pms[1].token_ids[1], 3.0)]
    walked: list[dict[str, Any]] = []
    for offset in range(0, 10, 2):
        status, page = await get(f"user={user}&sizeThreshold=0&limit=2&offset={offset}")
        walked += page
        if not page:
            break
    assert [r["size"] for r in walked] == [10.5, 3.0, 0.5]
    assert polymarket_positions(walked) == {("POLYMARKET", pms[0].token_ids[0]): 1050, ("POLYMARKET", pms[1].token_ids[1]): 300,
                                            ("POLYMARKET", pms[2].token_ids[0]): 50}
    assert (await get(f"user={user}&limit=501"))[0] == 400 and (await get("limit=1"))[0] == 400
    assert world.accounts[POLYMARKET][user] is acct

