"""Matching engine, fee, account netting, catalogue and the Kalshi book rendering against recorded shapes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.fees import configured_precision
from core.units import parse_price, parse_size
from simulators.catalogue import KALSHI
from simulators.engine import BookSide, OrderBook, TimeInForce, Trade
from simulators.scenario import make_games
from simulators.settings import SimSettings
from simulators.world import Account, SimWorld

FIXTURES = Path(__file__).parents[1] / "resources"
BUY, SELL = BookSide.BUY, BookSide.SELL
GTC, IOC, FOK = TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK


def book_with_asks() -> OrderBook:
    b = OrderBook("T")
    b.submit("a1", "m1", SELL, 5000, 1000, GTC, 1)
    b.submit("a2", "m2", SELL, 5000, 500, GTC, 2)
    b.submit("a3", "m3", SELL, 5100, 700, GTC, 3)
    return b


def test_price_time_priority_and_maker_price() -> None:
    b = book_with_asks()
    r = b.submit("t1", "taker", BUY, 5100, 1200, IOC, 4)
    assert [(t.maker_order_id, t.price, t.size) for t in r.trades] == [("a1", 5000, 1000), ("a2", 5000, 200)]
    assert r.filled == 1200 and r.remaining == 0 and not r.rested
    assert b.asks() == [(5000, 300), (5100, 700)]
    assert b.order("a1") is None and b.order("a2").remaining == 300  # type: ignore[union-attr]


def test_ioc_against_thin_book_fills_partially_and_cancels_rest() -> None:
    b = book_with_asks()
    r = b.submit("t1", "taker", BUY, 5100, 3000, IOC, 4)
    assert r.filled == 2200 and r.remaining == 800 and not r.rested
    assert b.asks() == [] and b.bids() == []  # nothing of the IOC rests


def test_fok_is_all_or_nothing() -> None:
    b = book_with_asks()
    r = b.submit("f1", "taker", BUY, 5000, 1600, FOK, 4)
    assert r.filled == 0 and r.trades == [] and b.asks() == [(5000, 1500), (5100, 700)]
    r = b.submit("f2", "taker", BUY, 5100, 2200, FOK, 5)
    assert r.filled == 2200 and b.asks() == []


def test_gtc_rests_remainder_and_cancel() -> None:
    b = book_with_asks()
    r = b.submit("g1", "taker", BUY, 5000, 2000, GTC, 4)
    assert r.filled == 1500 and r.rested and b.bids() == [(5000, 500)]
    assert b.best_ask() == (5100, 700)
    assert b.cancel("g1") == 500 and b.cancel("g1") == 0 and b.bids() == []


def test_sell_side_matches_highest_bid_first() -> None:
    b = OrderBook("T")
    b.submit("b1", "m", BUY, 4000, 100, GTC, 1)
    b.submit("b2", "m", BUY, 4200, 100, GTC, 2)
    r = b.submit("s", "t", SELL, 3900, 150, IOC, 3)
    assert [(t.price, t.size) for t in r.trades] == [(4200, 100), (4000, 50)]
    assert b.bids() == [(4000, 50)]


def test_level_change_callbacks_report_new_totals() -> None:
    b = OrderBook("T")
    seen: list[tuple[str, BookSide, int, int]] = []
    b.on_level_change.append(lambda *a: seen.append(a))
    b.submit("a", "m", SELL, 5000, 100, GTC, 1)
    b.submit("b", "m", SELL, 5000, 50, GTC, 2)
    b.submit("t", "x", BUY, 5000, 120, IOC, 3)
    b.reduce("b", 10)
    assert seen == [("T", SELL, 5000, 100), ("T", SELL, 5000, 150), ("T", SELL, 5000, 30), ("T", SELL, 5000, 20)]


@pytest.mark.parametrize("price,size", [(0, 100), (10000, 100), (5050, 100), (5000, 0)])
def test_invalid_orders_raise(price: int, size: int) -> None:
    with pytest.raises(ValueError):
        OrderBook("T").submit("x", "a", BUY, price, size, GTC, 0)


def test_duplicate_resting_id_raises() -> None:
    b = OrderBook("T")
    b.submit("x", "a", BUY, 4000, 100, GTC, 0)
    with pytest.raises(ValueError):
        b.submit("x", "a", BUY, 4100, 100, GTC, 0)


def kalshi_fee(price: int, size: int, *, sell: bool = False) -> int:
    """The fee the simulator charges an order filled in one fill (world.order_fee_fns: core.fees.kalshi_order_fees)."""
    return SimWorld(SimSettings(games=0)).taker_fees(KALSHI, "T", BookSide.SELL if sell else BookSide.BUY, [_trade(price, size)])[0]


def kalshi_order_fee(fills: list[tuple[int, int]]) -> list[int]:
    return SimWorld(SimSettings(games=0)).taker_fees(KALSHI, "T", BookSide.BUY, [_trade(p, q) for p, q in fills])


def _trade(price: int, size: int) -> Trade:
    return Trade(price=price, size=size, maker_order_id="m", maker_account="mm", taker_order_id="t", taker_account="a", taker_side=BookSide.BUY)


def test_kalshi_fee_is_the_venue_rounding_of_a_non_direct_member(monkeypatch: pytest.MonkeyPatch) -> None:
    """One fill: trade fee ceiled to $0.000001, then the balance change to the member's $0.01 (core/fees.py)."""
    monkeypatch.delenv("ARB_KALSHI_MEMBER_TYPE", raising=False)
    configured_precision.cache_clear()
    try:
        assert kalshi_fee(5000, 100) == 20_000  # 0.07 * 0.5 * 0.5 = $0.0175; $0.50 + $0.0175 debited as $0.52
        assert kalshi_fee(5000, 10_000) == 1_750_000  # 100 contracts: $1.75, already on the cent
        assert kalshi_fee(4300, 100) == 20_000  # 0.07*0.43*0.57 = $0.017157 -> $0.02
        assert kalshi_fee(100, 100) == 10_000  # 0.07*0.01*0.99 = $0.000693 -> $0.01
        assert kalshi_fee(5000, 100, sell=True) == 20_000  # a seller's $0.4825 is credited as $0.48
        # one order in two fills: the order's accumulated rounding ($0.009307 + $0.008628) is rebated in whole
        # cents, so the order pays $0.01 in all, as one fill of 2 contracts would
        assert kalshi_order_fee([(100, 100), (200, 100)]) == [10_000, 0]
        assert kalshi_order_fee([(100, 100), (100, 100)]) == [10_000, 0] and kalshi_fee(100, 200) == 10_000
    finally:
        configured_precision.cache_clear()


def test_sim_charges_kalshi_fees_per_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ARB_KALSHI_MEMBER_TYPE", raising=False)
    configured_precision.cache_clear()
    try:
        w = SimWorld(SimSettings(games=1, updates_per_s=0, arb_rate_per_min=0))
        ticker = next(iter(w.kalshi_books))
        book = w.kalshi_books[ticker]
        for o in book.resting_orders():
            book.cancel(o.order_id)
        w.place(KALSHI, ticker, "mm", SELL, 100, 100, GTC)
        w.place(KALSHI, ticker, "mm", SELL, 200, 100, GTC)
        w.kalshi_account("taker", 10_000_000)
        rec = w.orderlog.new(KALSHI, "create", w.now_us(), "taker", {})
        w.place(KALSHI, ticker, "taker", BUY, 200, 200, IOC, record=rec)
        # per order: the second fill's rounding fee is rebated by the order's accumulator (per fill: $0.02)
        assert [f.fee for f in rec.fills] == [10_000, 0]
        assert w.kalshi_account("taker").positions[ticker].fees == 10_000
    finally:
        configured_precision.cache_clear()


def test_account_nets_yes_and_no() -> None:
    a = Account("u", "KALSHI", 1_000_000_000)
    a.apply("T", 1000, 4000, 0, 1)  # buy 10 YES at 0.40: pay $4
    assert a.balance == 1_000_000_000 - 4_000_000 and a.positions["T"].qty == 1000
    a.apply("T", -1500, 4500, 0, 2)  # sell 15 YES at 0.45: close 10 (+$4.50), buy 5 NO at 0.55 (-$2.75)
    pos = a.positions["T"]
    assert pos.qty == -500 and pos.realized == 500_000 and pos.cost == 2_750_000
    assert a.balance == 1_000_000_000 - 4_000_000 + 4_500_000 - 2_750_000
    a.apply("T", 500, 5000, 0, 3)  # buy 5 YES at 0.50 closes 5 NO at 0.50
    assert a.positions["T"].qty == 0 and a.positions["T"].cost == 0


def test_games_are_deterministic_and_real_shaped() -> None:
    g1 = make_games(7, 30, "20261129")
    g2 = make_games(7, 30, "20261129")
    assert [g.game_id for g in g1] == [g.game_id for g in g2]
    assert [g.game_id for g in make_games(8, 30, "20261129")] != [g.game_id for g in g1]
    assert len({g.game_id for g in g1}) == 30
    for g in g1:
        league, date, away, home = g.game_id.split("-")
        assert (league, away, home) == (g.league, g.away, g.home) and date == g.date
        assert g.kalshi_event.startswith(g.kalshi_series + "-") and g.kalshi_markets[g.home].endswith("-" + g.home.upper())
        assert ("draw" in g.kalshi_markets) == g.draw_possible
        for pm in g.poly_markets:
            assert pm.condition_id.startswith("0x") and len(pm.condition_id) == 66
            assert all(t.isdigit() and len(t) > 60 for t in pm.token_ids)
        assert len(g.poly_markets) == (3 if g.draw_possible else 1)
    nfl = next(g for g in make_games(1, 50, "20261129") if g.league == "nfl")
    assert nfl.kalshi_event.startswith("KXNFLGAME-26NOV")


def test_rest_orderbook_rendering_matches_recorded_shape() -> None:
    """Load the recorded REST book into the sim and render it back: NO-leg pricing, ascending, best last."""
    from simulators.kalshi.rest import levels_yes_no

    rec = json.loads((FIXTURES / "kalshi" / "http_orderbook.json").read_text())["orderbook_fp"]
    w = SimWorld(SimSettings(games=1, updates_per_s=0, arb_rate_per_min=0))
    ticker = next(iter(w.kalshi_books))
    bids = [(parse_price(p), parse_size(s)) for p, s in rec["yes_dollars"]]
    asks = [(10000 - parse_price(p), parse_size(s)) for p, s in rec["no_dollars"]]  # NO bid at q = YES ask at 1 - q
    w.set_book("KALSHI", ticker, bids, asks)
    yes, no = levels_yes_no(w, ticker, use_yes_price=False)
    assert yes == rec["yes_dollars"] and no == rec["no_dollars"]
    yes2, no2 = levels_yes_no(w, ticker, use_yes_price=True)
    assert yes2 == yes and no2 == [["0.4400", "17.00"], ["0.4600", "400.00"]]  # YES-scale asks, ascending
