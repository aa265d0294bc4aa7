"""The one fee module: used by detection, execution, paper fills and P&L. Integer money (1e-6 USD).

Inputs are integer units: price in 1e-4 USD, size in 1e-2 contracts; parameters come from the
pairing's FeeParams (discovery data), never hard-coded at a call site.

- Kalshi taker: rate x multiplier x C x P x (1 - P) (rate 0.07), CEILED per fill to $0.0001
  (venue-protocols.md K6, fee_rounding.md 2026-06). The venue's balance-level cent rounding and refunds
  are not modelled; the V2 response's average_fee_paid is the ground truth for fills.
- Polymarket taker: C x rate x (p(1 - p))^exponent (sports 0.03, exponent 1), rounded to 5 dp of
  USDC (P7). The documents do not say half-up or half-even: we round half UP, which never
  under-estimates a cost.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.units import PRICE_SCALE

_KALSHI_DEN = 10**18  # ppm * ppm * 1e-2 * (1e-4)^2 -> USD, then x1e6 money, then /100 for the $0.0001 grid
_KALSHI_GRID = 100  # $0.0001 in money units
_POLY_GRID = 10  # $0.00001 in money units


def kalshi_taker_fee(price: int, size: int, rate_ppm: int = 70_000, multiplier_ppm: int = 1_000_000) -> int:
    """Fee of ONE fill of `size` at `price`, in money units, ceiled to $0.0001."""
    if size <= 0:
        return 0
    num = rate_ppm * multiplier_ppm * size * price * (PRICE_SCALE - price)
    return -(-num // _KALSHI_DEN) * _KALSHI_GRID


def kalshi_maker_fee(price: int, size: int, multiplier_ppm: int = 1_000_000) -> int:
    """Maker fee on *_with_maker_fees series: a quarter of the taker rate (0.0175)."""
    return kalshi_taker_fee(price, size, 17_500, multiplier_ppm)


def polymarket_taker_fee(price: int, size: int, rate_ppm: int, exponent: int = 1) -> int:
    """Fee of one fill in money units, rounded half up to $0.00001."""
    if size <= 0 or rate_ppm == 0:
        return 0
    num = size * rate_ppm * (price * (PRICE_SCALE - price)) ** exponent
    den = 100 * (PRICE_SCALE * PRICE_SCALE) ** exponent * _POLY_GRID  # -> units of $0.00001
    return ((2 * num + den) // (2 * den)) * _POLY_GRID


def taker_fee(params: Mapping[str, Any], price: int, size: int) -> int:
    """Taker fee of one fill under a book's FeeParams (schemas/avro/market_pairing)."""
    model = params["model"]
    if model == "KALSHI_QUADRATIC":
        return kalshi_taker_fee(price, size, params["rate_ppm"], params["multiplier_ppm"])
    if model == "POLYMARKET_POWER":
        return polymarket_taker_fee(price, size, params["rate_ppm"], params["exponent"])
    if model == "NONE":
        return 0
    raise ValueError(f"unknown fee model {model!r}")
