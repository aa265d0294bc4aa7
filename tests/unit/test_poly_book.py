"""Polymarket books: replace, absolute price changes, crossing, tick size; recorded fixtures."""

from __future__ import annotations

from pathlib import Path

from venues.polymarket.book import PolyBook, PolyBooks
from venues.polymarket.messages import BookEvent, PriceChange, PriceChangeEvent, TickSizeChange
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
    assert bids == [(700, 18252855), (600, 21968567)]
    assert asks[0] == (800, 22819828)
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
    assert book.bids == {5100: 15000, 5000: 20000, 4900: 35000}
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
