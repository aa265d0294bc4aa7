"""Kalshi books: snapshot + signed deltas on both price scales, per-sid seq gaps, terminal errors."""

from __future__ import annotations

from pathlib import Path

from venues.kalshi.book import KalshiBook, KalshiBooks
from venues.kalshi.messages import Error, Ok, OrderbookDelta, OrderbookSnapshot, Other
from venues.kalshi.parse import parse_frame

FIX = Path(__file__).parents[1] / "resources" / "kalshi"
T = "KXBTC-25MAR15-B100000"


def _delta(seq: int, price: int, delta: int, side: str = "yes", ticker: str = T, sid: int = 1) -> OrderbookDelta:
    return OrderbookDelta(sid=sid, seq=seq, market_ticker=ticker, price=price, delta=delta, side=side,  # type: ignore[arg-type]
                          ts_ms=1_700_000_000_000, client_order_id=None)


def _snap(ticker: str, sid: int, seq: int, yes: tuple[tuple[int, int], ...] = ((4000, 100),),
          no: tuple[tuple[int, int], ...] = ((5000, 100),)) -> OrderbookSnapshot:
    return OrderbookSnapshot(sid=sid, seq=seq, market_ticker=ticker, market_id=None, yes=yes, no=no)


def test_fixture_snapshot_plus_delta_no_leg() -> None:
    books = KalshiBooks(yes_price=False, auto_create=True)
    for name in ("ws_orderbook_snapshot.json", "ws_orderbook_delta.json"):
        res = books.apply(parse_frame((FIX / name).read_text()))
        assert res.changed == [T] and not res.gap and res.error is None
    book = books.books[T]
    assert book.status == "OK"
    bids, asks = book.top(10)
    # YES bids: 0.42 had 13, +50 -> 63. NO bids 0.56 x17 / 0.54 x400 -> YES asks 0.44 x17 / 0.46 x400.
    assert bids == [(4200, 6300), (3500, 20000)]
    assert asks == [(4400, 1700), (4600, 40000)]


def test_yes_price_scale_gives_the_same_book() -> None:
    no_leg = KalshiBook("T")
    no_leg.apply_snapshot(_snap("T", 1, 1, no=((5400, 40000), (5600, 1700))), yes_price=False)
    yes = KalshiBook("T")
    yes.apply_snapshot(_snap("T", 1, 1, no=((4400, 1700), (4600, 40000))), yes_price=True)
    assert no_leg.top(5) == yes.top(5)
    no_leg.apply_delta(_delta(2, 5600, -1700, "no", "T"), yes_price=False)
    yes.apply_delta(_delta(2, 4400, -1700, "no", "T"), yes_price=True)
    assert no_leg.top(5) == yes.top(5) == ([(4000, 100)], [(4600, 40000)])


def test_delta_fractional_and_level_removal() -> None:
    b = KalshiBook("T")
    b.apply_snapshot(_snap("T", 1, 1, yes=((4000, 150),), no=()), yes_price=True)
    b.apply_delta(_delta(2, 4000, -125), yes_price=True)
    assert b.bids == {4000: 25}
    b.apply_delta(_delta(3, 4000, -25), yes_price=True)
    assert b.bids == {} and 4000 not in b.bids  # removed at exactly 0
    b.apply_delta(_delta(4, 4100, 1), yes_price=True)
    assert b.bids == {4100: 1}
    assert b.venue_ts_ms == 1_700_000_000_000 and (b.sid, b.seq) == (1, 4)


def test_negative_level_is_bad_input_and_resyncs_sid() -> None:
    books = KalshiBooks(yes_price=True)
    books.add("A"), books.add("B")
    books.apply(_snap("A", 1, 1))
    books.apply(_snap("B", 1, 2))
    res = books.apply(_delta(3, 4000, -101, ticker="A"))
    assert res.error is not None and "would become -1" in res.error  # reported as bad input
    assert res.resync == [1]
    assert books.books["A"].status == books.books["B"].status == "RESYNCING"
    assert books.books["A"].bids == {4000: 100}  # not applied


def test_gap_marks_every_book_of_the_sid_resyncing_until_snapshot() -> None:
    books = KalshiBooks(yes_price=True)
    for t in ("A", "B", "C"):
        books.add(t)
    books.apply(_snap("A", 1, 1))
    books.apply(_snap("B", 1, 2))
    books.apply(_snap("C", 2, 1))  # another subscription
    res = books.apply(_delta(4, 4000, 5, ticker="A"))  # seq 3 missing
    assert res.gap and res.resync == [1]
    assert sorted(res.changed) == ["A", "B"]
    assert books.books["A"].bids == {4000: 100}  # the delta after the gap is not applied
    assert [books.books[t].status for t in "ABC"] == ["RESYNCING", "RESYNCING", "OK"]
    # the get_snapshot ok reply takes a seq; then snapshots arrive
    assert not books.apply(Ok(id=9, sid=1, seq=5, market_tickers=("A", "B"))).gap
    assert not books.apply(_delta(6, 4000, 5, ticker="B")).changed  # superseded by the coming snapshot
    books.apply(_snap("A", 1, 7, yes=((4100, 300),)))
    assert books.books["A"].status == "OK" and books.books["B"].status == "RESYNCING"
    books.apply(_snap("B", 1, 8))
    assert books.books["B"].status == "OK"
    assert books.apply(_delta(9, 4100, -300, ticker="A")).changed == ["A"]
    assert books.books["A"].bids == {}


def test_ok_and_unknown_messages_with_seq_count_in_the_sequence() -> None:
    books = KalshiBooks(yes_price=True, auto_create=True)
    books.apply(_snap("A", 1, 1))
    assert not books.apply(Ok(id=1, sid=1, seq=2, market_tickers=())).gap
    res = books.apply(Other(type="mystery", sid=1, seq=3, known=False))
    assert res.error and not res.gap
    assert books.apply(_delta(5, 4000, 1, ticker="A")).gap  # 4 missing


def test_terminal_error_resubscribes_its_sid_only() -> None:
    books = KalshiBooks(yes_price=True)
    books.add("A"), books.add("B")
    books.apply(_snap("A", 1, 1))
    books.apply(_snap("B", 2, 1))
    res = books.apply(Error(id=None, sid=1, code=25, msg="buffer overflow"))
    assert res.resubscribe == ["A"] and res.changed == ["A"]
    assert books.books["A"].status == "RESYNCING" and books.books["B"].status == "OK"
    nonterminal = books.apply(Error(id=3, sid=None, code=6, msg="already subscribed"))
    assert nonterminal.error and not nonterminal.resubscribe


def test_unknown_ticker_counted_not_applied() -> None:
    books = KalshiBooks(yes_price=True)
    res = books.apply(_delta(1, 4000, 1, ticker="NOPE"))
    assert res.error and "NOPE" in res.error and books.books == {}
    assert books.apply(_snap("NOPE2", 1, 2)).error


def test_crossed_and_stale_status() -> None:
    b = KalshiBook("T")
    assert b.status == "RESYNCING"
    b.apply_snapshot(_snap("T", 1, 1, yes=((5000, 100),), no=((5000, 100),)), yes_price=False)  # ask 0.50 = bid
    assert b.status == "CROSSED"
    b.stale = True
    assert b.status == "STALE"
    books = KalshiBooks(yes_price=True, auto_create=True)
    books.apply(_snap("A", 1, 1))
    assert books.mark_stale() == ["A"] and books.books["A"].status == "STALE"
    books.apply(_delta(2, 4000, 1, ticker="A"))
    assert books.books["A"].status == "OK"
    assert books.invalidate_all() == ["A"] and books.books["A"].status == "RESYNCING"
