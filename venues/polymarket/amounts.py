"""Amount precision of immediate (FAK/FOK) Polymarket orders, in the project's integer units. Pure.

The CLOB treats FAK/FOK orders as market orders: the maker amount may carry at most 2 decimals and the
taker amount at most 4, whatever the tick (BUY: maker = pUSD, taker = shares; SELL: maker = shares,
taker = pUSD). Resting orders (GTC/GTD) keep the exact price x size. Official source:
Polymarket/clob-client-v2 src/order-builder/helpers/getMarketOrderRawAmounts.ts (maker rounded down to
ROUNDING_CONFIG `size`, 2 for every tick in roundingConfig.ts; taker capped at MAX_TAKER_DECIMALS = 4).
Polymarket/py-clob-client-v2 py_clob_client_v2/order_builder/builder.py `get_market_order_amounts` rounds
the maker the same way but leaves the taker uncapped, which the venue refuses (py-clob-client-v2#99).

Our orders are limit orders sent as FAK with maker/taker = the limit price exactly, so both amounts
must be exact: price (1e-4) x size (1e-2) is the pUSD amount in 1e-6 base units, shares are size x 1e4.
- BUY: pUSD = price x size needs <= 2 decimals; shares (2 dp) always fit 4.
- SELL: shares always fit 2; pUSD = price x size needs <= 4 decimals.
Valid sizes at a price are exactly the multiples of `fak_step(side, price)`.
"""

from __future__ import annotations

from math import gcd

MAKER_DECIMALS = 2
TAKER_DECIMALS = 4
BASE_DECIMALS = 6  # on-chain pUSD and share amounts
MAKER_QUANTUM = 10 ** (BASE_DECIMALS - MAKER_DECIMALS)  # base units
TAKER_QUANTUM = 10 ** (BASE_DECIMALS - TAKER_DECIMALS)

# The venue's answer (py-clob-client-v2#99, rs-clob-client#114). The SELL wording is by analogy: no
# capture of it was found.
INVALID_BUY = "invalid amounts, the market buy orders maker amount supports a max accuracy of 2 decimals, taker amount a max of 4 decimals"
INVALID_SELL = "invalid amounts, the market sell orders maker amount supports a max accuracy of 2 decimals, taker amount a max of 4 decimals"


def amounts_ok(maker_amount: int, taker_amount: int) -> bool:
    """Signed 6-dp base-unit amounts of a FAK/FOK order, either side."""
    return maker_amount % MAKER_QUANTUM == 0 and taker_amount % TAKER_QUANTUM == 0


def _usd_quantum(side: str) -> int:
    if side == "BUY":
        return MAKER_QUANTUM
    if side == "SELL":
        return TAKER_QUANTUM
    raise ValueError(f"side must be BUY or SELL, not {side!r}")


def fak_ok(side: str, price: int, size: int) -> bool:
    """Does a FAK/FOK of `size` (1e-2 shares) at `price` (1e-4 USD) have amounts the venue accepts?"""
    return (price * size) % _usd_quantum(side) == 0


def fak_step(side: str, price: int) -> int:
    """The smallest positive size (1e-2 shares) valid at `price`; the valid sizes are its multiples.
    E.g. BUY at 0.567: 10 shares; at 0.5675: 4; at 0.57 or 0.5: 1."""
    q = _usd_quantum(side)
    return q // gcd(price, q)


def fak_floor(side: str, price: int, size: int) -> int:
    """The largest valid size <= `size` (0 if none)."""
    step = fak_step(side, price)
    return size - size % step


def invalid_text(side: str) -> str:
    return INVALID_BUY if side == "BUY" else INVALID_SELL
