"""The one fee module: used by detection, execution, paper fills and P&L. Integer money (1e-6 USD).

Inputs are integer units: price in 1e-4 USD, size in 1e-2 contracts; parameters come from the
pairing's FeeParams record (discovery data, schemas/records.py), never hard-coded at a call site. The one account fact a fee
depends on, the Kalshi member type, is the setting ARB_KALSHI_MEMBER_TYPE (core/settings.py
FeeSettings), read here for every caller that does not pass `member` explicitly.

Kalshi (venue-protocols.md K6; Kalshi's "Fee Rounding" page, https://docs.kalshi.com/getting_started/fee_rounding,
current text: "Fees are six-decimal dollar amounts ($0.000001 granularity)"; earlier versions, mirrored in
ammario/kalshi-docs getting_started/fee_rounding.md 2026-03..06, ceiled the trade fee to $0.0001). Per fill:
  1. trade_fee = ceil_6dp(model fee), model fee = rate x multiplier x C x P x (1 - P) (taker rate 0.07);
  2. aligned_change = floor_precision(revenue - trade_fee), revenue signed (negative for a buyer), to the
     member's balance precision: $0.01 for a non-direct member (an account through an FCM, the usual retail
     account), $0.0001 for a direct member;
  3. rounding_fee = (revenue - trade_fee) - aligned_change;
  4. the rounding fee goes into the order's accumulator, which "rebate[s] accumulated rounding in
     increments of the user's target balance precision, capped so the fill's net fee cannot be negative".
Net fee = trade fee + rounding fee - rebate. One fill alone never earns a rebate (its rounding fee is below
one precision unit), so the fee of a single fill is ceil_precision(cost + trade_fee) - cost for a buyer:
one contract at 0.50 costs $0.02 for a non-direct member, not $0.0175. Our reading of step 4: a rebate is a
whole number of precision units (the balance stays on the member's grid) and at most the fill's own fee.
The venue's `average_fee_paid` in the V2 order answer is the ground truth for fills.

Polymarket taker: C x rate x (p(1 - p))^exponent, rate and exponent per market (CLOB `fd.r`/`fd.e`, see
producers/discovery/gamma_source.py), rounded to 5 dp of pUSD (P7). The documents do not say half-up or
half-even: we round half UP, which never under-estimates a cost.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache

from core.config import load
from core.settings import FeeSettings
from core.units import PRICE_SCALE
from schemas.records import FeeParams, from_dict

# A book's fee parameters: the FeeParams record (what the processor and the executor pass). A dict of the schema's
# fields is still read, into the record, for the tests' and benchmarks' fee constants.
Fees = FeeParams | Mapping[str, object]

KALSHI_TAKER_RATE_PPM = 70_000
KALSHI_MAKER_RATE_PPM = 17_500  # *_with_maker_fees series: a quarter of the taker rate
NON_DIRECT_PRECISION = 10_000  # $0.01 in money units
DIRECT_PRECISION = 100  # $0.0001
MEMBER_PRECISION = {"non_direct": NON_DIRECT_PRECISION, "direct": DIRECT_PRECISION}
_KALSHI_DEN = 10**16  # ppm x ppm x 1e-2 x (1e-4)^2 = 1e-22 USD -> 1e-6 money units: the $0.000001 grid
_POLY_GRID = 10  # $0.00001 in money units


def member_precision(member: str) -> int:
    """Balance precision (money units) of a Kalshi member type: 'non_direct' or 'direct'."""
    try:
        return MEMBER_PRECISION[member]
    except KeyError:
        raise ValueError(f"unknown Kalshi member type {member!r} (expected one of {', '.join(MEMBER_PRECISION)})") from None


@cache
def configured_precision() -> int:
    """The balance precision of the configured member type (ARB_KALSHI_MEMBER_TYPE), read once per process."""
    return member_precision(load(FeeSettings).kalshi_member_type)


def _precision(precision: int | None) -> int:
    return configured_precision() if precision is None else precision


def kalshi_trade_fee(price: int, size: int, rate_ppm: int = KALSHI_TAKER_RATE_PPM, multiplier_ppm: int = 1_000_000) -> int:
    """Step 1: the model fee of one fill ceiled to $0.000001 (money units)."""
    if size <= 0:
        return 0
    num = rate_ppm * multiplier_ppm * size * price * (PRICE_SCALE - price)
    return -(-num // _KALSHI_DEN)


def kalshi_net_fees(fills: Sequence[tuple[int, int]], precision: int, *, sell: bool = False) -> list[int]:
    """Steps 2-4 over the fills of ONE order, in fill order: `fills` are (gross amount price x size, trade fee),
    both money units. Returns each fill's net fee (trade fee + rounding fee - rebate), never negative."""
    accumulated = 0
    out = []
    for gross, trade_fee in fills:
        change = (gross if sell else -gross) - trade_fee
        aligned = change // precision * precision  # floor toward negative infinity
        rounding = change - aligned
        accumulated += rounding
        fee = trade_fee + rounding
        rebate = min(accumulated, fee) // precision * precision
        accumulated -= rebate
        out.append(fee - rebate)
    return out


def kalshi_fill_fee(price: int, size: int, rate_ppm: int = KALSHI_TAKER_RATE_PPM, multiplier_ppm: int = 1_000_000, *,
                    precision: int | None = None, sell: bool = False) -> tuple[int, int]:
    """(trade fee, rounding fee) of one fill, money units."""
    trade = kalshi_trade_fee(price, size, rate_ppm, multiplier_ppm)
    (net,) = kalshi_net_fees([(price * size, trade)], _precision(precision), sell=sell)
    return trade, net - trade


def kalshi_taker_fee(price: int, size: int, rate_ppm: int = KALSHI_TAKER_RATE_PPM, multiplier_ppm: int = 1_000_000, *,
                     precision: int | None = None, sell: bool = False) -> int:
    """Net fee of an order filled in ONE fill of `size` at `price`: trade fee + rounding fee (money units)."""
    if size <= 0:
        return 0
    trade, rounding = kalshi_fill_fee(price, size, rate_ppm, multiplier_ppm, precision=precision, sell=sell)
    return trade + rounding


def kalshi_maker_fee(price: int, size: int, multiplier_ppm: int = 1_000_000, *, precision: int | None = None, sell: bool = False) -> int:
    """Maker fee on *_with_maker_fees series: a quarter of the taker rate (0.0175), same rounding."""
    return kalshi_taker_fee(price, size, KALSHI_MAKER_RATE_PPM, multiplier_ppm, precision=precision, sell=sell)


def kalshi_order_fees(fills: Sequence[tuple[int, int]], rate_ppm: int = KALSHI_TAKER_RATE_PPM, multiplier_ppm: int = 1_000_000, *,
                      precision: int | None = None, sell: bool = False) -> list[int]:
    """Net fee of each fill (price, size) of one order, with the order's rounding accumulator."""
    p = _precision(precision)
    return kalshi_net_fees([(price * size, kalshi_trade_fee(price, size, rate_ppm, multiplier_ppm)) for price, size in fills], p, sell=sell)


def polymarket_taker_fee(price: int, size: int, rate_ppm: int, exponent: int = 1) -> int:
    """Fee of one fill in money units, rounded half up to $0.00001."""
    if size <= 0 or rate_ppm == 0:
        return 0
    num = size * rate_ppm * (price * (PRICE_SCALE - price)) ** exponent
    den = 100 * (PRICE_SCALE * PRICE_SCALE) ** exponent * _POLY_GRID  # -> units of $0.00001
    return ((2 * num + den) // (2 * den)) * _POLY_GRID


def _kalshi_precision(member: str | None) -> int:
    return configured_precision() if member is None else member_precision(member)


def taker_fee(params: Fees, price: int, size: int, *, member: str | None = None, sell: bool = False) -> int:
    """Taker fee of an order filled in one fill, under a book's FeeParams (schemas/avro/market_pairing).

    `member` is the Kalshi member type ('non_direct' | 'direct'); None: the configured one."""
    p = params if isinstance(params, FeeParams) else from_dict(FeeParams, params)
    model = p.model
    if model == "KALSHI_QUADRATIC":
        return kalshi_taker_fee(price, size, p.rate_ppm, p.multiplier_ppm, precision=_kalshi_precision(member), sell=sell)
    if model == "POLYMARKET_POWER":
        return polymarket_taker_fee(price, size, p.rate_ppm, p.exponent)
    if model == "NONE":
        return 0
    raise ValueError(f"unknown fee model {model!r}")


def multi_fill_margin(params: Fees, size: int, fills: int, *, member: str | None = None) -> int:
    """The most (money) that the fees of ONE order of `size` can exceed `taker_fee` of it as a single fill when
    the venue fills it in up to `fills` pieces (an IOC meets one fill per resting order):
    - Kalshi: each fill's trade fee is ceiled to $0.000001 (< 1 unit more per fill) and each fill's balance
      change is floored to the member's precision (< 1 precision unit of rounding fee per fill). The order's
      accumulator rebates whole units only up to the fill's own fee, so fills too small to owe a whole unit
      (a fraction of a contract, or a sub-cent price) keep their rounding: up to a unit each;
    - Polymarket: each fill's fee is rounded half up to $0.00001 (at most 5 money units more per fill, and the
      single fill's may have been rounded down by as much)."""
    p = params if isinstance(params, FeeParams) else from_dict(FeeParams, params)
    model = p.model
    if size <= 0 or fills <= 1 or model == "NONE":
        return 0
    if model == "KALSHI_QUADRATIC":
        return fills * (_kalshi_precision(member) + 1)
    if model == "POLYMARKET_POWER":
        return 0 if p.rate_ppm == 0 else (fills + 1) * (_POLY_GRID // 2)
    raise ValueError(f"unknown fee model {model!r}")


def order_taker_fees(params: Fees, fills: Sequence[tuple[int, int]], *, member: str | None = None, sell: bool = False) -> list[int]:
    """Taker fee of each fill (price, size) of ONE order, in fill order (Kalshi: with the order's rounding
    accumulator, so the total converges to the single-fill fee; Polymarket: per fill)."""
    p = params if isinstance(params, FeeParams) else from_dict(FeeParams, params)
    if p.model == "KALSHI_QUADRATIC":
        return kalshi_order_fees(fills, p.rate_ppm, p.multiplier_ppm, precision=_kalshi_precision(member), sell=sell)
    return [taker_fee(p, price, size, member=member, sell=sell) for price, size in fills]
