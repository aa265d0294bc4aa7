import pytest

from core.fees import kalshi_maker_fee, kalshi_taker_fee, polymarket_taker_fee, taker_fee
from tests.factories import KALSHI_FEE, NO_FEE, POLY_FEE


@pytest.mark.parametrize(("price", "size", "fee"), [
    (5000, 10000, 1_750_000),  # 100 contracts at 0.50: 0.07 x 100 x 0.25 = 1.75 USD
    (5000, 100, 17_500),  # 1 contract: 0.0175
    (100, 100, 700),  # 0.000693 ceiled to 0.0007
    (9900, 100, 700),
    (4500, 100, 17_400),  # 0.017325 -> 0.0174
    (5000, 0, 0),
])
def test_kalshi_taker_fee_ceiled_to_a_hundredth_of_a_cent(price: int, size: int, fee: int) -> None:
    assert kalshi_taker_fee(price, size) == fee


def test_kalshi_multiplier_and_maker() -> None:
    assert kalshi_taker_fee(5000, 10000, multiplier_ppm=500_000) == 875_000
    assert kalshi_maker_fee(5000, 10000) == 437_500


@pytest.mark.parametrize(("price", "size", "rate", "exp", "fee"), [
    (5000, 10000, 30_000, 1, 750_000),  # 100 shares at 0.50, sports 0.03: 0.75 USD
    (5000, 10000, 20_000, 2, 125_000),  # exponent 2: 100 x 0.02 x 0.0625
    (1234, 100, 30_000, 1, 3_250),  # 0.03 x 0.1234 x 0.8766 = 0.0032452 -> 0.00325
    (5000, 100, 0, 1, 0),
])
def test_polymarket_fee_rounded_to_5dp(price: int, size: int, rate: int, exp: int, fee: int) -> None:
    assert polymarket_taker_fee(price, size, rate, exp) == fee


def test_dispatch_by_params() -> None:
    assert taker_fee(KALSHI_FEE, 5000, 100) == 17_500
    assert taker_fee(POLY_FEE, 5000, 10000) == 750_000
    assert taker_fee(NO_FEE, 5000, 10000) == 0
    with pytest.raises(ValueError):
        taker_fee({**NO_FEE, "model": "FLAT"}, 5000, 100)


def test_huge_sizes_stay_exact() -> None:
    # 10^6 contracts at 0.5: 0.07 x 1e6 x 0.25 = 17,500 USD exactly
    assert kalshi_taker_fee(5000, 10**8) == 17_500_000_000
