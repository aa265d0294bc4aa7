import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.units import UnitError, format_price, format_size, notional, parse_price, parse_size


@pytest.mark.parametrize(("text", "units"), [("0.5432", 5432), (".48", 4800), ("1", 10000), ("0.960", 9600), ("0.0001", 1), ("0", 0)])
def test_parse_price(text: str, units: int) -> None:
    assert parse_price(text) == units


@pytest.mark.parametrize(("text", "units"), [("-54.00", -5400), ("3149725.72", 314972572), ("0.01", 1), ("+2", 200)])
def test_parse_signed_size(text: str, units: int) -> None:
    assert parse_size(text, signed=True) == units


@pytest.mark.parametrize("bad", ["", "-", "abc", "1.2.3", "0.00001", "1e5", "NaN", "１"])
def test_parse_price_rejects(bad: str) -> None:
    with pytest.raises(UnitError):
        parse_price(bad)


def test_negative_size_rejected_unless_signed() -> None:
    with pytest.raises(UnitError):
        parse_size("-1.00")


@given(st.integers(min_value=0, max_value=10**12))
def test_price_roundtrip(v: int) -> None:
    assert parse_price(format_price(v)) == v


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_size_roundtrip(v: int) -> None:
    assert parse_size(format_size(v), signed=True) == v


def test_notional_lands_on_money_grid() -> None:
    # 0.5432 USD x 12.34 contracts = 6.703088 USD
    assert notional(5432, 1234) == 6_703_088
