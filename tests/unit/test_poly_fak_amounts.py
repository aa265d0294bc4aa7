"""Issue 25, defect 1: Polymarket FAK/FOK amount precision, end to end (sizing, order building, simulator).

The venue treats FAK/FOK orders as market orders: the maker amount may carry at most 2 decimals and the
taker amount at most 4 (BUY: maker = pUSD, taker = shares; SELL: maker = shares, taker = pUSD); GTC/GTD
accept the exact price x size. Official source: Polymarket/clob-client-v2
src/order-builder/helpers/getMarketOrderRawAmounts.ts (maker rounded down to ROUNDING_CONFIG `size` = 2
decimals, taker capped at MAX_TAKER_DECIMALS = 4); Polymarket/py-clob-client-v2
py_clob_client_v2/order_builder/builder.py `get_market_order_amounts` rounds the maker alike (its
uncapped taker is py-clob-client-v2#99). The checks here are written out
independently of venues/polymarket/amounts.py, on the 6-dp base units that are signed.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from typing import Any
from unittest import mock

import pytest
from aiohttp import streams
from aiohttp.test_utils import make_mocked_request
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.config import Secret
from core.fees import taker_fee
from core.units import ONE_DOLLAR
from executor.orders import OrderRequest, leg_requests
from executor.polymarket_transport import PolymarketTransport, Wallet
from processors.detector import detect_all
from processors.settings import DetectorSettings
from schemas.records import Leg, MarketPairing, Signal, Tick, from_dict
from simulators.catalogue import POLYMARKET
from simulators.settings import SimSettings
from simulators.world import SimWorld
from tests.factories import pairing, pairing_record, poly_book_record, tick, tick_record
from venues.polymarket import amounts
from venues.polymarket import constants as C
from venues.polymarket.auth import ApiCreds
from venues.polymarket.eip712 import address_of
from venues.polymarket.order import build_order
from venues.polymarket.rest import PolymarketRest
from venues.polymarket.signing import post_body, sign_order

TEST_KEY = bytes.fromhex("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")
INVALID_AMOUNTS = "invalid amounts, the market buy orders maker amount supports a max accuracy of 2 decimals, taker amount a max of 4 decimals"
S = DetectorSettings(min_edge_money=1, min_edge_per_contract=1, max_signal_size=10**9)


def fak_ok(maker_amount: int, taker_amount: int) -> bool:
    """The venue's rule on 6-dp base units: maker <= 2 decimals, taker <= 4 (both sides)."""
    return maker_amount % 10**4 == 0 and taker_amount % 10**2 == 0


def transport(tick_size: int = 10) -> PolymarketTransport:
    rest = PolymarketRest("http://127.0.0.1:9", address_of(TEST_KEY), ApiCreds("k", Secret(""), Secret("")))
    book = poly_book_record(tick_size)
    return PolymarketTransport(rest, Wallet(TEST_KEY, address_of(TEST_KEY), signature_type=0, api_key="owner"), lambda _cond: book)


def signed_amounts(req: OrderRequest) -> tuple[int, int]:
    assert req.signed_order is not None
    order = json.loads(req.signed_order)["order"]
    return int(order["makerAmount"]), int(order["takerAmount"])


# --- the pure rule (venues/polymarket/amounts.py) ---------------------------------------------------


@pytest.mark.parametrize(("maker", "taker", "ok"), [
    (9_980_000, 10_131_970, False),  # py-clob-client-v2#99: 9.98 pUSD at 0.985 on a 0.001 tick, taker 10.13197 (5 dp)
    (9_980_000, 10_183_600, True),  # ... the same on a 0.01 tick: 10.1836 shares (4 dp) fills
    (1_999_422, 2_019_600, False),  # rs-clob-client-v2#59: maker 1.999422 pUSD (6 dp)
    (962_000, 1_000_000, False),  # py-clob-client#305: 1 share at 0.962 = 0.962 pUSD ...
    (4_810_000, 5_000_000, True),  # ... 5 shares = 4.81 pUSD
])
def test_rule_on_amounts_reported_by_the_official_clients_users(maker: int, taker: int, ok: bool) -> None:
    assert amounts.amounts_ok(maker, taker) is ok is fak_ok(maker, taker)


def test_step_is_the_smallest_valid_size_and_valid_sizes_are_its_multiples() -> None:
    for side in ("BUY", "SELL"):
        for price in range(1, 10_000):
            step = amounts.fak_step(side, price)
            assert amounts.fak_ok(side, price, step)
            if price % 37 == 1:  # brute force on a sample: no smaller size fits
                assert not any(amounts.fak_ok(side, price, s) for s in range(1, step))
            for size in (step + 1, 2 * step, 3 * step - 1, 100, 101):
                assert amounts.fak_ok(side, price, size) is (size % step == 0)
                assert amounts.fak_floor(side, price, size) == size - size % step
    assert [amounts.fak_step("BUY", p) for p in (5670, 5675, 5700, 5000, 5671)] == [1000, 400, 100, 2, 10_000]


def test_whole_contract_rejection_rates_of_the_issue() -> None:
    # Issue 25: with whole contracts, FAK BUYs rejected on about 1/4 of orders at tick 0.005, 1/2 at 0.0025,
    # 3/4 at 0.001 and nearly all at 0.0001; none on the cent grid.
    for tick_size, rate in ((1000, 0), (100, 0), (50, 25), (25, 50), (10, 73), (1, 95)):
        prices = range(tick_size, 10_000, tick_size)
        bad = sum(not amounts.fak_ok("BUY", p, n * 100) for p in prices for n in range(1, 101))
        assert abs(100 * bad / (len(prices) * 100) - rate) < 1.5, tick_size


def test_build_order_keeps_resting_precision_but_refuses_fak_amounts_the_venue_rejects() -> None:
    # py-clob-client#121: the same order accepted as GTC, rejected as FOK
    args: dict[str, Any] = {"token_id": 1, "side": "BUY", "price": 5670, "size": 1500, "tick": 10, "maker": C.ZERO_ADDRESS,
                            "signer": C.ZERO_ADDRESS, "signature_type": 0, "salt": 1, "timestamp_ms": 1}
    assert build_order(**args).maker_amount == 8_505_000
    for order_type in ("FAK", "FOK"):
        with pytest.raises(ValueError, match="invalid amounts"):
            build_order(**args, order_type=order_type)
    assert build_order(**(args | {"size": 1000}), order_type="FAK").maker_amount == 5_670_000
    sell = build_order(**(args | {"side": "SELL", "size": 1001, "price": 5700}), order_type="FAK")
    assert (sell.maker_amount, sell.taker_amount) == (10_010_000, 5_705_700)  # SELL: shares 2 dp, pUSD 4 dp


# --- sizing and order building -------------------------------------------------------------------


def test_detector_sizes_a_fine_tick_polymarket_leg_to_whole_cents() -> None:
    # Kalshi BUF YES 0.40 + Polymarket KC token 0.567 (tick 0.001), 15 contracts on each book: 15 x 0.567 =
    # 8.505 pUSD cannot be a FAK BUY; 10 contracts (5.67 pUSD) can, and is the most that can.
    p = pairing_record()
    (sig,) = detect_all([tick_record("K-BUF", asks=[(4000, 1500)]), tick_record("TOK-KC", venue="POLYMARKET", asks=[(5670, 1500)])],
                        {p.game_id: p}, S)
    assert [leg.size for leg in sig.legs] == [1000, 1000] and sig.size == 1000
    poly = next(leg for leg in sig.legs if leg.venue == "POLYMARKET")
    assert fak_ok(poly.limit_price * poly.size, poly.size * 10_000)
    assert sig.edge > 0


def test_detector_falls_back_to_a_lower_limit_when_no_size_fits_the_deeper_one() -> None:
    # 6 contracts at 0.50 and 2 more at 0.5671: at a 0.5671 limit only multiples of 100 contracts fit,
    # so the signal takes the 6 at a 0.50 limit instead of nothing.
    p = pairing_record()
    (sig,) = detect_all([tick_record("K-BUF", asks=[(4000, 1000)]), tick_record("TOK-KC", venue="POLYMARKET", asks=[(5000, 600), (5671, 200)])],
                        {p.game_id: p}, S)
    assert sig.size == 600 and [leg.limit_price for leg in sig.legs] == [4000, 5000]


def test_executor_aligns_both_legs_of_an_unaligned_signal_and_signs_acceptable_amounts() -> None:
    # A signal sized without the rule (e.g. by an older processor): 15 contracts at 0.567.
    legs = [Leg(venue="KALSHI", market="K-BUF", book="K-BUF", side="YES", limit_price=4000, size=1500, expected_fee=0, pays_on=["buf"]),
            Leg(venue="POLYMARKET", market="123", book="0xcond", side="YES", limit_price=5670, size=1500, expected_fee=0, pays_on=["kc"])]
    signal = Signal(signal_id="s1", game_id="g", legs=legs, size=1500, cost=0, edge=0, event_ts=0, deadline_ts=1_790_000_000_000_000,
                    input_tick_ids=[], input_received_ts=[], detected_ts=0)
    reqs = leg_requests(signal)
    assert [r.size for r in reqs] == [1000, 1000]  # the same contract count on both legs, the largest that fits
    signed = asyncio.run(transport().sign(reqs[1]))
    assert signed.size == 1000 and fak_ok(*signed_amounts(signed))
    assert signed_amounts(signed) == (5_670_000, 10_000_000)


@pytest.mark.parametrize(("action", "price", "size", "expected"), [
    ("BUY", 5670, 1001, 1000),  # completion size that is not a multiple of 10 contracts at 0.567
    ("BUY", 5700, 1001, 1000),  # 0.57 x 10.01 = 5.7057: 4 decimals
    ("BUY", 5000, 1001, 1000),  # 0.5 x 10.01 = 5.005
    ("SELL", 5670, 1001, 1000),  # a SELL's pUSD is its taker amount (4 decimals): 5.67567 has 5
    ("SELL", 5700, 1001, 1001),  # ... 5.7057 has 4: valid as it is
])
def test_transport_never_signs_a_fak_the_venue_refuses(action: str, price: int, size: int, expected: int) -> None:
    req = OrderRequest("c:1:1", "s1", "g", 1, 1, "POLYMARKET", "123", "0xcond", "YES", action, price, size, 1_790_000_000_000_000)
    signed = asyncio.run(transport().sign(req))
    maker, taker = signed_amounts(signed)
    assert fak_ok(maker, taker), (maker, taker)
    assert signed.size == expected


# --- property: sizing + order building on every tick size ------------------------------------------

POLY_TICKS = (1000, 100, 50, 25, 10, 1)  # 0.1, 0.01, 0.005, 0.0025, 0.001, 0.0001
KALSHI_MARKETS = ("K-BUF", "K-KC")
POLY_MARKETS = ("TOK-BUF", "TOK-KC")


@st.composite
def fak_case(draw: st.DrawFn) -> tuple[int, list[dict[str, Any]]]:
    poly_tick = draw(st.sampled_from(POLY_TICKS))
    poly_price = st.integers(1, 10_000 // poly_tick - 1).map(lambda k: k * poly_tick)
    size = st.integers(1, 20_000)  # 1e-2 contracts, fractional ones included
    ticks = []
    for i in range(draw(st.integers(2, 8))):
        if draw(st.booleans()):
            levels = st.lists(st.tuples(st.integers(1, 9999), size), min_size=1, max_size=3)
            market, venue = draw(st.sampled_from(KALSHI_MARKETS)), "KALSHI"
        else:
            levels = st.lists(st.tuples(poly_price, size), min_size=1, max_size=3)
            market, venue = draw(st.sampled_from(POLY_MARKETS)), "POLYMARKET"
        ticks.append(tick(market, venue=venue, bids=draw(levels), asks=draw(levels), ts=1_000_000 + i * 1000, seq=i))
    return poly_tick, ticks


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fak_case(), st.booleans(), st.integers(0, 300), st.integers(1, 200_000))
def test_every_fak_the_executor_would_send_is_accepted(case: tuple[int, list[dict[str, Any]]], whole: bool, min_pc: int, min_money: int) -> None:
    """For random prices on every tick size and random sizes: every Polymarket order the executor would
    sign for a detected signal satisfies the venue's FAK decimals, both legs have the same contract count,
    and the expected edge after rounding is still >= the minimum (per contract and per signal)."""
    poly_tick, ticks = case
    p = pairing()
    p["books"][2]["tick_size"] = poly_tick
    fees = {inst["market"]: book["fee"] for book in p["books"] for inst in book["instruments"]}
    s = DetectorSettings(min_edge_money=min_money, min_edge_per_contract=min_pc, whole_contracts=whole, max_signal_size=10**6)
    t = transport(poly_tick)
    for sig in detect_all([from_dict(Tick, t) for t in ticks], {p["game_id"]: from_dict(MarketPairing, p)}, s):
        reqs = leg_requests(sig)
        assert len(reqs) == 2 and {r.size for r in reqs} == {sig.size}
        if whole:
            assert sig.size % 100 == 0
        for req in reqs:
            if req.venue == "POLYMARKET":
                signed = asyncio.run(t.sign(replace(req, market=str(len(req.market)))))  # token ids are numbers
                assert signed.size == req.size and fak_ok(*signed_amounts(signed)), (req, signed_amounts(signed))
        assert sig.edge >= max(min_money, min_pc * sig.size), sig
        cost = sum(leg.limit_price * leg.size + taker_fee(fees[leg.market], leg.limit_price, leg.size) for leg in sig.legs)
        assert ONE_DOLLAR * sig.size - cost >= sig.edge  # never overstated after rounding


# --- simulator ------------------------------------------------------------------------------------


def sim_world() -> SimWorld:
    return SimWorld(SimSettings(games=2, updates_per_s=0.0, arb_rate_per_min=0.0, autostart=False, poly_address=address_of(TEST_KEY)))


def sim_order_body(world: SimWorld, price: int, size: int, side: str = "BUY", order_type: str = "FAK", tick: int = 10) -> dict[str, Any]:
    game = next(g for g in world.games.values() if not g.draw_possible)
    pm = game.poly_markets[0]
    pm.tick = tick  # a fine-tick market (real sports moneylines use 0.001)
    addr = address_of(TEST_KEY)
    order = build_order(token_id=int(pm.token_ids[0]), side=side, price=price, size=size, tick=tick, maker=addr, signer=addr,
                        signature_type=0, salt=size, timestamp_ms=1_790_000_000_000)
    return post_body(sign_order(order, TEST_KEY, C.EXCHANGE, "2", world.settings.poly_chain_id), world.settings.poly_api_key, order_type)


async def sim_post(clob: Any, body: dict[str, Any]) -> Any:
    raw = json.dumps(body, separators=(",", ":")).encode()
    payload = streams.StreamReader(mock.Mock(_reading_paused=False), 2**16, loop=asyncio.get_running_loop())
    payload.feed_data(raw)
    payload.feed_eof()
    resp = await clob.post_order(make_mocked_request("POST", "/order", payload=payload))
    return resp.status, json.loads(resp.body)


async def test_simulator_refuses_fak_amounts_with_the_venues_text() -> None:
    from simulators.polymarket.clob import PolyClob

    world = sim_world()
    clob = PolyClob(world)
    status, ans = await sim_post(clob, sim_order_body(world, 5670, 1500))  # 8.505 pUSD as a FAK BUY
    assert status == 400 and INVALID_AMOUNTS in ans["error"] and ans.get("success") is not True
    log = world.orderlog.query(venue=POLYMARKET)
    assert log[-1].reason is not None and INVALID_AMOUNTS in log[-1].reason and not log[-1].accepted
    # the same amounts rest fine as GTC (resting orders keep full precision); 10 contracts are a valid FAK
    assert clob._validate(sim_order_body(world, 5670, 1500, order_type="GTC"))[5] == "GTC"
    assert clob._validate(sim_order_body(world, 5670, 1000))[4] == 1000
