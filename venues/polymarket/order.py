"""Limit-order amounts of a CLOB V2 order from integer price and size (no floats).

BUY: makerAmount = pUSD paid = price x size, takerAmount = shares; SELL the reverse. With the price on
the market's tick and the size on 0.01 shares, price x size always fits the SDK's per-tick amount
decimals (ROUNDING_CONFIG), so its float rounding yields exactly these integers (tested against it).
Immediate orders (FAK/FOK) are stricter (venues/polymarket/amounts.py): an order_type of FAK or FOK
refuses amounts the venue would reject, rather than round them into another price or size.
"""

from __future__ import annotations

from venues.polymarket import amounts
from venues.polymarket import constants as C
from venues.polymarket.signing import OrderStruct

SIZE_TO_BASE = 10_000  # size unit 1e-2 share -> 1e-6 base units


def build_order(*, token_id: int, side: str, price: int, size: int, tick: int, maker: str, signer: str, signature_type: int,
                salt: int, timestamp_ms: int, expiration: int = 0, order_type: str = "GTC") -> OrderStruct:
    """price: 1e-4 USD on the tick; size: 1e-2 shares (> 0); order_type: how it will be posted."""
    if tick not in C.TICK_SIZES:
        raise ValueError(f"unsupported tick size {tick} (1e-4 USD)")
    if not 0 < price < 10_000 or price % tick:
        raise ValueError(f"price {price} (1e-4 USD) is not on tick {tick} inside (0, 1)")
    if size <= 0:
        raise ValueError("size must be positive")
    if side not in C.SIDES:
        raise ValueError(f"side must be BUY or SELL, not {side!r}")
    if order_type not in C.ORDER_TYPES:
        raise ValueError(f"unknown order type {order_type!r}")
    if order_type in ("FAK", "FOK") and not amounts.fak_ok(side, price, size):
        raise ValueError(f"{amounts.invalid_text(side)} (size {size} at price {price}: use a multiple of {amounts.fak_step(side, price)})")
    if not 0 <= salt < 1 << 53:
        raise ValueError("salt must be < 2^53 (exact as a JSON number)")
    usd = price * size  # 1e-4 x 1e-2 = 1e-6 = base units
    shares = size * SIZE_TO_BASE
    maker_amount, taker_amount = (usd, shares) if side == "BUY" else (shares, usd)
    return OrderStruct(salt=salt, maker=maker.lower(), signer=signer.lower(), token_id=token_id, maker_amount=maker_amount, taker_amount=taker_amount,
                       side=C.SIDES[side], signature_type=signature_type, timestamp=timestamp_ms, expiration=expiration)
