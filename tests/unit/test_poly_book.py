"""Polymarket books: replace, absolute price changes, crossing, tick size; recorded fixtures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from core import codec
from producers.handoff import Handoff
from producers.polymarket_feed import PolymarketFeed
from producers.tick import build_tick
from venues.polymarket.book import PolyBook, PolyBooks
from venues.polymarket.messages import BookEvent, PriceChange, PriceChangeEvent, TickSizeChange, Unparsable
from venues.polymarket.parse import parse_frame

FIX = Path(__file__).parents[1] / "resources" / "polymarket"
ASSET = "71321045679252212594626385532706912750332728571942532289631379312455583992563"


def _apply_file(books: PolyBooks, name: str) -> list[str]:
    changed: list[str] = []
    pf = parse_frame((FIX / name).read_text())
    assert not pf.errors
    for ev in pf.events:
        res = books.apply(ev)
        changed += res.changed
    return changed


def test_captured_book_best_bid_ask_regardless_of_wire_order() -> None:
    books = PolyBooks(auto_create=True)
    _apply_file(books, "ws_book_snapshot_captured.json")
    [book] = books.books.values()
    # bids arrive ascending and asks descending (best last): the best are the max bid and the min ask.
    assert (book.best_bid, book.best_ask) == (700, 800)
    bids, asks = book.top(2)
    assert bids == [(700, 18252855), (600, 21968567)]  # the Tick's 1e-2: this capture has at most 2 dp
    assert asks[0] == (800, 22819828)
    assert book.top_exact(1) == ([(700, 182528_550000)], [(800, 228198_280000)])  # the book's own 1e-6
    assert book.status == "OK" and book.tick_size == 100
    assert len(book.bids) == 7 and len(book.asks) == 57


def test_book_then_price_change_fixture_is_a_transient_crossing() -> None:
    """The hand-made fixtures combined: a BUY at 0.51 meets the resting 0.51 ask. The entry's best_ask (0.52)
    already shows the post-match book; the 0.51 ask's removal would come in a later entry. Our book is CROSSED."""
    books = PolyBooks(auto_create=True)
    _apply_file(books, "ws_market_book_msg.json")
    assert books.books[ASSET].status == "OK"
    pf = parse_frame((FIX / "ws_market_price_change_msg.json").read_text())
    res = books.apply(pf.events[0])
    book = books.books[ASSET]
    assert res.changed == [ASSET]
    assert book.bids == {5100: 150_000000, 5000: 200_000000, 4900: 350_000000}
    assert book.status == "CROSSED"
    [d] = res.disagreements
    assert d.venue == (5100, 5200) and d.ours == (5100, 5100) and d.crossed
    # the removal arrives: uncrossed, agrees with the venue, OK again
    res2 = books.apply(PriceChangeEvent("m", 1703875201001, (PriceChange(ASSET, 5100, 0, "SELL", 5100, 5200),)))
    assert not res2.disagreements and book.status == "OK" and book.position == "1703875201001/0"


def test_each_entry_best_bid_ask_agrees_with_rebuilt_book() -> None:
    books = PolyBooks()
    books.add("Y"), books.add("N")
    books.apply(BookEvent("Y", "m", 1, bids=((4800, 100),), asks=((5200, 100),), tick_size=100))
    books.apply(BookEvent("N", "m", 1, bids=((4800, 100),), asks=((5200, 100),), tick_size=100))
    ev = PriceChangeEvent("m", 2, (
        PriceChange("Y", 5000, 200, "BUY", 5000, 5200),
        PriceChange("N", 5000, 200, "SELL", 4800, 5000),
        PriceChange("Y", 4800, 0, "BUY", 5000, 5200),
    ))
    res = books.apply(ev)
    assert res.disagreements == [] and res.changed == ["Y", "N"]
    assert books.books["Y"].bids == {5000: 200} and books.books["N"].asks == {5000: 200, 5200: 100}


def test_price_change_before_book_is_ignored_and_unknown_asset_counted() -> None:
    books = PolyBooks()
    books.add("A")
    res = books.apply(PriceChangeEvent("m", 1, (PriceChange("A", 5000, 100, "BUY", None, None),
                                                PriceChange("Z", 5000, 100, "BUY", None, None))))
    assert res.changed == [] and res.error is not None and "Z" in res.error
    assert books.books["A"].bids == {} and books.books["A"].status == "RESYNCING"


def test_tick_size_change_respected() -> None:
    books = PolyBooks(auto_create=True)
    _apply_file(books, "ws_market_book_msg.json")
    assert books.books[ASSET].tick_size == 0  # the hand-made book has no tick_size
    assert _apply_file(books, "ws_market_tick_size_msg.json") == [ASSET]
    assert books.books[ASSET].tick_size == 100
    assert books.apply(TickSizeChange(ASSET, "m", 100, 25, 5)).changed == [ASSET]
    assert books.books[ASSET].tick_size == 25  # 0.0025


def test_book_replaces_and_stale_lifecycle() -> None:
    b = PolyBook("a")
    b.replace(BookEvent("a", "m", 1, bids=((4000, 1), (4100, 0)), asks=((6000, 5),), tick_size=None))
    assert b.bids == {4000: 1} and b.asks == {6000: 5}
    b.replace(BookEvent("a", "m", 2, bids=(), asks=((5900, 5),), tick_size=10))
    assert b.bids == {} and b.asks == {5900: 5} and b.tick_size == 10
    books = PolyBooks()
    books.books["a"] = b
    assert books.mark_stale() == ["a"] and b.status == "STALE"
    books.apply(PriceChangeEvent("m", 3, (PriceChange("a", 5800, 1, "SELL", None, 5800),)))
    assert b.status == "OK"
    assert books.invalidate_all() == ["a"] and b.status == "RESYNCING"


def test_mixed_frame_unknown_event_counted() -> None:
    books = PolyBooks(auto_create=True)
    pf = parse_frame((FIX / "ws_market_mixed_known_unknown.json").read_text())
    errors = [r.error for r in map(books.apply, pf.events) if r.error]
    assert errors == ["unknown event type settlement_preview"]
    assert books.books["101"].status == "RESYNCING"  # a price_change without a prior book builds nothing


def test_positions_unique_when_frames_share_a_timestamp() -> None:
    books = PolyBooks(auto_create=True)
    books.apply(BookEvent("a", "m", 7, bids=((4000, 1),), asks=((6000, 1),), tick_size=100))
    seen = [books.books["a"].position]
    for size in (2, 3, 4):  # three frames, same venue timestamp
        books.apply(PriceChangeEvent("m", 7, (PriceChange("a", 4000, size, "BUY", 4000, 6000),)))
        seen.append(books.books["a"].position)
    books.apply(PriceChangeEvent("m", 8, (PriceChange("a", 4000, 5, "BUY", 4000, 6000),)))
    seen.append(books.books["a"].position)
    assert seen == ["7/0", "7/1", "7/2", "7/3", "8/0"]


# --- issue 25 defect 8: exact 1e-6 books, the Tick floored to 1e-2, unparsable entries invalidate their book --------

def test_tick_carries_sizes_floored_to_the_grid_and_leaves_dust_out() -> None:
    b = PolyBook("a")
    b.replace(BookEvent("a", "m", 9, bids=((4700, 5_000000), (4900, 9999), (4800, 1_464786)),
                        asks=((5300, 2_999999), (5200, 10000)), tick_size=100))
    # best bid / ask and crossing use the exact book: the 0.009999 bid at 0.49 is the best bid
    assert (b.best_bid, b.best_ask, b.status) == (4900, 5200, "OK")
    assert b.top(5) == ([(4800, 146), (4700, 500)], [(5200, 1), (5300, 299)])  # 1.464786 -> 1.46; 0.009999 left out
    assert b.top(1) == ([(4800, 146)], [(5200, 1)])  # depth counts the levels the Tick carries
    t = build_tick(venue="POLYMARKET", market="a", game_id="g", book=b, depth=10, position=b.position, received_ts=1, produced_ts=2)
    assert t["bids"] == [{"price": 4800, "size": 146}, {"price": 4700, "size": 500}]
    assert t["asks"] == [{"price": 5200, "size": 1}, {"price": 5300, "size": 299}]
    assert codec.decode(codec.encode("Tick", t), "Tick") == t


def _synced(*assets: str) -> PolyBooks:
    books = PolyBooks()
    for a in assets:
        books.add(a)
        books.apply(BookEvent(a, "m", 1, bids=((4800, 100_000000),), asks=((5200, 100_000000),), tick_size=100))
    return books


def test_an_unparsable_entry_invalidates_its_book_and_the_others_apply() -> None:
    books = _synced("Y", "N")
    bad = Unparsable(("N",), "price_changes[2] of 'N': size: 'many' is not a number")
    res = books.apply(PriceChangeEvent("m", 2, (PriceChange("Y", 5000, 3_000000, "BUY", 5000, 5200),
                                                PriceChange("N", 5000, 3_000000, "SELL", 4800, 5000)), (bad,)))
    assert res.changed == ["Y", "N"] and res.invalidated == ["N"]
    assert books.books["Y"].status == "OK" and books.books["Y"].bids == {5000: 3_000000, 4800: 100_000000}
    n = books.books["N"]
    assert n.status == "RESYNCING" and 5000 not in n.asks  # its entries of this event are not applied: it is rebuilt
    later = books.apply(PriceChangeEvent("m", 3, (PriceChange("N", 5100, 1_000000, "SELL", 4800, 5100),)))
    assert later.changed == [] and n.status == "RESYNCING"  # no base to apply changes to until the fresh book
    books.apply(BookEvent("N", "m", 4, bids=((4800, 1),), asks=((5000, 2),), tick_size=100))
    assert n.status == "OK" and n.asks == {5000: 2}


def test_an_unparsable_event_invalidates_its_known_books_only() -> None:
    books = _synced("A", "B")
    res = books.apply(Unparsable(("A", "Z"), "book: bad timestamp 'x'"))
    assert res.changed == ["A"] and res.invalidated == ["A"] and res.error is None  # Z is not ours
    assert books.books["A"].status == "RESYNCING" and books.books["B"].status == "OK"
    again = books.apply(Unparsable(("A",), "again"))
    assert again.changed == [] and again.invalidated == ["A"]  # already RESYNCING: no new tick, still to rebuild


def test_feed_frame_with_a_malformed_entry_emits_resyncing_at_once_and_applies_the_rest() -> None:
    """Before: the whole frame was dropped (parse error) and both books stayed OK."""
    handoff: Handoff[dict[str, Any]] = Handoff()
    feed = PolymarketFeed(url="ws://unused", markets={"Y": "g", "N": "g"}, handoff=handoff)
    for a in ("Y", "N"):
        feed._on_frame(json.dumps({"event_type": "book", "asset_id": a, "market": "m", "timestamp": "1",
                                   "bids": [{"price": "0.48", "size": "100"}], "asks": [{"price": "0.52", "size": "100"}]}), 1)
    while handoff.get_nowait() is not None:
        pass
    feed._on_frame(json.dumps({"event_type": "price_change", "market": "m", "timestamp": "2", "price_changes": [
        {"asset_id": "Y", "price": "0.5", "size": "1.464786", "side": "BUY", "best_bid": "0.5", "best_ask": "0.52"},
        {"asset_id": "N", "price": "0.5", "size": "1.4647861", "side": "SELL", "best_bid": "0.48", "best_ask": "0.5"}]}), 2)
    ticks = {}
    while (item := handoff.get_nowait()) is not None:
        ticks[item[1]["market"]] = item[1]
    assert ticks["Y"]["status"] == "OK" and ticks["Y"]["bids"][0] == {"price": 5000, "size": 146}
    assert ticks["N"]["status"] == "RESYNCING"
    assert feed.metrics.parse_errors == 1 and feed.books.books["N"].status == "RESYNCING"
    feed._on_frame(json.dumps({"event_type": "price_change", "market": "m", "timestamp": "3", "price_changes": [
        {"asset_id": 12, "price": "0.5", "size": "1", "side": "BUY"}]}), 3)
    assert feed._unreadable  # a token id that cannot be read: any book may be affected, reconnect for a fresh dump
