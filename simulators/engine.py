"""A price-time priority matching engine for one book, in integer units (pure, synchronous).

One book per primary instrument: Kalshi's YES of a market, Polymarket's token of outcome index 0.
Buying the complement at q is SELL primary at 10000 - q; callers do that mapping.
Trades execute at the maker's price (a taker crossing deeper gets the price improvement).
Self-trade prevention is not modelled: the scenario uses distinct maker and taker accounts.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from core.units import ONE_DOLLAR


class BookSide(StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def opposite(self) -> BookSide:
        return BookSide.SELL if self is BookSide.BUY else BookSide.BUY


class TimeInForce(StrEnum):
    IOC = "ioc"
    FOK = "fok"
    GTC = "gtc"


@dataclass(frozen=True)
class Trade:
    maker_order_id: str
    maker_account: str
    taker_order_id: str
    taker_account: str
    price: int  # the maker's price, 1e-4 USD of the primary instrument
    size: int  # 1e-2 contracts
    taker_side: BookSide = BookSide.BUY


@dataclass
class MatchResult:
    order_id: str
    filled: int
    remaining: int  # size not filled; for IOC/FOK it was cancelled, for GTC it rests when `rested`
    trades: list[Trade]
    rested: bool


@dataclass
class RestingOrder:
    order_id: str
    account: str
    side: BookSide
    price: int
    size: int  # original size
    remaining: int
    ts_us: int


@dataclass
class _Level:
    price: int
    total: int = 0
    orders: deque[RestingOrder] = field(default_factory=deque)


LevelListener = Callable[[str, BookSide, int, int], None]


class OrderBook:
    def __init__(self, book_id: str, tick: int = 100) -> None:
        if tick <= 0 or ONE_DOLLAR % tick:
            raise ValueError(f"tick {tick} must divide {ONE_DOLLAR}")
        self.book_id = book_id
        self.tick = tick
        self._levels: dict[BookSide, dict[int, _Level]] = {BookSide.BUY: {}, BookSide.SELL: {}}
        self._prices: dict[BookSide, list[int]] = {BookSide.BUY: [], BookSide.SELL: []}  # ascending
        self._orders: dict[str, RestingOrder] = {}
        self.on_level_change: list[LevelListener] = []

    # --- queries ---------------------------------------------------------------------------------

    def bids(self) -> list[tuple[int, int]]:
        """Aggregated (price, size), best (highest) first."""
        lv = self._levels[BookSide.BUY]
        return [(p, lv[p].total) for p in reversed(self._prices[BookSide.BUY])]

    def asks(self) -> list[tuple[int, int]]:
        """Aggregated (price, size), best (lowest) first."""
        lv = self._levels[BookSide.SELL]
        return [(p, lv[p].total) for p in self._prices[BookSide.SELL]]

    def best_bid(self) -> tuple[int, int] | None:
        prices = self._prices[BookSide.BUY]
        return (prices[-1], self._levels[BookSide.BUY][prices[-1]].total) if prices else None

    def best_ask(self) -> tuple[int, int] | None:
        prices = self._prices[BookSide.SELL]
        return (prices[0], self._levels[BookSide.SELL][prices[0]].total) if prices else None

    def level_size(self, side: BookSide, price: int) -> int:
        lvl = self._levels[side].get(price)
        return lvl.total if lvl else 0

    def order(self, order_id: str) -> RestingOrder | None:
        """A resting order (None once filled or cancelled)."""
        return self._orders.get(order_id)

    def resting_orders(self) -> list[RestingOrder]:
        return list(self._orders.values())

    def crossing_size(self, side: BookSide, price: int) -> int:
        """How much an order on `side` at limit `price` could fill right now."""
        opp = side.opposite
        lv = self._levels[opp]
        prices = self._prices[opp]
        if side is BookSide.BUY:
            return sum(lv[p].total for p in prices[: bisect_left(prices, price + 1)])
        return sum(lv[p].total for p in prices[bisect_left(prices, price):])

    # --- mutations -------------------------------------------------------------------------------

    def submit(self, order_id: str, account: str, side: BookSide, price: int, size: int,
               tif: TimeInForce, ts_us: int) -> MatchResult:
        """Match an order, then rest (GTC) or cancel (IOC/FOK) what is left. Raises ValueError on bad input."""
        self._validate(order_id, price, size)
        if tif is TimeInForce.FOK and self.crossing_size(side, price) < size:
            return MatchResult(order_id, 0, size, [], False)
        trades = self._match(order_id, account, side, price, size)
        filled = sum(t.size for t in trades)
        remaining = size - filled
        rested = False
        if remaining and tif is TimeInForce.GTC:
            self._rest(RestingOrder(order_id, account, side, price, size, remaining, ts_us))
            rested = True
        return MatchResult(order_id, filled, remaining, trades, rested)

    def cancel(self, order_id: str) -> int:
        """Cancel a resting order; returns the size cancelled, 0 if unknown (already filled or cancelled)."""
        order = self._orders.pop(order_id, None)
        if order is None:
            return 0
        lvl = self._levels[order.side][order.price]
        lvl.orders.remove(order)
        lvl.total -= order.remaining
        self._level_changed(order.side, lvl)
        return order.remaining

    def reduce(self, order_id: str, by: int) -> int:
        """Reduce a resting order's remaining size by up to `by` (keeps its queue position); returns the reduction."""
        order = self._orders.get(order_id)
        if order is None or by <= 0:
            return 0
        if by >= order.remaining:
            return self.cancel(order_id)
        order.remaining -= by
        lvl = self._levels[order.side][order.price]
        lvl.total -= by
        self._level_changed(order.side, lvl)
        return by

    def clear(self) -> list[RestingOrder]:
        """Cancel every resting order (e.g. an admin 'set book'); returns them."""
        removed = list(self._orders.values())
        for o in removed:
            self.cancel(o.order_id)
        return removed

    # --- internals -------------------------------------------------------------------------------

    def _validate(self, order_id: str, price: int, size: int) -> None:
        if order_id in self._orders:
            raise ValueError(f"order id {order_id!r} is already resting")
        if not 0 < price < ONE_DOLLAR or price % self.tick:
            raise ValueError(f"price {price} is off the book's grid (tick {self.tick}, 0 < price < {ONE_DOLLAR})")
        if size <= 0:
            raise ValueError(f"size must be positive, got {size}")

    def _match(self, order_id: str, account: str, side: BookSide, price: int, size: int) -> list[Trade]:
        opp = side.opposite
        prices = self._prices[opp]
        levels = self._levels[opp]
        trades: list[Trade] = []
        remaining = size
        while remaining and prices:
            best = prices[0] if side is BookSide.BUY else prices[-1]
            if (side is BookSide.BUY and best > price) or (side is BookSide.SELL and best < price):
                break
            lvl = levels[best]
            while remaining and lvl.orders:
                maker = lvl.orders[0]
                qty = min(remaining, maker.remaining)
                maker.remaining -= qty
                lvl.total -= qty
                remaining -= qty
                trades.append(Trade(maker.order_id, maker.account, order_id, account, best, qty, side))
                if not maker.remaining:
                    lvl.orders.popleft()
                    del self._orders[maker.order_id]
            self._level_changed(opp, lvl)
        return trades

    def _rest(self, order: RestingOrder) -> None:
        levels = self._levels[order.side]
        lvl = levels.get(order.price)
        if lvl is None:
            lvl = levels[order.price] = _Level(order.price)
            insort(self._prices[order.side], order.price)
        lvl.orders.append(order)
        lvl.total += order.remaining
        self._orders[order.order_id] = order
        self._level_changed(order.side, lvl)

    def _level_changed(self, side: BookSide, lvl: _Level) -> None:
        if not lvl.total:
            del self._levels[side][lvl.price]
            prices = self._prices[side]
            del prices[bisect_left(prices, lvl.price)]
        for cb in self.on_level_change:
            cb(self.book_id, side, lvl.price, lvl.total)
