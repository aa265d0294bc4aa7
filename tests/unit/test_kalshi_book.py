"""Kalshi books: snapshot + signed deltas on both price scales, per-sid seq gaps, terminal errors."""

from __future__ import annotations

from pathlib import Path

import pytest

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


@pytest.mark.parametrize(("code", "terminal"), [(10, True), (17, True), (25, True), (6, False), (16, False), (18, False)])
def test_the_terminal_error_codes_end_the_subscription(code: int, terminal: bool) -> None:
    """One list of terminal codes (constants.WS_TERMINAL_ERRORS, asyncapi.yaml; the simulator ends subscriptions by
    it too): a code the client missed would leave its books waiting for deltas of a subscription that has ended."""
    books = KalshiBooks(yes_price=True)
    books.add("A")
    books.apply(_snap("A", 1, 1))
    res = books.apply(Error(id=None, sid=1, code=code, msg="x"))
    assert (res.resubscribe == ["A"], books.books["A"].status) == ((True, "RESYNCING") if terminal else (False, "OK"))


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


# --- the seq rule under each reading the venue leaves open (issue 25, defect 6) ----------------------------------
# Readings: numbers continue across snapshots (TexasCoding/kalshi-python-sdk kalshi/ws/sequence.py, the docs' `ok`
# example with a seq) or restart at 1 on every snapshot (nautilus_trader crates/adapters/kalshi/src/websocket/
# handler.rs "Snapshots reset the sequence", fixtures: snapshot seq 1, delta seq 2); replies take the next number,
# repeat the last one, or carry none.

SEQ_MODES = ("continuous", "snapshot_reset")
REPLY_MODES = ("next", "current", "none")


class Venue:
    """The messages of one subscription as a venue following one reading numbers them, with the true books."""

    def __init__(self, seq_mode: str, reply_mode: str, sid: int = 1) -> None:
        self.seq_mode, self.reply_mode, self.sid = seq_mode, reply_mode, sid
        self.n = 0
        self.truth: dict[str, dict[int, int]] = {}  # ticker -> YES bids

    def snap(self, ticker: str) -> OrderbookSnapshot:
        self.n = 1 if self.seq_mode == "snapshot_reset" else self.n + 1
        levels = self.truth.setdefault(ticker, {4000: 100})
        return _snap(ticker, self.sid, self.n, yes=tuple(sorted(levels.items())), no=())

    def delta(self, ticker: str, price: int, size: int) -> OrderbookDelta:
        self.n += 1
        book = self.truth[ticker]
        book[price] = book.get(price, 0) + size
        if not book[price]:
            del book[price]
        return _delta(self.n, price, size, ticker=ticker, sid=self.sid)

    def ok(self, *tickers: str) -> Ok:
        if self.reply_mode == "next":
            self.n += 1
        return Ok(id=7, sid=self.sid, seq=None if self.reply_mode == "none" else self.n, market_tickers=tickers)


def _run(books: KalshiBooks, msgs: list[object]) -> int:
    """Apply messages; the number of gaps reported."""
    return sum(books.apply(m).gap for m in msgs)  # type: ignore[arg-type]


def _books_match(books: KalshiBooks, venue: Venue, tickers: str) -> bool:
    return all(books.books[t].status == "OK" and books.books[t].bids == venue.truth[t] for t in tickers)


@pytest.mark.parametrize("reply_mode", REPLY_MODES)
@pytest.mark.parametrize("seq_mode", SEQ_MODES)
def test_no_false_gap_under_any_reading(seq_mode: str, reply_mode: str) -> None:
    """Subscribe, add a market, delete one, re-snapshot: no reading makes a gap and the books are the venue's."""
    v = Venue(seq_mode, reply_mode)
    books = KalshiBooks(yes_price=True)
    for t in "ABC":
        books.add(t)
    assert _run(books, [v.snap("A"), v.snap("B"), v.delta("A", 4100, 5), v.delta("B", 4000, -40), v.delta("A", 4000, 7)]) == 0
    assert _run(books, [v.ok("A", "B", "C"), v.snap("C"), v.delta("B", 3900, 3), v.delta("C", 4200, 1)]) == 0  # add_markets C
    assert _run(books, [v.ok("A", "C"), v.delta("A", 4100, -5), v.delta("C", 4000, -100)]) == 0  # delete_markets B
    books.expect(["A", "C"])  # get_snapshot, answered with deltas in between
    assert _run(books, [v.ok("A", "C"), v.delta("C", 4300, 2), v.snap("A"), v.delta("A", 4400, 1), v.snap("C"),
                        v.delta("C", 4300, -2), v.delta("A", 4000, 1)]) == 0
    assert _books_match(books, v, "AC")


@pytest.mark.parametrize("reply_mode", REPLY_MODES)
@pytest.mark.parametrize("seq_mode", SEQ_MODES)
def test_a_lost_delta_is_one_gap_and_the_re_snapshot_ends_it(seq_mode: str, reply_mode: str) -> None:
    v = Venue(seq_mode, reply_mode)
    books = KalshiBooks(yes_price=True)
    books.add("A"), books.add("B")
    assert _run(books, [v.snap("A"), v.snap("B"), v.delta("A", 4100, 5)]) == 0
    v.delta("B", 4100, 9)  # lost
    res = books.apply(v.delta("A", 4000, -1))
    assert res.gap and res.resync == [1] and sorted(res.changed) == ["A", "B"]
    assert _run(books, [v.delta("B", 4000, 2)]) == 0  # the sequence goes on from the gap: one gap, one request
    books.expect(["A", "B"])
    assert _run(books, [v.ok("A", "B"), v.snap("A"), v.delta("A", 4000, 3), v.snap("B")]) == 0
    assert _run(books, [v.delta("B", 4100, -9), v.delta("A", 4000, -3)]) == 0  # and no false gap after the snapshots
    assert _books_match(books, v, "AB")


def test_snapshot_after_lost_messages_invalidates_the_other_books() -> None:
    """Continuous numbering: a snapshot numbered past the next says changes were lost, maybe of the sid's other
    books. The snapshot's own book is right; the others re-snapshot."""
    v = Venue("continuous", "next")
    books = KalshiBooks(yes_price=True)
    for t in "ABC":
        books.add(t)
    _run(books, [v.snap("A"), v.snap("B"), v.delta("A", 4100, 5), v.ok("A", "B", "C")])  # add_markets C...
    v.delta("B", 4100, 9)  # lost
    res = books.apply(v.snap("C"))
    assert res.gap and res.resync == [1] and sorted(res.changed) == ["A", "B", "C"]
    assert [books.books[t].status for t in "ABC"] == ["RESYNCING", "RESYNCING", "OK"]


def test_a_reply_number_that_is_not_in_the_sequence_is_ignored() -> None:
    books = KalshiBooks(yes_price=True)
    books.add("A")
    _run(books, [_snap("A", 1, 1), _delta(2, 4000, 1, ticker="A")])
    assert not books.apply(Ok(id=1, sid=1, seq=90, market_tickers=("A",))).gap  # counted apart: not a predecessor
    assert _run(books, [_delta(3, 4000, 1, ticker="A")]) == 0
    assert not books.apply(Ok(id=2, sid=1, seq=5, market_tickers=("A",))).gap  # 4 lost before the ok: shows next
    assert books.apply(_delta(6, 4000, 1, ticker="A")).gap


def test_hidden_reply_numbers_cannot_loop_re_snapshots() -> None:
    """A reading where the ok carries no seq yet uses a number: every get_snapshot answer starts one past the
    next. The books asked for are being re-snapshotted, so the jump asks for nothing more."""
    books = KalshiBooks(yes_price=True)
    books.add("A"), books.add("B")
    _run(books, [_snap("A", 1, 1), _snap("B", 1, 2), _delta(3, 4000, 1, ticker="A")])
    for round_start in (4, 8, 12):
        books.expect(["A", "B"])
        books.apply(Ok(id=round_start, sid=1, seq=None, market_tickers=("A", "B")))  # takes round_start, hidden
        first = books.apply(_snap("A", 1, round_start + 1))
        assert not first.resync and not first.gap
        assert not books.apply(_snap("B", 1, round_start + 2)).resync
        assert not books.apply(_delta(round_start + 3, 4000, 1, ticker="A")).gap
    assert books.books["A"].status == books.books["B"].status == "OK"
