"""The one fee module (core/fees.py), checked against the venues' published rules.

Kalshi (issue 29 item 3; https://docs.kalshi.com/getting_started/fee_rounding, current text): per fill,
trade_fee = ceil_6dp(model fee); the balance change `revenue - trade_fee` is floored to the member's
precision ($0.01 non-direct, $0.0001 direct), the difference being a rounding fee; a per-order accumulator
rebates accumulated rounding in increments of that precision, capped so no fill's net fee is negative.
"""

from pathlib import Path

import pytest

from core import fees
from core.fees import (
    DIRECT_PRECISION,
    NON_DIRECT_PRECISION,
    kalshi_fill_fee,
    kalshi_maker_fee,
    kalshi_net_fees,
    kalshi_order_fees,
    kalshi_taker_fee,
    kalshi_trade_fee,
    multi_fill_margin,
    order_taker_fees,
    polymarket_taker_fee,
    taker_fee,
)
from schemas.records import FeeParams, from_dict
from tests.factories import KALSHI_FEE, NO_FEE, POLY_FEE
from tests.factories import KALSHI_FEE_RECORD as KALSHI
from tests.factories import NO_FEE_RECORD as NONE
from tests.factories import POLY_FEE_RECORD as POLY


@pytest.mark.parametrize(("price", "size", "fee"), [
    (5000, 100, 17_500),  # 0.07 x 0.25 = 0.0175 exactly
    (100, 100, 693),  # 0.07 x 0.01 x 0.99 = 0.000693: on the $0.000001 grid, no longer ceiled to $0.0001
    (550, 100, 3_639),  # the docs' example: model fee 0.00363825 -> trade fee 0.003639
    (4700, 700, 122_059),
    (5000, 0, 0),
])
def test_kalshi_trade_fee_is_ceiled_to_a_millionth(price: int, size: int, fee: int) -> None:
    assert kalshi_trade_fee(price, size) == fee


@pytest.mark.parametrize(("price", "size", "real", "project_before"), [
    (5000, 100, 20_000, 17_500),  # issue 29: 0.50 x 1 -> $0.02 (the project said 0.0175)
    (9900, 100, 10_000, 700),  # 0.99 x 1 -> $0.01 (0.0007)
    (4700, 700, 130_000, 122_100),  # 0.47 x 7 -> $0.13 (0.1221)
    (4500, 100, 20_000, 17_400),
    (5000, 10000, 1_750_000, 1_750_000),  # 100 contracts at 0.50: $1.75, already on the cent grid
    (5000, 0, 0, 0),
])
def test_kalshi_fee_of_one_fill_for_a_non_direct_member(price: int, size: int, real: int, project_before: int) -> None:
    assert kalshi_taker_fee(price, size, precision=NON_DIRECT_PRECISION) == real
    assert kalshi_taker_fee(price, size, precision=DIRECT_PRECISION) == project_before  # direct members: $0.0001 balances


def test_the_docs_worked_example_trade_fee_and_rounding_fee() -> None:
    # revenue -$0.055, model fee $0.00363825 -> trade fee $0.003639, balance change -$0.058639 floored to
    # -$0.06, rounding fee $0.001361 (non-direct member)
    assert kalshi_fill_fee(550, 100, precision=NON_DIRECT_PRECISION) == (3_639, 1_361)
    assert kalshi_fill_fee(550, 100, precision=DIRECT_PRECISION) == (3_639, 61)  # floored to -$0.0587
    # a seller's balance change is floored too: +0.50 - 0.0175 = 0.4825 -> 0.48
    assert kalshi_fill_fee(5000, 100, precision=NON_DIRECT_PRECISION, sell=True) == (17_500, 2_500)
    assert kalshi_fill_fee(5050, 100, precision=NON_DIRECT_PRECISION, sell=True) == (17_499, 7_501)  # 0.505 - 0.017499 = 0.487501 -> 0.48


@pytest.mark.parametrize(("fills", "nets"), [
    # The accumulator tables of the docs page (gross amount of the fill, its trade fee), non-direct member:
    ([(55_000, 8_500)] * 3, [15_000, 5_000, 15_000]),  # subpenny price: a $0.01 rebate on fill 2
    ([(150_000, 4_100)] * 3, [10_000, 0, 10_000]),  # fractional contracts: fill 2's fee is rebated to zero
    ([(9_903, 500)] * 3, [10_097, 97, 97]),  # both: rebates on fills 2 and 3
])
def test_the_per_order_accumulator_of_the_docs(fills: list[tuple[int, int]], nets: list[int]) -> None:
    assert kalshi_net_fees(fills, NON_DIRECT_PRECISION) == nets


def test_rebates_never_make_a_fill_s_fee_negative() -> None:
    # 1 contract at $0.001: trade fee $0.00007, balance -$0.00107 -> -$0.01, net $0.009 < one rebate unit.
    # The rebate is a whole $0.01 (balances stay on the cent grid) and capped by the fill's fee: none is paid.
    nets = kalshi_order_fees([(10, 100)] * 4, precision=NON_DIRECT_PRECISION)
    assert nets == [9_000] * 4 and min(nets) >= 0


def test_an_order_converges_to_the_single_fill_fee() -> None:
    # 0.90 contracts at 0.50 as three 0.30 fills: $0.00525 trade fee each, nets $0.01, $0.01, $0 (one rebate)
    assert kalshi_order_fees([(5000, 30)] * 3, precision=NON_DIRECT_PRECISION) == [10_000, 10_000, 0]
    assert kalshi_taker_fee(5000, 90, precision=NON_DIRECT_PRECISION) == 20_000


def test_order_fees_dispatch_by_params() -> None:
    """The executor's paper fills and the simulator take one order's fills through this one function."""
    assert order_taker_fees(KALSHI, [(5000, 30)] * 3, member="non_direct") == [10_000, 10_000, 0]
    assert order_taker_fees(KALSHI, [(5000, 30)] * 3, member="direct") == [5_300, 5_200, 5_300]  # 0.00525 -> 0.0053, rebates of 0.0001
    assert order_taker_fees(POLY, [(5000, 10000), (5100, 100)]) == [750_000, polymarket_taker_fee(5100, 100, 30_000)]


def test_kalshi_multiplier_and_maker() -> None:
    assert kalshi_taker_fee(5000, 10000, multiplier_ppm=500_000, precision=DIRECT_PRECISION) == 875_000
    assert kalshi_taker_fee(5000, 10000, multiplier_ppm=500_000, precision=NON_DIRECT_PRECISION) == 880_000
    assert kalshi_maker_fee(5000, 10000, precision=DIRECT_PRECISION) == 437_500
    assert kalshi_maker_fee(5000, 10000, precision=NON_DIRECT_PRECISION) == 440_000
    assert kalshi_taker_fee(5000, 100, multiplier_ppm=0, precision=NON_DIRECT_PRECISION) == 0  # a waived fee on a whole-cent fill
    assert kalshi_taker_fee(550, 100, multiplier_ppm=0, precision=NON_DIRECT_PRECISION) == 5_000  # ... still pays the rounding of a sub-cent one


@pytest.mark.parametrize(("price", "size", "rate", "exp", "fee"), [
    (5000, 10000, 30_000, 1, 750_000),  # 100 shares at 0.50, sports 0.03: 0.75 USD
    (5000, 10000, 20_000, 2, 125_000),  # exponent 2: 100 x 0.02 x 0.0625
    (1234, 100, 30_000, 1, 3_250),  # 0.03 x 0.1234 x 0.8766 = 0.0032452 -> 0.00325
    (5000, 100, 0, 1, 0),
])
def test_polymarket_fee_rounded_to_5dp(price: int, size: int, rate: int, exp: int, fee: int) -> None:
    assert polymarket_taker_fee(price, size, rate, exp) == fee


def test_member_type_is_a_setting_read_by_every_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ARB_KALSHI_MEMBER_TYPE", raising=False)
    fees.configured_precision.cache_clear()
    try:
        assert fees.configured_precision() == NON_DIRECT_PRECISION  # the default: the usual retail account
        assert taker_fee(KALSHI, 5000, 100) == 20_000
        monkeypatch.setenv("ARB_KALSHI_MEMBER_TYPE", "direct")
        fees.configured_precision.cache_clear()
        assert taker_fee(KALSHI, 5000, 100) == 17_500
        assert taker_fee(KALSHI, 5000, 100, member="non_direct") == 20_000
    finally:
        fees.configured_precision.cache_clear()


def test_an_unknown_member_type_is_a_configuration_error() -> None:
    from core.config import ConfigError, load
    from core.settings import FeeSettings

    with pytest.raises(ConfigError, match="ARB_KALSHI_MEMBER_TYPE"):
        load(FeeSettings, env={"ARB_KALSHI_MEMBER_TYPE": "gold"})
    assert load(FeeSettings, env={}).kalshi_member_type == "non_direct"


def test_the_fee_module_depends_on_core_only() -> None:
    """core/fees.py is used by every role (detector, executor, simulator, P&L): its setting lives in core."""
    import subprocess
    import sys

    code = "import sys, core.fees; core.fees.configured_precision(); print(sorted({m.split('.')[0] for m in sys.modules} & {'processors', 'executor', 'producers', 'venues'}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.stdout.strip() == "[]"


def test_dispatch_by_params() -> None:
    assert taker_fee(KALSHI, 5000, 100, member="non_direct") == 20_000
    assert taker_fee(POLY, 5000, 10000) == 750_000
    assert taker_fee(NONE, 5000, 10000) == 0
    with pytest.raises(ValueError):
        taker_fee(from_dict(FeeParams, {**NO_FEE, "model": "FLAT"}), 5000, 100)
    with pytest.raises(ValueError):
        taker_fee(KALSHI, 5000, 100, member="gold")


def test_huge_sizes_stay_exact() -> None:
    # 10^6 contracts at 0.5: 0.07 x 1e6 x 0.25 = 17,500 USD exactly
    assert kalshi_taker_fee(5000, 10**8, precision=NON_DIRECT_PRECISION) == 17_500_000_000


def test_the_schema_dict_of_fee_params_reads_as_the_record() -> None:
    """Callers still holding the dict of the schema's fields (tests' constants) get the record's answers."""
    for rec, d in ((KALSHI, KALSHI_FEE), (POLY, POLY_FEE), (NONE, NO_FEE)):
        assert taker_fee(d, 4700, 700, member="non_direct") == taker_fee(rec, 4700, 700, member="non_direct")
        assert multi_fill_margin(d, 700, 3, member="direct") == multi_fill_margin(rec, 700, 3, member="direct")
        assert order_taker_fees(d, [(4700, 300), (4800, 400)], member="direct") == order_taker_fees(rec, [(4700, 300), (4800, 400)], member="direct")
    assert taker_fee(KALSHI, 4700, 700, member="non_direct") > taker_fee(POLY, 4700, 700) > 0
