"""The executor's own hard limits (issue 26): executor/limits.py, the unwind bound, settings validated at start-up."""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

import pytest

from core.config import ConfigError, load
from core.fees import taker_fee
from core.units import ONE_DOLLAR
from executor.limits import Limits, check_signal, find_leg, unwind_price
from executor.orders import LegResult, OrderRequest
from executor.settings import RANGES, ExecutorSettings
from executor.settlement import Settler
from processors.detector import detect_all
from processors.settings import DetectorSettings
from schemas.records import Leg, MarketPairing, Signal, to_dict
from tests.factories import pairing_record, tick_record

P = pairing_record()
LIM = Limits(max_contracts_per_order=10_000, max_contracts_per_signal=30_000, min_edge_money=10_000, min_edge_per_contract=50,
             delayed_extra_edge=200, fills_per_leg=3)


def make(legs: list[tuple[str, str, int]], size: int = 1000, p: MarketPairing = P, **over: Any) -> Signal:
    """A signal whose fees, cost and edge are what its legs add up to (market, side, limit price)."""
    out = []
    for market, side, price in legs:
        book = next(b for b in p.books if any(i.market == market and i.side == side for i in b.instruments))
        inst = next(i for i in book.instruments if i.market == market and i.side == side)
        out.append(Leg(venue=book.venue, market=market, book=book.market, side=inst.side, limit_price=price, size=size,
                       expected_fee=taker_fee(to_dict(book.fee), price, size), pays_on=list(inst.pays_on)))
    cost = sum(leg.limit_price for leg in out) * size + sum(leg.expected_fee for leg in out)
    sig = Signal(signal_id="s1", game_id=p.game_id, legs=out, size=size, cost=cost, edge=ONE_DOLLAR * size - cost,
                 event_ts=1, deadline_ts=2, input_tick_ids=[], input_received_ts=[], detected_ts=1)
    return dataclasses.replace(sig, **over)


def with_leg(sig: Signal, i: int, **changes: Any) -> Signal:
    """`sig` with leg i changed."""
    legs = list(sig.legs)
    legs[i] = dataclasses.replace(legs[i], **changes)
    return dataclasses.replace(sig, legs=legs)


CROSS = [("K-BUF", "YES", 4000), ("TOK-KC", "YES", 5000)]  # 0.90 for a sure 1 USD, before fees


def reason(sig: Signal, p: MarketPairing | None = P, lim: Limits = LIM, live: dict[str, int] | None = None) -> str | None:
    return check_signal(sig, p, lim, (live or {}).get).reason


def test_a_consistent_signal_passes_with_each_venues_worst_case_cost() -> None:
    sig = make(CROSS)
    got = check_signal(sig, P, LIM, None)
    assert got.reason is None
    k, poly = sig.legs
    assert got.venue_cost["KALSHI"] >= 4000 * 1000 + k.expected_fee
    assert got.venue_cost["POLYMARKET"] >= 5000 * 1000 + poly.expected_fee


def test_every_signal_the_detector_emits_passes() -> None:
    # Multi-level ladders: the detector charges the larger of per-chunk and single-fill fees; the executor's check accepts both.
    s = DetectorSettings()
    ticks = [tick_record("K-BUF", asks=[(4000, 300), (4100, 400), (4200, 5000)], bids=[(3000, 500)]),
             tick_record("K-KC", asks=[(5500, 10_000)], bids=[(4500, 900)]),
             tick_record("TOK-KC", venue="POLYMARKET", asks=[(5000, 700), (5050, 2000)]),
             tick_record("TOK-BUF", venue="POLYMARKET", asks=[(6000, 900)])]
    sigs = detect_all(ticks, {P.game_id: P}, s)
    assert sigs
    lim = Limits(10_000, 30_000, s.min_edge_money, s.min_edge_per_contract, s.delayed_extra_edge, s.fills_per_leg)
    for sig in sigs:
        assert reason(sig, lim=lim) is None, sig


@pytest.mark.parametrize("size, cap, expect", [
    (10_100, "order", "contracts per order over the cap 100.00"),
    (10_000, "signal", "contracts in the signal over the cap 150.00"),
])
def test_an_inflated_size_is_rejected(size: int, cap: str, expect: str) -> None:
    lim = dataclasses.replace(LIM, max_contracts_per_signal=15_000) if cap == "signal" else LIM
    assert expect in (reason(make(CROSS, size=size), lim=lim) or "")


def test_a_leg_size_other_than_the_signals_is_rejected() -> None:
    sig = with_leg(make(CROSS), 1, size=5000)
    assert "differs from the signal's" in (reason(sig) or "")


@pytest.mark.parametrize("price", [0, ONE_DOLLAR, -100, ONE_DOLLAR + 100])
def test_a_price_outside_zero_one_is_rejected(price: int) -> None:
    sig = make([("K-BUF", "YES", price), ("TOK-KC", "YES", 100)])
    assert "not strictly inside (0, 1)" in (reason(sig) or "")


def test_a_price_off_the_kalshi_tick_is_rejected() -> None:
    assert "off the market's tick 0.0100" in (reason(make([("K-BUF", "YES", 4050), ("TOK-KC", "YES", 5000)])) or "")


def test_polymarket_prices_follow_the_live_tick() -> None:
    sig = make([("K-BUF", "YES", 4000), ("TOK-KC", "YES", 5010)])  # on discovery's 0.001 tick
    assert reason(sig) is None
    assert reason(sig, live={"TOK-KC": 10}) is None
    # tick_size_change to 0.01: the same price is off the live tick
    assert "off the market's tick 0.0100" in (reason(sig, live={"TOK-KC": 100}) or "")
    assert reason(sig, live={"TOK-KC": 7}) is None  # not a Polymarket tick: discovery's is used


def test_a_cost_that_does_not_match_its_legs_is_rejected() -> None:
    sig = make(CROSS)
    cheaper = dataclasses.replace(sig, cost=sig.cost - 1)
    assert "cost" in (reason(cheaper) or "") and "does not match its legs" in (reason(cheaper) or "")
    assert "edge" in (reason(dataclasses.replace(sig, edge=sig.edge + 10_000)) or "")


def test_a_fee_below_the_fee_module_is_rejected() -> None:
    sig = with_leg(make(CROSS), 0, expected_fee=0)
    cost = sum(leg.limit_price for leg in sig.legs) * 1000 + sig.legs[1].expected_fee
    sig = dataclasses.replace(sig, cost=cost, edge=ONE_DOLLAR * 1000 - cost)
    assert "below the fee module's" in (reason(sig) or "")


def test_an_edge_below_the_minimum_after_recomputation_is_rejected() -> None:
    sig = make([("K-BUF", "YES", 4800), ("TOK-KC", "YES", 5100)])  # 1 cent before fees: fees eat it
    assert "recomputed edge" in (reason(sig) or "")
    thin = make([("K-BUF", "YES", 4000), ("TOK-KC", "YES", 5000)], size=100)  # 0.10 USD per contract, but 1 contract
    assert reason(thin, lim=dataclasses.replace(LIM, min_edge_money=1_000_000)) is not None


def test_the_delayed_extra_edge_applies_to_a_delayed_book() -> None:
    p = pairing_record(delay=3)
    sig = make([("K-BUF", "YES", 4600), ("TOK-KC", "YES", 5000)], p=p)  # ~3 cents per contract after fees
    assert reason(sig, p=p) is not None
    assert reason(sig, p=p, lim=dataclasses.replace(LIM, delayed_extra_edge=0)) is None


def test_legs_must_be_instruments_of_the_game_and_cover_it() -> None:
    assert "unknown game" in (reason(make(CROSS), p=None) or "")
    assert "is not an instrument" in (reason(with_leg(make(CROSS), 1, market="TOK-OTHER")) or "")
    bet = make([("K-BUF", "YES", 3000), ("TOK-BUF", "YES", 3000)])  # both pay on buf only: a bet, not a cover
    assert "do not cover every outcome" in (reason(bet) or "")
    sig = with_leg(make(CROSS), 1, pays_on=["buf", "kc"])  # the signal's own claim is never what is checked
    assert find_leg(P, sig.legs[1]) is not None and reason(sig) is None


# ---- unwind bound -------------------------------------------------------------------------------------


@pytest.mark.parametrize("entry", [4500, 4567, 150, 9990])
@pytest.mark.parametrize("tick_", [1, 10, 100])
@pytest.mark.parametrize("max_loss", [1, 250, 500, 9999])
def test_unwind_prices_never_lose_more_than_the_max_loss(entry: int, tick_: int, max_loss: int) -> None:
    for step in range(1, 30):
        price = unwind_price(entry, step, tick_, max_loss)
        assert price % tick_ == 0 and 0 < price < ONE_DOLLAR
        if entry - max_loss <= ONE_DOLLAR - tick_:  # else no price on the grid is within the bound
            assert price >= entry - max_loss
        assert price <= max(tick_, -(-(entry - max_loss) // tick_) * tick_, entry - tick_)  # walks down, never up past the first step


def test_the_leg_risk_policy_unwinds_within_the_max_loss() -> None:
    # Entry 45.50 cents with a 2.75-cent max loss: the floor on the 1-cent grid is 43 cents (a 2.5-cent loss), never
    # 42 cents (entry - max loss floored to the tick, as before issue 26: a 3.5-cent loss).
    base = [OrderRequest(f"s:{i}:0", "s", "g", i, 0, "KALSHI", m, m, "YES", "BUY", 4550, 1000, 10) for i, m in enumerate(("A", "B"))]
    results = {"s:0:0": LegResult("FILL", filled=1000, fill_cost=4550 * 1000), "s:1:0": LegResult("CANCELLED")}
    st = Settler(tick=100, unwind_steps=10, max_unwind_loss=275, complete_first=False)
    steps: list[OrderRequest] = []
    for _ in range(12):
        nxt = st.next_steps(make(CROSS, deadline_ts=0), base, steps, results, 100)
        for s in nxt:
            results[s.client_order_id] = LegResult("CANCELLED")
            steps.append(s)
    prices = [s.limit_price for s in steps]
    assert prices and min(prices) == 4300 >= 4550 - 275, prices


# ---- settings validated at start-up ----------------------------------------------------------------------


def test_every_integer_setting_has_a_range() -> None:
    hints = typing.get_type_hints(ExecutorSettings)
    ints = {f.name for f in dataclasses.fields(ExecutorSettings) if hints[f.name] is int}
    assert ints == set(RANGES), "every int field of ExecutorSettings needs a row in executor/settings.py RANGES"
    ExecutorSettings()  # the defaults are valid


@pytest.mark.parametrize("name", sorted(RANGES))
def test_out_of_range_values_fail_naming_the_variable(name: str) -> None:
    env = next(f.metadata["env"] for f in dataclasses.fields(ExecutorSettings) if f.name == name)
    lo, hi = RANGES[name]
    bad = [lo - 1] + ([hi + 1] if hi < 2**63 - 1 else [])
    for value in bad:
        with pytest.raises(ConfigError, match=env):
            load(ExecutorSettings, env={env: str(value)})


@pytest.mark.parametrize("env, message", [
    ({"ARB_EXEC_UNWIND_MAX_LOSS": "10000"}, "ARB_EXEC_UNWIND_MAX_LOSS"),
    ({"ARB_EXEC_MAX_CONTRACTS_PER_ORDER": "0"}, "ARB_EXEC_MAX_CONTRACTS_PER_ORDER"),
    ({"ARB_EXEC_MAX_CONTRACTS_PER_ORDER": "50000"}, "ARB_EXEC_MAX_CONTRACTS_PER_SIGNAL"),
    ({"ARB_EXEC_MAX_GAME_EXPOSURE": "20000000000"}, "ARB_EXEC_MAX_TOTAL_EXPOSURE"),
    ({"ARB_EXEC_DAY_TZ": "Mars/Olympus"}, "ARB_EXEC_DAY_TZ"),
    ({"ARB_EXEC_BALANCE_REFRESH_S": "0"}, "ARB_EXEC_BALANCE_REFRESH_S"),
    ({"ARB_EXEC_DAILY_LOSS_LIMIT": "-5"}, "ARB_EXEC_DAILY_LOSS_LIMIT"),
])
def test_bad_settings_fail_at_start_up(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load(ExecutorSettings, env=env)
