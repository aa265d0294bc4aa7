"""Contract test (issue 25): every recorded Polymarket payload in tests/resources/polymarket/ (see PROVENANCE.md)
is replayed through the code the feed runs (venues/polymarket/parse.py `parse_frame`, book.py `PolyBooks`), and every
event and every `price_changes[]` entry is accounted for: applied to a book (which then holds exactly the payload's
levels), an explained no-op, an explicitly listed type that carries nothing for a book, or reported (parse error /
bad input) with its reason. A file nobody accounts for, an event type nobody listed, or a count that does not add up
fails the test: nothing is dropped silently.

Written to hold before and after the concurrent parser work (sizes at 6 dp, `Unparsable` events): sizes are compared
at the parser's own precision (`messages.SIZE_DP` when it exists, else core.units.SIZE_DP), and the two places where
the expected outcome differs are marked DEPENDS."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from core import units
from core.units import parse_fixed, parse_price
from tests.conftest import FIXTURES
from venues.polymarket import messages
from venues.polymarket.book import PolyBooks
from venues.polymarket.messages import BookEvent, LastTradePrice, OtherEvent, PriceChangeEvent, TickSizeChange
from venues.polymarket.parse import parse_decoded, parse_event, parse_frame

FIX = FIXTURES / "polymarket"
TESTS = Path(__file__).resolve().parent
SIZE_DP: int = getattr(messages, "SIZE_DP", units.SIZE_DP)  # DEPENDS: 6 with the 6-dp parser, 2 before it

# Event types that carry nothing for a book, each with the reason; anything else must change a book or be reported.
IGNORED = {
    "last_trade_price": "a trade print: the levels it took arrive as price_change",
    "best_bid_ask": "the venue's top of book: ours is rebuilt from book + price_change",
    "new_market": "a listing: markets come from discovery",
    "market_resolved": "a resolution: settlement is read from the venue's REST answers",
}

# Market-channel frames, replayed in these streams (one PolyBooks each, in order).
STREAMS: tuple[tuple[str, ...], ...] = (
    ("ws_book_snapshot_captured.json",),
    ("ws_market_price_change_crossing_burst.json",),
    ("ws_market_book_msg.json", "ws_market_price_change_msg.json", "ws_market_tick_size_msg.json", "ws_market_last_trade_msg.json"),
    ("ws_market_mixed_known_unknown.json",),
    ("ws_market_best_bid_ask_msg.json",), ("ws_market_new_market_msg.json",), ("ws_market_resolved_msg.json",),
    ("ws_book_2024.json", "ws_price_change_old_schema_2024.json"),
    ("ws_last_trade_price_2024.json",), ("ws_price_change_v2_2024.json",), ("ws_tick_size_change_2024.json",),
)
REST_BOOKS = ("clob_book_response_empty_ask.json", "clob_book_response_2024.json")  # GET /book: a `book` without event_type
# Not market-channel payloads: each is read by the named test (checked below), or is a note / reference.
CONSUMED_BY = {
    "http_order_response_ok.json": "test_poly_rest.py", "http_order_response_failed.json": "test_poly_rest.py",
    "http_order_response_async_exec.json": "test_poly_rest.py", "http_open_order.json": "test_order_answers.py",
    "data_api_positions_response.json": "test_poly_positions.py", "gamma_market_sports_market_money_line.json": "test_discovery.py",
    "gamma_event_sports_composite_game_id.json": "test_discovery.py", "gamma_market_fee_sports.json": "test_discovery_fees.py",
    "signing_vectors_py_clob_client_v2.json": "test_poly_signing.py",
}
NOTES = {"clob_book_response_empty_ask.source.md": "upstream capture note of clob_book_response_empty_ask.json",
         "data_api_trades_captured_response.json": "Data API trades (no parser here): the 6-dp share size, checked below"}


@dataclass
class Tally:
    events: int = 0  # JSON objects in the frames
    entries: int = 0  # price_changes[] entries in them
    books: int = 0  # `book` events applied
    price_changes: int = 0  # price_change events parsed (their entries are counted one by one)
    applied: int = 0  # entries applied to a book that had a base (its level now equals the entry)
    no_base: int = 0  # entries for a token with no `book` yet: nothing to set a level on; its `book` will come
    ticks: int = 0  # tick_size_change applied (the book's tick now equals it)
    ignored: Counter[str] = field(default_factory=Counter)  # listed IGNORED types, by type
    failed_events: int = 0  # events that did not parse at all (reported)
    failed_entries: int = 0  # entries that did not parse (reported, alone or with their event)
    reported: list[str] = field(default_factory=list)  # every parse error and bad input, with its reason
    disagreements: int = 0  # entries whose best bid / ask differs from the rebuilt book (expected while crossed)
    statuses: set[str] = field(default_factory=set)  # book statuses seen after each event

    def check_adds_up(self) -> None:
        assert self.events == self.books + self.price_changes + self.ticks + sum(self.ignored.values()) + self.failed_events, self
        assert self.entries == self.applied + self.no_base + self.failed_entries, self


def levels(raw: list[dict[str, Any]] | None) -> dict[int, int]:
    """The payload's levels, converted here rather than by the parser: {price: size}, zero sizes dropped."""
    out = {parse_price(str(lv["price"])): parse_fixed(str(lv["size"]), SIZE_DP) for lv in raw or []}
    return {p: s for p, s in out.items() if s}


def _apply_event(books: PolyBooks, item: dict[str, Any], ev: Any, t: Tally) -> None:
    if isinstance(ev, BookEvent):
        res = books.apply(ev)
        book = books.books[ev.asset_id]
        assert res.error is None and book.synced
        assert (book.bids, book.asks) == (levels(item.get("bids")), levels(item.get("asks"))), "book differs from the payload"
        t.books += 1
    elif isinstance(ev, PriceChangeEvent):
        raw = item["price_changes"]
        bad = getattr(ev, "unparsable", ())  # DEPENDS: entries that fail alone exist with the per-entry parser only
        assert len(ev.changes) + len(bad) == len(raw), "an entry vanished"
        lost = {a for u in bad for a in u.asset_ids}
        based = {ch.asset_id: (b := books.books.get(ch.asset_id)) is not None and b.synced and ch.asset_id not in lost for ch in ev.changes}
        res = books.apply(ev)
        assert res.error is None  # every token is known here (auto_create)
        last: dict[tuple[str, str, int], int] = {}
        for ch in ev.changes:
            t.applied += based[ch.asset_id]
            t.no_base += not based[ch.asset_id]
            last[(ch.asset_id, ch.side, ch.price)] = ch.size
        for (asset, side, price), size in last.items():  # each applied level now holds the entry's absolute size
            if based[asset]:
                book = books.books[asset]
                assert (book.bids if side == "BUY" else book.asks).get(price, 0) == size
        t.price_changes += 1
        t.failed_entries += len(bad)
        t.disagreements += len(res.disagreements)
    elif isinstance(ev, TickSizeChange):
        books.apply(ev)
        assert books.books[ev.asset_id].tick_size == ev.new_tick_size
        t.ticks += 1
    elif isinstance(ev, LastTradePrice) or (isinstance(ev, OtherEvent) and ev.known):
        kind = "last_trade_price" if isinstance(ev, LastTradePrice) else ev.event_type
        assert kind in IGNORED, f"{kind} is ignored but not listed"
        assert books.apply(ev).changed == []
        t.ignored[kind] += 1
    elif isinstance(ev, OtherEvent):
        res = books.apply(ev)
        assert res.error, f"unknown event type {ev.event_type} not reported"
        t.reported.append(res.error)
        t.failed_events += 1
    else:
        raise AssertionError(f"an event nobody accounts for: {type(ev).__name__}")


def replay_frame(books: PolyBooks, text: str, t: Tally) -> None:
    """One recorded frame, as the feed reads it (parse_frame), accounted for one JSON object at a time."""
    whole = parse_frame(text)
    obj = json.loads(text)
    items = obj if isinstance(obj, list) else [obj]
    per_item = [parse_decoded(item) for item in items]
    assert [e for p in per_item for e in p.events] == whole.events and [e for p in per_item for e in p.errors] == whole.errors
    for item, pf in zip(items, per_item, strict=True):
        t.events += 1
        t.entries += len(item.get("price_changes") or []) if item.get("event_type") == "price_change" else 0
        t.reported += pf.errors
        parsed = [e for e in pf.events if type(e).__name__ != "Unparsable"]
        for u in pf.events:  # DEPENDS: tokens whose event failed go RESYNCING with the per-entry parser
            if type(u).__name__ == "Unparsable":
                books.apply(u)
        if not parsed:
            assert pf.errors, f"an event dropped silently: {item}"
            t.failed_events += 1
            t.failed_entries += len(item.get("price_changes") or []) if isinstance(item.get("price_changes"), list) else 0
            continue
        [ev] = parsed
        _apply_event(books, item, ev, t)
        t.statuses.update(b.status for b in books.books.values())
    if not whole.readable:  # the feed reconnects for a fresh book of every token
        books.invalidate_all()


def replay(stream: tuple[str, ...]) -> tuple[Tally, PolyBooks]:
    books, t = PolyBooks(auto_create=True), Tally()
    for name in stream:
        replay_frame(books, (FIX / name).read_text(), t)
    t.check_adds_up()
    return t, books


def test_every_file_is_accounted_for() -> None:
    on_disk = {p.name for p in FIX.iterdir()}
    listed = [n for s in STREAMS for n in s] + list(REST_BOOKS) + list(CONSUMED_BY) + list(NOTES)
    assert len(listed) == len(set(listed)), "a file listed twice"
    assert on_disk == set(listed), f"unaccounted: {sorted(on_disk - set(listed))}; missing: {sorted(set(listed) - on_disk)}"
    for name, test in CONSUMED_BY.items():
        assert name in (TESTS / test).read_text(), f"{name} is not read by {test}"


def _summary(t: Tally) -> dict[str, Any]:
    return {"events": t.events, "entries": t.entries, "books": t.books, "applied": t.applied, "no_base": t.no_base, "ticks": t.ticks,
            "ignored": dict(t.ignored), "failed_events": t.failed_events, "failed_entries": t.failed_entries}


EXPECTED: dict[tuple[str, ...], dict[str, Any]] = {
    STREAMS[0]: {"events": 1, "entries": 0, "books": 1, "applied": 0, "no_base": 0, "ticks": 0, "ignored": {}, "failed_events": 0, "failed_entries": 0},
    # 1 book + 49 price_change frames of 2 entries (both tokens) + the closing book; the NO token never had a book
    STREAMS[1]: {"events": 51, "entries": 98, "books": 2, "applied": 49, "no_base": 49, "ticks": 0, "ignored": {}, "failed_events": 0, "failed_entries": 0},
    STREAMS[2]: {"events": 4, "entries": 1, "books": 1, "applied": 1, "no_base": 0, "ticks": 1, "ignored": {"last_trade_price": 1},
                 "failed_events": 0, "failed_entries": 0},
    # a price_change for a token without a book, an unknown type (reported), a trade print
    STREAMS[3]: {"events": 3, "entries": 1, "books": 0, "applied": 0, "no_base": 1, "ticks": 0, "ignored": {"last_trade_price": 1},
                 "failed_events": 1, "failed_entries": 0},
    STREAMS[4]: {"events": 1, "entries": 0, "books": 0, "applied": 0, "no_base": 0, "ticks": 0, "ignored": {"best_bid_ask": 1}, "failed_events": 0, "failed_entries": 0},
    STREAMS[5]: {"events": 1, "entries": 0, "books": 0, "applied": 0, "no_base": 0, "ticks": 0, "ignored": {"new_market": 1}, "failed_events": 0, "failed_entries": 0},
    STREAMS[6]: {"events": 1, "entries": 0, "books": 0, "applied": 0, "no_base": 0, "ticks": 0, "ignored": {"market_resolved": 1}, "failed_events": 0, "failed_entries": 0},
    # the 2024 (pre-2025-09) price_change has no price_changes[]: reported, never half-read
    STREAMS[7]: {"events": 2, "entries": 0, "books": 1, "applied": 0, "no_base": 0, "ticks": 0, "ignored": {}, "failed_events": 1, "failed_entries": 0},
    STREAMS[8]: {"events": 1, "entries": 0, "books": 0, "applied": 0, "no_base": 0, "ticks": 0, "ignored": {"last_trade_price": 1}, "failed_events": 0, "failed_entries": 0},
    STREAMS[9]: {"events": 1, "entries": 3, "books": 0, "applied": 0, "no_base": 3, "ticks": 0, "ignored": {}, "failed_events": 0, "failed_entries": 0},
    STREAMS[10]: {"events": 1, "entries": 0, "books": 0, "applied": 0, "no_base": 0, "ticks": 1, "ignored": {}, "failed_events": 0, "failed_entries": 0},
}
REASONS = {STREAMS[3]: ["unknown event type settlement_preview"], STREAMS[7]: ["old schema"]}


@pytest.mark.parametrize("stream", STREAMS, ids=lambda s: s[0].removesuffix(".json"))
def test_recorded_stream_is_fully_accounted_for(stream: tuple[str, ...]) -> None:
    t, _ = replay(stream)
    assert _summary(t) == EXPECTED[stream]
    want = REASONS.get(stream, [])
    assert len(t.reported) == len(want) and all(w in r for w, r in zip(want, t.reported, strict=True)), t.reported


def test_captured_burst_rebuilds_the_venues_next_book_exactly() -> None:
    """The live burst (NautilusTrader, ~2026-09): a book, 49 price_change frames on both tokens, then the venue's own
    book of the YES token at the last change's timestamp. Rebuilt from the first book and the changes, our book equals
    that final book level for level; it was CROSSED on the way (a crossing's removals arrive in later frames) and is
    OK at the end."""
    raw = json.loads((FIX / "ws_market_price_change_crossing_burst.json").read_text())
    books, t = PolyBooks(auto_create=True), Tally()
    for item in raw[:-1]:
        replay_frame(books, json.dumps(item), t)
    final = raw[-1]
    book = books.books[final["asset_id"]]
    assert (book.bids, book.asks) == (levels(final["bids"]), levels(final["asks"]))
    assert "CROSSED" in t.statuses and book.status == "OK"
    assert book.position == f"{final['timestamp']}/2"  # three frames share the last timestamp: positions 0, 1, 2
    assert t.disagreements > 0
    other = next(a for a in books.books if a != final["asset_id"])
    assert books.books[other].status == "RESYNCING"  # entries for the NO token had no base: it waits for its book


@pytest.mark.parametrize("name", REST_BOOKS)
def test_rest_book_answers_read_as_books(name: str) -> None:
    """GET /book answers have the `book` event's fields without event_type (venues/polymarket/rest.py reads them so)."""
    data = json.loads((FIX / name).read_text())
    ev = parse_event({**data, "event_type": "book"})
    assert isinstance(ev, BookEvent)
    books = PolyBooks(auto_create=True)
    books.apply(ev)
    book = books.books[data["asset_id"]]
    assert (book.bids, book.asks) == (levels(data["bids"]), levels(data["asks"]))
    assert book.status == "OK"


def test_captured_trade_sizes_need_six_decimals() -> None:
    """Why sizes are parsed at 6 dp (the concurrent parser work): a live trade of 1.464786 shares."""
    trades = json.loads((FIX / "data_api_trades_captured_response.json").read_text())["data"]
    sizes = [str(t["size"]) for t in trades]
    assert "1.464786" in sizes and all(parse_fixed(s, 6) > 0 for s in sizes)
