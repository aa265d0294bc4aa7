"""The simulated world both venue simulators serve: games, books, accounts, order log, faults, clock.

Everything that trades goes through `SimWorld.place` so accounts, the order log and the WS change
notifications stay consistent. All amounts are integers (core/units.py).
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.fees import kalshi_order_fees
from core.units import ONE_DOLLAR, parse_fixed, parse_price, parse_size
from simulators.catalogue import KALSHI, POLYMARKET, KalshiMarket, PolyMarketIds, SimGame
from simulators.engine import BookSide, MatchResult, OrderBook, TimeInForce, Trade
from simulators.faults import Faults
from simulators.lifecycle import Lifecycle
from simulators.orderlog import FillRecord, OrderLog, OrderRecord
from simulators.scenario import Scenario, make_games
from simulators.settings import SimSettings

INTERNAL_ACCOUNTS = frozenset({"mm", "flow", "arb", "admin"})  # unlimited balance, not in the order log


# --- clock ---------------------------------------------------------------------------------------------


class SimClock:
    """Sim time in µs. `real` follows the wall clock; `virtual` only moves when advanced (tests pin it)."""

    def __init__(self, mode: str = "real", start_us: int = 0) -> None:
        if mode not in ("real", "virtual"):
            raise ValueError(f"clock mode must be real or virtual, not {mode!r}")
        self.mode = mode
        self._now = start_us

    def now_us(self) -> int:
        return time.time_ns() // 1000 if self.mode == "real" else self._now

    def advance(self, us: int) -> None:
        if self.mode == "virtual":
            self._now += us

    def pin(self, now_us: int) -> None:
        """Switch to virtual time at `now_us`."""
        self.mode = "virtual"
        self._now = now_us


# --- accounts ------------------------------------------------------------------------------------------


@dataclass
class Position:
    # Kalshi (keyed by ticker): signed size, + YES / - NO (1e-2): the venue nets a market's YES and NO (KD
    # get-positions: `position`, negative = NO). Polymarket (keyed by token id): the shares of that token, never
    # negative for an account that trades through the CLOB: a condition's two tokens are separate ERC-1155
    # balances, both can be held at once (the Data API lists each, `mergeable` when both are), and only an
    # explicit merge turns a pair back into pUSD.
    qty: int = 0
    cost: int = 0  # cost of the open position, 1e-6 USD
    realized: int = 0
    fees: int = 0
    traded: int = 0  # notional traded, 1e-6 USD
    last_update_us: int = 0


@dataclass
class Account:
    account_id: str
    venue: str
    balance: int  # 1e-6 USD
    unlimited: bool = False
    positions: dict[str, Position] = field(default_factory=dict)

    def apply(self, book_id: str, delta: int, price: int, fee: int, ts_us: int) -> None:
        """A fill of `delta` primary contracts (+ buy, - sell) at primary price `price`, paying `fee` (Polymarket:
        `book_id` is the token, `price` the token's; the complement side below then only serves the market maker).

        Buying the primary while short closes the complement (cash back 1 - p each); selling while long
        closes at p; the rest opens at p (buy) or 1 - p (complement buy). A YES+NO pair is worth $1.
        """
        pos = self.positions.setdefault(book_id, Position())
        size = abs(delta)
        held = pos.qty if delta < 0 else -pos.qty  # what this fill closes
        close = min(size, max(0, held))
        open_ = size - close
        close_px = price if delta < 0 else ONE_DOLLAR - price
        open_px = price if delta > 0 else ONE_DOLLAR - price
        cash = close * close_px - open_ * open_px - fee
        if close:
            removed = pos.cost * close // abs(pos.qty)
            pos.cost -= removed
            pos.realized += close * close_px - removed
        pos.cost += open_ * open_px
        pos.qty += delta
        pos.fees += fee
        pos.realized -= fee
        pos.traded += size * price
        pos.last_update_us = ts_us
        self.balance += cash

    def settle(self, book_id: str, yes_value: int, ts_us: int) -> tuple[int, int, int, int] | None:
        """Pay out the position in `book_id` at `yes_value` (1e-4 USD one YES / token 0 pays; the complement pays the
        rest) and close it: -> (signed qty, cost, fees, payout 1e-6 USD), None without a position."""
        pos = self.positions.get(book_id)
        if pos is None or not pos.qty:
            return None
        qty, cost, fees = pos.qty, pos.cost, pos.fees
        payout = qty * yes_value if qty > 0 else -qty * (ONE_DOLLAR - yes_value)
        self.balance += payout
        pos.realized += payout - cost
        pos.qty = pos.cost = 0
        pos.last_update_us = ts_us
        return qty, cost, fees, payout

    def opening_cost(self, book_id: str, side: BookSide, price: int, size: int) -> int:
        """Cash an order could consume if fully filled at its limit (before fees)."""
        pos = self.positions.get(book_id)
        qty = pos.qty if pos else 0
        held = qty if side is BookSide.SELL else -qty
        open_ = max(0, size - max(0, held))
        return open_ * (price if side is BookSide.BUY else ONE_DOLLAR - price)


# --- notifications -------------------------------------------------------------------------------------

# (venue, book_id, side, price, new_total, delta)
LevelListener = Callable[[str, str, BookSide, int, int, int], None]
# (venue, book_id, trade, trade_id, ts_us)
TradeListener = Callable[[str, str, Trade, str, int], None]


class SimWorld:
    def __init__(self, settings: SimSettings | None = None) -> None:
        self.settings = settings or SimSettings()
        s = self.settings
        self.clock = SimClock(s.clock, s.clock_start_us)
        self.faults = Faults(seed=s.seed)
        self.orderlog = OrderLog()
        self._id_rng = random.Random(s.seed * 7919 + 17)
        self.games: dict[str, SimGame] = {}
        self.kalshi_markets: dict[str, KalshiMarket] = {}
        self.kalshi_books: dict[str, OrderBook] = {}
        self.poly_books: dict[str, OrderBook] = {}
        self.poly_markets: dict[str, PolyMarketIds] = {}
        self.poly_token_index: dict[str, tuple[str, int]] = {}  # token id -> (condition id, outcome index)
        self._poly_game: dict[str, str] = {}  # condition id -> game id
        self._poly_order_index: dict[str, int] = {}  # resting Polymarket order id -> the token index it trades
        self.accounts: dict[str, dict[str, Account]] = {KALSHI: {}, POLYMARKET: {}}
        self.level_listeners: list[LevelListener] = []
        self.trade_listeners: list[TradeListener] = []
        # Taker fees. fee_fns: per fill (book, price, size) -> fee, for a venue whose fee of a fill does not depend
        # on the order's other fills (Polymarket). order_fee_fns: per order (book, [(price, size)...], sold) -> the
        # fee of each fill, where it does (Kalshi's rounding accumulator); it wins over fee_fns. Kalshi's is the
        # pipeline's own core.fees.kalshi_order_fees (ARB_KALSHI_MEMBER_TYPE's precision); `sold`: the taker sold YES.
        self.fee_fns: dict[str, Callable[[str, int, int], int]] = {POLYMARKET: lambda _book, p, q: 0}
        self.order_fee_fns: dict[str, Callable[[str, list[tuple[int, int]], bool], list[int]]] = {
            KALSHI: lambda _book, fills, sold: kalshi_order_fees(fills, sell=sold)}
        self.last_trade: dict[str, tuple[int, int]] = {}  # book id -> (price, ts_us)
        self.volume: dict[str, int] = {}  # book id -> traded size
        self._mirror: dict[tuple[str, BookSide, int], int] = {}
        self.level_changes = 0  # book updates (level size changes) so far, for benchmarks
        self._driver: asyncio.Task[None] | None = None
        self.kalshi_keys: dict[str, Any] = {}  # key id -> RSA public key (the key id is the account id)
        self.kalshi_account(s.kalshi_key_id, parse_fixed(s.kalshi_balance, 6))
        self.poly_account(s.poly_address.lower(), parse_fixed(s.poly_balance, 6))
        # Without an explicit start date the games start in the hours after the sim clock's now (see make_games).
        for game in make_games(s.seed, s.games, s.start_date, start_us=self.clock.now_us(),
                                        first_after_us=int(s.first_game_after_s * 1e6), spacing_us=int(s.game_spacing_s * 1e6)):
            self.add_game(game)
        self.life = Lifecycle(self)
        self.scenario = Scenario(self)

    # --- catalogue ---------------------------------------------------------------------------------

    def add_game(self, game: SimGame) -> None:
        self.games[game.game_id] = game
        for code, ticker in game.kalshi_markets.items():
            name = {game.away: game.away_name, game.home: game.home_name}.get(code, "Tie")
            self.kalshi_markets[ticker] = KalshiMarket(
                ticker, game.kalshi_event, game.kalshi_series, game.game_id, code,
                title=f"{game.away_name} at {game.home_name} Winner?", yes_sub_title=name)
            self.kalshi_books[ticker] = self._book(KALSHI, ticker, 100)
        for pm in game.poly_markets:
            self.poly_markets[pm.condition_id] = pm
            self._poly_game[pm.condition_id] = game.game_id
            self.poly_books[pm.condition_id] = self._book(POLYMARKET, pm.condition_id, pm.tick)
            for i, tok in enumerate(pm.token_ids):
                self.poly_token_index[tok] = (pm.condition_id, i)

    def add_kalshi_market(self, market: KalshiMarket, with_book: bool = True) -> None:
        self.kalshi_markets[market.ticker] = market
        if with_book:
            self.kalshi_books[market.ticker] = self._book(KALSHI, market.ticker, market.tick)

    def _book(self, venue: str, book_id: str, tick: int) -> OrderBook:
        book = OrderBook(book_id, tick)
        book.on_level_change.append(lambda bid, side, price, total: self._level(venue, bid, side, price, total))
        return book

    def books(self, venue: str) -> dict[str, OrderBook]:
        return self.kalshi_books if venue == KALSHI else self.poly_books

    def game_of_book(self, venue: str, book_id: str) -> SimGame | None:
        if venue == KALSHI:
            m = self.kalshi_markets.get(book_id)
            return self.games.get(m.game_id) if m else None
        gid = self._poly_game.get(book_id)
        return self.games.get(gid) if gid is not None else None

    # --- accounts ----------------------------------------------------------------------------------

    def kalshi_account(self, account_id: str, balance: int = 0) -> Account:
        return self._account(KALSHI, account_id, balance)

    def poly_account(self, account_id: str, balance: int = 0) -> Account:
        return self._account(POLYMARKET, account_id, balance)

    def _account(self, venue: str, account_id: str, balance: int) -> Account:
        acct = self.accounts[venue].get(account_id)
        if acct is None:
            acct = Account(account_id, venue, balance, unlimited=account_id in INTERNAL_ACCOUNTS)
            self.accounts[venue][account_id] = acct
        return acct

    # --- ids and time ------------------------------------------------------------------------------

    def now_us(self) -> int:
        return self.clock.now_us()

    def new_id(self) -> str:
        """A deterministic UUID4-shaped id (same seed and call order -> same ids)."""
        return str(uuid.UUID(int=self._id_rng.getrandbits(128), version=4))

    # --- trading -----------------------------------------------------------------------------------

    def place(self, venue: str, book_id: str, account: str, side: BookSide, price: int, size: int, tif: TimeInForce,
              *, order_id: str | None = None, record: OrderRecord | None = None, token_index: int = 0) -> MatchResult:
        """Submit an order to a book, settle its trades on both accounts and, for logged orders, the log.
        `token_index`: on a Polymarket book, the token the order buys or sells (the engine matches it as an order on
        token 0; the accounts hold the token itself).

        Raises KeyError for an unknown book and ValueError for an order the engine refuses.
        """
        book = self.books(venue)[book_id]
        oid = order_id or self.new_id()
        ts = self.now_us()
        result = book.submit(oid, account, side, price, size, tif, ts)
        if venue == POLYMARKET and result.rested and token_index:  # token 0 is the default: the market maker's orders
            self._poly_order_index[oid] = token_index
        if record is not None:
            record.order_id = oid
            record.status = "resting" if result.rested else ("executed" if result.remaining == 0 else "canceled")
            record.remaining = result.remaining if result.rested else 0
            self.orderlog.register(record)
        accts = self.accounts[venue]
        for trade, fee in zip(result.trades, self.taker_fees(venue, book_id, side, result.trades), strict=True):
            trade_id = self.new_id()
            sign = 1 if trade.taker_side is BookSide.BUY else -1
            taker = self._account(venue, trade.taker_account, 0)
            maker = accts.get(trade.maker_account) or self._account(venue, trade.maker_account, 0)
            pm = self.poly_markets.get(book_id) if venue == POLYMARKET else None
            if pm is None:  # Kalshi (one signed position per market)
                taker.apply(book_id, sign * trade.size, trade.price, fee, ts)
                maker.apply(book_id, -sign * trade.size, trade.price, 0, ts)
            else:  # each side gets or gives the token its own order named (a BUY of token 1 rests as a SELL of token 0)
                maker_index = self._poly_order_index.get(trade.maker_order_id, 0)
                for acct, index, engine_sign, acct_fee in ((taker, token_index, sign, fee), (maker, maker_index, -sign, 0)):
                    token_sign = engine_sign if index == 0 else -engine_sign
                    token_px = trade.price if index == 0 else ONE_DOLLAR - trade.price
                    acct.apply(pm.token_ids[index], token_sign * trade.size, token_px, acct_fee, ts)
            taker_rec = record if record is not None else self.orderlog.by_order_id.get(trade.taker_order_id)
            if taker_rec is not None:
                taker_rec.add_fill(FillRecord(trade_id, trade.price, trade.size, fee, True, ts))
            maker_rec = self.orderlog.by_order_id.get(trade.maker_order_id)
            if maker_rec is not None:
                maker_rec.add_fill(FillRecord(trade_id, trade.price, trade.size, 0, False, ts))
                maker_rec.remaining -= trade.size
                if maker_rec.remaining <= 0:
                    maker_rec.status = "executed"
                    self.orderlog.closed(maker_rec)
            self.last_trade[book_id] = (trade.price, ts)
            self.volume[book_id] = self.volume.get(book_id, 0) + trade.size
            for cb in self.trade_listeners:
                cb(venue, book_id, trade, trade_id, ts)
        if record is not None and not result.rested:
            self.orderlog.closed(record)
        return result

    def taker_fees(self, venue: str, book_id: str, side: BookSide, trades: Sequence[Trade]) -> list[int]:
        """The taker's fee of each trade of one order (its trades in execution order)."""
        fills = [(t.price, t.size) for t in trades]
        if not fills:
            return []
        order_fn = self.order_fee_fns.get(venue)
        if order_fn is not None:
            return order_fn(book_id, fills, side is BookSide.SELL)
        fee_fn = self.fee_fns[venue]
        return [fee_fn(book_id, price, size) for price, size in fills]

    def cancel(self, venue: str, book_id: str, order_id: str) -> int:
        """Cancel a resting order; returns the size cancelled (0 if it was not resting)."""
        cancelled = self.books(venue)[book_id].cancel(order_id)
        rec = self.orderlog.by_order_id.get(order_id)
        if rec is not None and cancelled:
            rec.remaining = 0
            rec.status = "canceled"
            rec.last_update_us = self.now_us()
            self.orderlog.closed(rec)
        return cancelled

    def cancel_all(self, venue: str, book_id: str) -> int:
        """Cancel every resting order of a book (a market that stopped trading); returns how many."""
        book = self.books(venue)[book_id]
        orders = book.resting_orders()
        for o in orders:
            if o.order_id in self.orderlog.by_order_id:
                self.cancel(venue, book_id, o.order_id)
            else:
                book.cancel(o.order_id)
        return len(orders)

    def set_book(self, venue: str, book_id: str, bids: list[tuple[int, int]], asks: list[tuple[int, int]]) -> None:
        """Replace a book's background liquidity with these levels (owned by the `admin` account).

        Orders of real accounts stay. The scenario stops requoting this book until `release_book`.
        """
        book = self.books(venue)[book_id]
        for o in book.resting_orders():
            if o.account in INTERNAL_ACCOUNTS:
                book.cancel(o.order_id)
        self.scenario.freeze(venue, book_id, owner="admin")
        for price, size in bids:
            self.place(venue, book_id, "admin", BookSide.BUY, price, size, TimeInForce.GTC)
        for price, size in asks:
            self.place(venue, book_id, "admin", BookSide.SELL, price, size, TimeInForce.GTC)

    # --- notifications -----------------------------------------------------------------------------

    def _level(self, venue: str, book_id: str, side: BookSide, price: int, total: int) -> None:
        key = (book_id, side, price)
        old = self._mirror.get(key, 0)
        if total:
            self._mirror[key] = total
        else:
            self._mirror.pop(key, None)
        delta = total - old
        if delta:
            self.level_changes += 1
            for cb in self.level_listeners:
                cb(venue, book_id, side, price, total, delta)

    # --- scenario driver ---------------------------------------------------------------------------

    def start_driver(self) -> None:
        if self._driver is None or self._driver.done():
            self._driver = asyncio.get_running_loop().create_task(self.scenario.run(), name="sim-scenario")

    async def stop_driver(self) -> None:
        task, self._driver = self._driver, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    @property
    def driver_running(self) -> bool:
        return self._driver is not None and not self._driver.done()


def parse_levels(levels: Any) -> list[tuple[int, int]]:
    """[["0.4500", "10.00"], ...] (dollar / contract strings) -> [(price, size)] in integer units."""
    out: list[tuple[int, int]] = []
    for lv in levels or []:
        price, size = lv
        out.append((parse_price(str(price)), parse_size(str(size))))
    return out
