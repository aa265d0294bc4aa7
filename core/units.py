"""Fixed-point units. Money is integers: no float ever touches a price, size or fee.

- price: 1e-4 USD (both venues quote at most 4 dp)
- size:  1e-2 contracts/shares everywhere downstream (Tick levels, Signal sizes, orders, fills). Kalshi `*_fp`
         sizes have 2 dp. Polymarket sizes have up to 6 dp (its share token has 6 decimals; a real fill left
         1.464786): the Polymarket parser and book keep them exact in 1e-6 shares, and the Tick carries each
         level floored to the 1e-2 grid (`floor_size`), leaving out levels under 0.01. Flooring only ever
         understates liquidity, and nothing downstream trades less than 0.01.
- money: 1e-6 USD; price x size lands exactly on this grid
- time:  int microseconds since the Unix epoch
"""

from __future__ import annotations

import time

from core.errors import ArbError

PRICE_DP = 4
SIZE_DP = 2
MONEY_DP = 6
# Annotated: mypy types int ** int as Any (a negative exponent would make a float).
PRICE_SCALE: int = 10**PRICE_DP
SIZE_SCALE: int = 10**SIZE_DP
MONEY_SCALE: int = 10**MONEY_DP
ONE_DOLLAR: int = PRICE_SCALE  # a contract pays 1 USD = 10_000 price units


class UnitError(ArbError, ValueError):
    """A decimal string that does not fit the fixed-point grid or is not a number."""


def parse_fixed(text: str, dp: int, *, signed: bool = False) -> int:
    """Parse a decimal string exactly into an integer of 10**-dp units.

    Accepts "0.5", ".48", "12", "-54.00" (when signed). Extra trailing zeros beyond
    `dp` are fine ("0.9600" at dp=2); non-zero digits beyond `dp` raise, because
    rounding a venue's number silently would corrupt a book.
    """
    if not isinstance(text, str):
        raise UnitError(f"expected a decimal string, got {type(text).__name__}")
    s = text.strip()
    neg = False
    if s[:1] in ("-", "+"):
        if s[0] == "-":
            if not signed:
                raise UnitError(f"negative value not allowed: {text!r}")
            neg = True
        s = s[1:]
    whole, dot, frac = s.partition(".")
    if not whole and not frac:
        raise UnitError(f"not a number: {text!r}")
    if (whole and not whole.isdigit()) or (frac and not frac.isdigit()) or not (whole.isascii() and frac.isascii()):
        raise UnitError(f"not a number: {text!r}")
    if len(frac) > dp:
        extra = frac[dp:]
        if extra.strip("0"):
            raise UnitError(f"{text!r} has more than {dp} decimal places")
        frac = frac[:dp]
    value = int(whole or "0") * 10**dp + int((frac + "0" * (dp - len(frac))) or "0")
    return -value if neg else value


def format_fixed(value: int, dp: int, *, min_dp: int | None = None) -> str:
    """Format an integer of 10**-dp units as a decimal string with `dp` places (or trimmed to min_dp)."""
    sign = "-" if value < 0 else ""
    v = -value if value < 0 else value
    whole, frac = divmod(v, 10**dp)
    frac_s = str(frac).rjust(dp, "0")
    if min_dp is not None:
        frac_s = frac_s.rstrip("0").ljust(min_dp, "0")
    return f"{sign}{whole}.{frac_s}" if frac_s else f"{sign}{whole}"


def parse_price(text: str) -> int:
    return parse_fixed(text, PRICE_DP)


def parse_size(text: str, *, signed: bool = False) -> int:
    return parse_fixed(text, SIZE_DP, signed=signed)


def parse_money(text: str, *, signed: bool = True) -> int:
    return parse_fixed(text, MONEY_DP, signed=signed)


def format_price(value: int) -> str:
    return format_fixed(value, PRICE_DP)


def format_size(value: int) -> str:
    return format_fixed(value, SIZE_DP)


def format_money(value: int) -> str:
    return format_fixed(value, MONEY_DP)


def floor_size(value: int, dp: int) -> int:
    """A non-negative size in 10**-dp units floored to the 1e-2 size grid (dp >= SIZE_DP): never more than there is."""
    return value // 10 ** (dp - SIZE_DP)


def notional(price: int, size: int) -> int:
    """price (1e-4) x size (1e-2) = money (1e-6), exactly."""
    return price * size


def now_us() -> int:
    """Wall clock in microseconds since the epoch (for receive/produce stamps only)."""
    return time.time_ns() // 1000
