"""Shared helpers of the Polymarket simulator: token <-> engine-book mapping and wire formatting.

The engine keeps one book per market (condition id) in terms of token 0. Token 1 is its complement:
a bid for token 1 at q is an ask for token 0 at 1 - q, and vice versa.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from core.units import ONE_DOLLAR, format_price, format_size
from simulators.catalogue import PolyMarketIds
from simulators.engine import BookSide
from simulators.world import SimWorld

PRICE_DECIMALS = {1000: 1, 100: 2, 50: 3, 25: 4, 10: 3, 1: 4}


@dataclass(frozen=True)
class TokenRef:
    market: PolyMarketIds
    index: int  # 0 or 1

    @property
    def token_id(self) -> str:
        return self.market.token_ids[self.index]

    @property
    def condition_id(self) -> str:
        return self.market.condition_id


def token_ref(world: SimWorld, token_id: str) -> TokenRef | None:
    hit = world.poly_token_index.get(str(token_id))
    if hit is None:
        return None
    cond, index = hit
    return TokenRef(world.poly_markets[cond], index)


def to_engine(ref: TokenRef, side: str, price: int) -> tuple[BookSide, int]:
    """A BUY/SELL of the token at `price` as an engine order on token 0."""
    if ref.index == 0:
        return (BookSide.BUY if side == "BUY" else BookSide.SELL), price
    return (BookSide.SELL if side == "BUY" else BookSide.BUY), ONE_DOLLAR - price


def token_price(ref: TokenRef, engine_price: int) -> int:
    return engine_price if ref.index == 0 else ONE_DOLLAR - engine_price


def price_text(price: int, tick: int) -> str:
    """A price the way the venue writes it: the tick's decimals, trailing zeros dropped ("0.5", "0.525")."""
    text = format_price(price)
    whole, _, frac = text.partition(".")
    frac = frac[: PRICE_DECIMALS.get(tick, 4)].rstrip("0")
    return f"{whole}.{frac}" if frac else whole


def size_text(size: int) -> str:
    return format_size(size)


def token_levels(world: SimWorld, ref: TokenRef) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """(bids best first, asks best first) of the token, token prices."""
    book = world.poly_books[ref.condition_id]
    bids, asks = book.bids(), book.asks()
    if ref.index == 0:
        return bids, asks
    return [(ONE_DOLLAR - p, s) for p, s in asks], [(ONE_DOLLAR - p, s) for p, s in bids]


def book_event(world: SimWorld, ref: TokenRef, ts_ms: int) -> dict[str, object]:
    """A `book` event as live data has it: bids ascending and asks descending, the best level LAST."""
    bids, asks = token_levels(world, ref)
    tick = ref.market.tick
    last = world.last_trade.get(ref.condition_id)
    ev: dict[str, object] = {
        "event_type": "book", "asset_id": ref.token_id, "market": ref.condition_id, "timestamp": str(ts_ms), "hash": "",
        "bids": [{"price": price_text(p, tick), "size": size_text(s)} for p, s in reversed(bids)],
        "asks": [{"price": price_text(p, tick), "size": size_text(s)} for p, s in reversed(asks)],
        "tick_size": price_text(tick, tick), "last_trade_price": price_text(token_price(ref, last[0]), tick) if last else "0.5"}
    # Not the venue's hash scheme (which clients must not rely on, P2): a stable digest of the content.
    ev["hash"] = hashlib.sha1(json.dumps(ev, sort_keys=True).encode(), usedforsecurity=False).hexdigest()
    return ev
