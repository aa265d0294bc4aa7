"""Paper trading: the same executor loop, with orders filled by a model against the latest books.

A background reader keeps the latest Tick per market from `ticks`. An order walks the levels of the
instrument it trades (Kalshi NO is priced from the YES bids: NO ask = 1 - YES bid) while the price is
within its limit: partial fills happen, one fill per level. Fees come from the one fee module with the
book's parameters from `markets`, computed per order (Kalshi rounds each fill and its accumulator rebates
over the order's fills, core/fees.py). Modelled latency: a fixed delay, plus Polymarket's sports placement
delay (`seconds_delay`). Paper fills do not consume the book; a following order sees the same levels until
the next tick. Records go to the paper-prefixed topics: never mixed with live ones.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import replace

from confluent_kafka import OFFSET_END, TopicPartition

from core import codec
from core.fees import order_taker_fees
from core.kafka import make_consumer
from core.markets_cache import MarketsCache
from core.settings import KafkaSettings
from core.topics import partitions, topic_name
from core.units import ONE_DOLLAR, now_us
from executor.orders import LegResult, OrderRequest
from schemas.records import Action, BookRef, FeeParams, Side, Tick

_READ_UNCOMMITTED = {"isolation.level": "read_uncommitted"}
NO_FEE = FeeParams(model="NONE", rate_ppm=0, multiplier_ppm=1_000_000, exponent=1)


def instrument_levels(tick: Tick, side: Side, action: Action) -> list[tuple[int, int]]:
    """Levels an order of (side, action) can take, best first, on the instrument's own price scale."""
    if side == "YES":
        levels = tick.asks if action == "BUY" else tick.bids
        return [(lv.price, lv.size) for lv in levels]
    mirrored = tick.bids if action == "BUY" else tick.asks
    return [(ONE_DOLLAR - lv.price, lv.size) for lv in mirrored]


def paper_fill(tick: Tick | None, req: OrderRequest, fee_params: FeeParams) -> LegResult:
    if tick is None or tick.status != "OK":
        return LegResult("CANCELLED", reason="paper: no tradable book")
    filled = cost = 0
    trades: list[tuple[int, int]] = []
    for price, size in instrument_levels(tick, req.side, req.action):
        if (req.action == "BUY" and price > req.limit_price) or (req.action == "SELL" and price < req.limit_price):
            break
        take = min(size, req.size - filled)
        if take <= 0:
            break
        filled += take
        cost += price * take
        trades.append((price, take))
    # One order, one fee computation: Kalshi's rounding accumulator spans the order's fills (core/fees.py).
    fee = sum(order_taker_fees(fee_params, trades, sell=req.action == "SELL"))
    return LegResult("FILL" if filled else "CANCELLED", filled=filled, fill_cost=cost, fee=fee,
                     venue_order_id=f"paper-{req.client_order_id}", trades=tuple(trades))


class LatestTicks:
    """Latest Tick per market, from the end of `ticks` on (a tick is a full book state)."""

    def __init__(self, settings: KafkaSettings) -> None:
        self.settings = settings
        self.ticks: dict[str, Tick] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="paper-ticks", daemon=True)

    def start(self) -> LatestTicks:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        topic = topic_name("ticks", self.settings)
        consumer = make_consumer(self.settings, None, wait="follow", **_READ_UNCOMMITTED)  # `wait` named: mypy then matches no str to it
        try:
            consumer.assign([TopicPartition(topic, p, OFFSET_END) for p in range(partitions("ticks", self.settings))])
            while not self._stop.is_set():
                msg = consumer.poll(0.05)
                if msg is None or msg.error() or msg.value() is None:
                    continue
                try:
                    tick = codec.decode_record(msg.value() or b"", Tick)
                except codec.DecodeError:
                    continue
                self.ticks[tick.market] = tick
        finally:
            consumer.close()


class PaperTransport:
    def __init__(self, venue: str, ticks: LatestTicks, markets: MarketsCache, latency_ms: int = 0) -> None:
        self.venue = venue
        self.ticks = ticks
        self.markets = markets
        self.latency_s = latency_ms / 1000
        self.orders: dict[str, LegResult] = {}

    def _book(self, req: OrderRequest) -> BookRef | None:
        pairing = self.markets.get(req.game_id)
        for book in pairing.books if pairing is not None else []:
            if any(inst.market == req.market for inst in book.instruments):
                return book
        return None

    async def sign(self, req: OrderRequest) -> OrderRequest:
        return req

    async def submit(self, req: OrderRequest, deadline_s: float) -> LegResult:
        book = self._book(req)
        delay = self.latency_s + (book.seconds_delay if book else 0)
        sent = now_us()
        if delay:
            await asyncio.sleep(delay)
        res = paper_fill(self.ticks.ticks.get(req.market), req, book.fee if book else NO_FEE)
        res = replace(res, sent_ts=sent, acked_ts=now_us())
        self.orders[req.client_order_id] = res
        return res

    async def find(self, req: OrderRequest) -> LegResult | None:
        return self.orders.get(req.client_order_id)
