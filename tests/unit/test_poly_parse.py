"""Polymarket market-channel parsing: recorded fixtures, framing, control texts, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from venues.polymarket.messages import (
    BookEvent,
    LastTradePrice,
    OtherEvent,
    PriceChange,
    PriceChangeEvent,
    TickSizeChange,
    Unparsable,
)
from venues.polymarket.parse import ParseError, parse_decoded, parse_event, parse_frame

FIX = Path(__file__).parents[1] / "resources" / "polymarket"
ASSET = "71321045679252212594626385532706912750332728571942532289631379312455583992563"


def test_captured_book() -> None:
    pf = parse_frame((FIX / "ws_book_snapshot_captured.json").read_bytes())
    assert not pf.errors and len(pf.events) == 1
    ev = pf.events[0]
    assert isinstance(ev, BookEvent)
    assert len(ev.bids) == 7 and len(ev.asks) == 57
    assert ev.bids[0] == (100, 3149725_720000)  # "0.01" x "3149725.72" (sizes in 1e-6 shares)
    assert ev.tick_size == 100 and ev.timestamp_ms == 1786604072222


def test_price_change_fixture() -> None:
    pf = parse_frame((FIX / "ws_market_price_change_msg.json").read_text())
    assert pf.events == [PriceChangeEvent(market="0xdd22472e552920b8438158ea7238bfadfa4f736aa4cee91a6b86c39ead110917",
                                          timestamp_ms=1703875201000,
                                          changes=(PriceChange(ASSET, 5100, 150_000000, "BUY", 5100, 5200),))]


def test_tick_size_and_last_trade() -> None:
    [tick] = parse_frame((FIX / "ws_market_tick_size_msg.json").read_text()).events
    assert isinstance(tick, TickSizeChange) and (tick.old_tick_size, tick.new_tick_size) == (1000, 100)
    [trade] = parse_frame((FIX / "ws_market_last_trade_msg.json").read_text()).events
    assert isinstance(trade, LastTradePrice) and (trade.price, trade.size, trade.side) == (5100, 25_000000, "BUY")


def test_array_frame_with_unknown_event() -> None:
    pf = parse_frame((FIX / "ws_market_mixed_known_unknown.json").read_text())
    assert not pf.errors
    assert [type(e) for e in pf.events] == [PriceChangeEvent, OtherEvent, LastTradePrice]
    assert pf.events[1] == OtherEvent("settlement_preview", known=False)
    change = pf.events[0]
    assert isinstance(change, PriceChangeEvent) and change.changes[0].size == 12_500000  # "12.5"


def test_control_texts_ignored() -> None:
    for text in ("PONG", "NO NEW ASSETS", b"PONG"):
        pf = parse_frame(text)
        assert pf.control and not pf.events and not pf.errors


def test_leading_dot_price_and_no_ask_sentinel() -> None:
    pf = parse_decoded({"event_type": "price_change", "market": "m", "timestamp": "1", "price_changes": [
        {"asset_id": "a", "price": ".48", "size": "0", "side": "SELL", "best_bid": "0", "best_ask": "1"}]})
    assert not pf.errors
    ev = pf.events[0]
    assert isinstance(ev, PriceChangeEvent) and ev.changes[0].price == 4800 and ev.changes[0].best_ask == 10_000


def test_bad_events_counted_others_kept() -> None:
    good = {"event_type": "tick_size_change", "asset_id": "g", "market": "m", "new_tick_size": "0.001", "timestamp": "5"}
    bad = [  # each names its token: that book (only) must be rebuilt
        {"event_type": "price_change", "market": "m", "timestamp": "1", "price_changes": [
            {"asset_id": "a", "price": "0.5", "size": "-3", "side": "BUY"}]},
        {"event_type": "price_change", "market": "m", "timestamp": "1", "price_changes": [
            {"asset_id": "b", "price": "0.5", "size": "lots", "side": "BUY"}]},
        {"event_type": "price_change", "market": "m", "timestamp": "1", "price_changes": [
            {"asset_id": "c", "price": "0.5", "size": "3", "side": "bid"}]},
        {"event_type": "price_change", "market": "m", "timestamp": "x", "price_changes": [
            {"asset_id": "d", "price": "0.5", "size": "3", "side": "BUY"}]},
        {"event_type": "book", "asset_id": "e", "timestamp": "x", "bids": [], "asks": []},
        {"event_type": "book", "asset_id": "f", "timestamp": "1", "bids": [["0.5", "1"]], "asks": []},
        {"event_type": "tick_size_change", "asset_id": "h", "new_tick_size": "0", "timestamp": "1"},
    ]
    pf = parse_frame(json.dumps([good, *bad]))
    assert pf.readable and len(pf.errors) == len(bad)
    assert isinstance(pf.events[0], TickSizeChange) and pf.events[0].new_tick_size == 10
    lost = [a for ev in pf.events[1:] for u in (ev.unparsable if isinstance(ev, PriceChangeEvent) else [ev])
            if isinstance(u, Unparsable) for a in u.asset_ids]
    assert lost == ["a", "b", "c", "d", "e", "f", "h"]
    assert all(not ev.changes for ev in pf.events if isinstance(ev, PriceChangeEvent))


@pytest.mark.parametrize("event", [
    {"event_type": "price_change", "asset_id": "a", "changes": [], "timestamp": "1"},  # pre-2025-09 schema: whose?
    {"event_type": "price_change", "timestamp": "1", "price_changes": [{"price": "0.5", "size": "1", "side": "BUY"}]},
    {"event_type": "price_change", "timestamp": "1", "price_changes": [7]},
    {"event_type": "book", "timestamp": "1", "bids": [], "asks": []},
    {"event_type": "tick_size_change", "asset_id": 5, "new_tick_size": "0.01", "timestamp": "1"},
    {"no_type": 1},
    7,
])
def test_a_failure_whose_token_cannot_be_read_makes_the_frame_unreadable(event: object) -> None:
    """Any book may have been affected: the feed rebuilds them all (reconnect for a fresh dump)."""
    pf = parse_frame(json.dumps([event]))
    assert len(pf.errors) == 1 and not pf.readable and not pf.events


def test_a_bad_trade_print_affects_no_book() -> None:
    pf = parse_frame(json.dumps({"event_type": "last_trade_price", "asset_id": 5, "price": "2", "timestamp": "1"}))
    assert len(pf.errors) == 1 and pf.readable and not pf.events


def test_malformed_json() -> None:
    pf = parse_frame("{oops")
    assert not pf.events and len(pf.errors) == 1 and "malformed" in pf.errors[0]
    assert not pf.readable  # the feed re-syncs every book: what the frame carried is unknown


def test_a_bad_event_for_a_known_token_is_scoped_to_it() -> None:
    pf = parse_frame('[{"event_type": "book", "asset_id": "a"}]')
    assert pf.errors and pf.readable  # known to be that token's book: no reason to re-sync the others
    assert pf.events == [Unparsable(("a",), pf.errors[0])]


# --- issue 25 defect 8: sizes at the venue's 6 dp; a bad entry invalidates its book ---------------------------------

def test_price_change_size_with_six_decimals() -> None:
    """A real fill left 1.464786 shares (NautilusTrader data_api_trades_captured_response.json): its level shows it."""
    ev = parse_event(_change(size="1.464786"))
    assert isinstance(ev, PriceChangeEvent) and not ev.unparsable
    assert ev.changes[0].size == 1_464786


def test_book_snapshot_with_six_decimal_sizes() -> None:
    pf = parse_frame(json.dumps([_book(bids=[{"price": "0.48", "size": "1.464786"}, {"price": "0.5", "size": "0.000001"}],
                                       asks=[{"price": "0.52", "size": "3149725.720000"}])]))
    assert not pf.errors
    [ev] = pf.events
    assert isinstance(ev, BookEvent) and ev.bids == ((4800, 1_464786), (5000, 1)) and ev.asks == ((5200, 3149725_720000),)


@pytest.mark.parametrize("size", ["1.4647861", "0.0000001", "3.0000000001"])
def test_sizes_with_seven_decimals_are_rejected_never_rounded(size: str) -> None:
    pf = parse_frame(json.dumps([_change(size=size), _book(bids=[{"price": "0.5", "size": size}])]))
    assert len(pf.errors) == 2 and pf.readable and all("more than 6 decimal places" in e for e in pf.errors)
    change, book = pf.events
    assert isinstance(change, PriceChangeEvent) and not change.changes and change.unparsable[0].asset_ids == ("a",)
    assert book == Unparsable(("a",), pf.errors[1])
    assert parse_event(_change(size="1.4647860")).changes[0].size == 1_464786  # type: ignore[union-attr]  # zeros are fine


def test_one_malformed_entry_among_good_ones() -> None:
    """Before: the whole price_change was dropped while every book stayed OK. Now the good entries apply and the
    bad one's token is reported (its book is rebuilt)."""
    frame = {"event_type": "price_change", "market": "m", "timestamp": "7", "price_changes": [
        {"asset_id": "y", "price": "0.5", "size": "10", "side": "BUY", "best_bid": "0.5", "best_ask": "0.52"},
        {"asset_id": "n", "price": "0.5", "size": "many", "side": "SELL", "best_bid": "0.48", "best_ask": "0.5"},
        {"asset_id": "z", "price": "0.4", "size": "2.5", "side": "SELL"}]}
    pf = parse_frame(json.dumps(frame))
    assert pf.readable and len(pf.errors) == 1 and "price_changes[1]" in pf.errors[0]
    [ev] = pf.events
    assert isinstance(ev, PriceChangeEvent)
    assert [(c.asset_id, c.size) for c in ev.changes] == [("y", 10_000000), ("z", 2_500000)]
    assert ev.unparsable == (Unparsable(("n",), pf.errors[0]),)


def test_errors_are_bounded_in_length() -> None:
    pf = parse_frame(json.dumps(_change(asset_id="9" * 500, size="x" * 10_000)))
    assert len(pf.errors) == 1 and len(pf.errors[0]) < 300


# --- issue 27: bounds and parser escapes --------------------------------------------------------------------------

def _book(**kw: object) -> dict[str, object]:
    return {"event_type": "book", "asset_id": "a", "timestamp": "1", "bids": [{"price": "0.5", "size": "1"}], "asks": [], **kw}


def _change(**kw: object) -> dict[str, object]:
    entry = {"asset_id": "a", "price": "0.5", "size": "1", "side": "BUY", **kw}
    return {"event_type": "price_change", "timestamp": "1", "price_changes": [entry]}


@pytest.mark.parametrize("event", [
    _book(bids=[{"price": "0", "size": "1"}]),  # a level at 0 or at 1.0 is no price anyone trades at
    _book(asks=[{"price": "1.0", "size": "1"}]),
    _book(asks=[{"price": "1", "size": "1"}]),
    _change(price="0"),
    _change(price="1.00"),
    _book(bids=[{"price": "0.5", "size": str(10**25)}]),  # would not fit Avro's long
    _change(size=str(10**25)),
    _book(timestamp=str(10**17)),  # x1000 = venue_ts in µs: over int64
    _book(timestamp=10**17),
    _book(timestamp=-1),
    _book(timestamp="\u00b2"),  # isdigit() but int() refuses it
    _book(timestamp="1" * 5000),
    _book(bids=[{"price": "0.5", "size": "1" * 5000}]),  # int() refuses more than 4,300 digits
    _book(bids=[{"price": "0." + "5" * 5000, "size": "1"}]),
    _book(asset_id="\ud800"),  # a lone surrogate cannot be encoded
    _book(market=[[[]]]),
    _book(tick_size="1.5"),
    {"event_type": "tick_size_change", "asset_id": "a", "new_tick_size": "1", "timestamp": "1"},
])
def test_out_of_range_and_escaping_values_are_parse_errors(event: dict[str, object]) -> None:
    """Rejected: nothing of it applies, one error, and the token's book is reported for rebuilding (if readable)."""
    try:
        ev = parse_event(event)
    except ParseError:
        pass
    else:  # a price_change entry fails on its own
        assert isinstance(ev, PriceChangeEvent) and not ev.changes and len(ev.unparsable) == 1
    pf = parse_frame(json.dumps(event))
    assert len(pf.errors) == 1
    assert all(isinstance(e, Unparsable) or (isinstance(e, PriceChangeEvent) and not e.changes) for e in pf.events)


@pytest.mark.parametrize("raw", ["[" * 100_000 + "]" * 100_000, '{"event_type": "book", "x": ' + "[" * 100_000 + "]" * 100_000 + "}"])
def test_deeply_nested_json_is_an_unreadable_frame(raw: str) -> None:
    pf = parse_frame(raw)  # RecursionError inside json before
    assert not pf.events and pf.errors and not pf.readable


def test_best_bid_ask_may_still_be_0_and_1() -> None:
    """The venue reports an empty side's best price as 0 / 1 (book.py reads them so); only levels are bounded."""
    ev = parse_event(_change(best_bid="0", best_ask="1"))
    assert isinstance(ev, PriceChangeEvent) and ev.changes[0].best_bid == 0 and ev.changes[0].best_ask == 10_000


def test_largest_accepted_values_make_a_tick_that_encodes() -> None:
    from core import codec
    from core.units import format_fixed
    from producers.tick import build_tick
    from venues.polymarket.book import PolyBooks
    from venues.polymarket.parse import MAX_SIZE, MAX_TS_MS

    big = format_fixed(MAX_SIZE, 6)
    books = PolyBooks(auto_create=True)
    books.apply(parse_event(_book(timestamp=str(MAX_TS_MS), tick_size="0.9999",
                                  bids=[{"price": "0.0001", "size": big}], asks=[{"price": "0.9999", "size": big}])))
    book = books.books["a"]
    tick = build_tick(venue="POLYMARKET", market="a", game_id="g", book=book, depth=10, position=book.position, received_ts=1, produced_ts=1)
    assert codec.decode(codec.encode("Tick", tick), "Tick")["venue_ts"] == MAX_TS_MS * 1000
