"""Tick building from both venues' books: top N, ordering, status, ids, timestamps; encodes with the Avro codec."""

from __future__ import annotations

from core.codec import decode, encode
from producers.tick import build_tick
from venues.kalshi.book import KalshiBook
from venues.kalshi.messages import OrderbookSnapshot
from venues.polymarket.book import PolyBook
from venues.polymarket.messages import BookEvent


def _kalshi() -> KalshiBook:
    b = KalshiBook("KXNFLGAME-26NOV29BUFKC-KC")
    b.apply_snapshot(OrderbookSnapshot(sid=3, seq=41, market_ticker=b.ticker, market_id=None,
                                       yes=((4000, 100), (4200, 250), (4100, 5)), no=((5500, 10), (5600, 20))),
                     yes_price=False)
    b.venue_ts_ms = 1_800_000_000_123
    return b


def test_kalshi_tick_top_n_best_first() -> None:
    t = build_tick(venue="KALSHI", market="KXNFLGAME-26NOV29BUFKC-KC", game_id="nfl-20261129-buf-kc", book=_kalshi(),
                   depth=2, position="3:41", received_ts=10, produced_ts=12)
    assert t["tick_id"] == "KALSHI:KXNFLGAME-26NOV29BUFKC-KC:3:41"
    assert t["bids"] == [{"price": 4200, "size": 250}, {"price": 4100, "size": 5}]
    assert t["asks"] == [{"price": 4400, "size": 20}, {"price": 4500, "size": 10}]
    assert t["status"] == "OK" and t["venue_ts"] == 1_800_000_000_123_000
    assert (t["received_ts"], t["produced_ts"], t["tick_size"]) == (10, 12, 0)
    assert decode(encode("Tick", t), "Tick") == t  # exactly the schema's fields and types


def test_status_ticks_get_distinct_ids_and_round_trip() -> None:
    b = _kalshi()
    b.synced = False
    t = build_tick(venue="KALSHI", market="M", game_id="g", book=b, depth=10, position="3:41", received_ts=1, produced_ts=2)
    assert t["status"] == "RESYNCING" and t["tick_id"] == "KALSHI:M:3:41:resyncing"
    assert decode(encode("Tick", t), "Tick")["status"] == "RESYNCING"


def test_polymarket_tick_crossed_and_tick_size() -> None:
    b = PolyBook("123")
    b.replace(BookEvent("123", "0xc", 1786604072222, bids=((5000, 10_000), (5100, 20_000)), asks=((5100, 30_000), (5300, 40_000)),
                        tick_size=25))  # Polymarket book sizes are 1e-6 shares; the Tick floors them to 1e-2
    t = build_tick(venue="POLYMARKET", market="123", game_id="g", book=b, depth=5, position=b.position,
                   received_ts=5, produced_ts=6)
    assert t["status"] == "CROSSED" and t["tick_id"] == "POLYMARKET:123:1786604072222/0"
    assert [lv["price"] for lv in t["bids"]] == [5100, 5000] and [lv["price"] for lv in t["asks"]] == [5100, 5300]
    assert t["tick_size"] == 25 and t["venue_ts"] == 1786604072222000
    assert decode(encode("Tick", t), "Tick") == t


def test_empty_book_and_unknown_venue_time() -> None:
    b = PolyBook("x")
    t = build_tick(venue="POLYMARKET", market="x", game_id="g", book=b, depth=3, position="0/0", received_ts=1, produced_ts=1)
    assert t["bids"] == [] and t["asks"] == [] and t["venue_ts"] is None and t["status"] == "RESYNCING"
