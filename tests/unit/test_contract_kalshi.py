"""Contract test (issue 25): every recorded Kalshi payload in tests/resources/kalshi/ (see PROVENANCE.md) is replayed
through the code the feed and the executor run: WS frames through venues/kalshi/parse.py `parse_frame` and book.py
`KalshiBooks` (as producers/kalshi_feed.py uses them), REST answers through their readers. Every frame is accounted
for: a snapshot (the book then holds exactly its levels), a delta (the level moved by exactly its size), a reply to a
command, an explicitly listed type that carries nothing for a book, or reported (parse error / bad input) with its
reason. A file nobody accounts for, a type nobody listed, a false sequence gap, or a count that does not add up fails.

The recorded streams number their messages consecutively, so no reading of Kalshi's seq rule (the concurrent work on
book.py: continuous, or restarting at each snapshot) may see a gap in them."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from core.units import ONE_DOLLAR, parse_price, parse_size
from executor.kalshi_transport import result_from_order
from producers.discovery.kalshi_source import tick_size
from tests.conftest import FIXTURES
from venues.kalshi import parse as kparse
from venues.kalshi.book import KalshiBooks
from venues.kalshi.messages import Error, Ok, OrderbookDelta, OrderbookSnapshot, Other, Subscribed, Unsubscribed
from venues.kalshi.parse import ParseError, parse_frame, parse_message
from venues.kalshi.rest import parse_order, parse_order_ack

FIX = FIXTURES / "kalshi"
TESTS = Path(__file__).resolve().parent

# Types the parser keeps as `Other(known=True)`: none carries anything for an order book, each for its reason.
IGNORED = {
    "ticker": "top of book and volume: ours is rebuilt from orderbook_snapshot + orderbook_delta",
    "trade": "a print: the levels it took arrive as orderbook_delta",
    "fill": "private fills: the executor reads its orders over REST", "user_order": "private orders: read over REST",
    "user_orders": "private orders: read over REST", "market_positions": "positions are reconciled over REST",
    "market_lifecycle_v2": "market status comes from discovery", "multivariate_market_lifecycle": "combos are not traded",
    "event_lifecycle": "event status comes from discovery", "communications": "RFQs are not used",
    "order_group_updates": "order groups are not used", "event_fee_update": "fees come from discovery (series fee changes)",
    "list_subscriptions": "a reply to a command this client never sends", "cfbenchmarks_value": "index values, not books",
    "pyth_value": "index values, not books",
}

# WS frames (one JSON object per file, or JSONL), replayed in these streams (one KalshiBooks each, in order).
# Scale: the recorded NO levels are NO-leg prices (the default without use_yes_price; docs order_direction.md).
STREAMS: tuple[tuple[str, ...], ...] = (
    ("ws_orderbook_snapshot.json", "ws_orderbook_delta.json", "ws_trade.json"),
    ("ws_demo_capture.jsonl",),
)
REST = ("http_orderbook.json", "http_markets.json", "http_create_order_fill_demo.json", "http_create_order_ioc_demo.json")
CONSUMED_BY = {"http_order_filled_demo.json": "test_kalshi_fill_cost.py", "http_fills_demo.json": "test_kalshi_fill_cost.py",
               "rsa_test_private_key_pkcs8.b64": "test_kalshi_auth.py"}


@dataclass
class Tally:
    frames: int = 0
    snapshots: int = 0  # applied: the book holds exactly the snapshot's levels
    deltas: int = 0  # applied: the level moved by exactly the delta
    superseded: int = 0  # deltas to a book waiting for its snapshot: the snapshot will carry them
    replies: Counter[str] = field(default_factory=Counter)  # subscribed / ok / unsubscribed / terminal error
    ignored: Counter[str] = field(default_factory=Counter)
    reported: list[str] = field(default_factory=list)  # parse errors and bad input, with their reasons
    gaps: int = 0

    def check_adds_up(self) -> None:
        assert self.frames == (self.snapshots + self.deltas + self.superseded + sum(self.replies.values())
                               + sum(self.ignored.values()) + len(self.reported)), self


def book_levels(yes: list[list[str]] | None, no: list[list[str]] | None) -> tuple[dict[int, int], dict[int, int]]:
    """(YES bids, YES asks) of NO-leg-priced levels, converted here rather than by the book: a NO bid at q is a YES ask
    at 1 - q; repeated prices add up; zero sizes leave no level."""
    bids: Counter[int] = Counter()
    asks: Counter[int] = Counter()
    for p, s in yes or []:
        bids[parse_price(p)] += parse_size(s)
    for p, s in no or []:
        asks[ONE_DOLLAR - parse_price(p)] += parse_size(s)
    return {k: v for k, v in bids.items() if v}, {k: v for k, v in asks.items() if v}


def frames_of(name: str) -> list[str]:
    text = (FIX / name).read_text()
    return [line for line in text.splitlines() if line.strip()] if name.endswith(".jsonl") else [text]


def replay_frame(books: KalshiBooks, text: str, t: Tally) -> None:
    t.frames += 1
    try:
        msg = parse_frame(text)
    except ParseError as exc:
        t.reported.append(f"parse error: {exc}")
        return
    book = books.books.get(getattr(msg, "market_ticker", ""))
    before = (dict(book.bids), dict(book.asks), book.synced) if book is not None else ({}, {}, False)
    res = books.apply(msg)
    t.gaps += res.gap
    if res.error and not isinstance(msg, Error):
        t.reported.append(res.error)
        return
    if isinstance(msg, OrderbookSnapshot):
        raw = json.loads(text)["msg"]
        book = books.books[msg.market_ticker]
        assert book.synced and (book.bids, book.asks) == book_levels(raw.get("yes_dollars_fp"), raw.get("no_dollars_fp"))
        t.snapshots += 1
    elif isinstance(msg, OrderbookDelta):
        bids, asks, synced = before
        if not synced:
            t.superseded += 1
            return
        book = books.books[msg.market_ticker]
        side, key = (bids, msg.price) if msg.side == "yes" else (asks, ONE_DOLLAR - msg.price)
        now = book.bids if msg.side == "yes" else book.asks
        assert now.get(key, 0) == side.get(key, 0) + msg.delta
        assert {k: v for k, v in now.items() if k != key} == {k: v for k, v in side.items() if k != key}, "another level moved"
        t.deltas += 1
    elif isinstance(msg, Subscribed):
        assert res.subscribed == (msg.sid, msg.channel)
        t.replies["subscribed"] += 1
    elif isinstance(msg, (Ok, Unsubscribed)):
        assert res.reply is msg
        t.replies[type(msg).__name__.lower()] += 1
    elif isinstance(msg, Error):
        if msg.terminal:
            t.replies["terminal error"] += 1
        else:
            t.reported.append(res.error or f"error {msg.code}")
    elif isinstance(msg, Other) and msg.known:
        assert msg.type in IGNORED, f"{msg.type} is ignored but not listed"
        assert res.changed == []
        t.ignored[msg.type] += 1
    else:
        raise AssertionError(f"a frame nobody accounts for: {msg!r}")


def replay(stream: tuple[str, ...]) -> tuple[Tally, KalshiBooks]:
    books, t = KalshiBooks(yes_price=False, auto_create=True), Tally()
    for name in stream:
        for frame in frames_of(name):
            replay_frame(books, frame, t)
    t.check_adds_up()
    return t, books


def test_every_file_is_accounted_for() -> None:
    on_disk = {p.name for p in FIX.iterdir()}
    listed = [n for s in STREAMS for n in s] + list(REST) + list(CONSUMED_BY)
    assert len(listed) == len(set(listed)), "a file listed twice"
    assert on_disk == set(listed), f"unaccounted: {sorted(on_disk - set(listed))}; missing: {sorted(set(listed) - on_disk)}"
    for name, test in CONSUMED_BY.items():
        assert name in (TESTS / test).read_text(), f"{name} is not read by {test}"


def test_every_type_the_parser_ignores_is_listed_with_its_reason() -> None:
    assert set(kparse.KNOWN_OTHER_TYPES) == set(IGNORED)


def test_nt_stream_snapshot_delta_trade() -> None:
    t, books = replay(STREAMS[0])
    assert (t.frames, t.snapshots, t.deltas, t.superseded, dict(t.ignored), t.reported, t.gaps) == (3, 1, 1, 0, {"trade": 1}, [], 0)
    book = books.books["KXBTC-25MAR15-B100000"]
    assert book.status == "OK" and book.top(5) == ([(4200, 6300), (3500, 20000)], [(4400, 1700), (4600, 40000)])


def test_demo_capture_two_acks_and_an_empty_book() -> None:
    """Live demo frames: one `subscribed` per channel of one command, then a snapshot with neither side (an empty
    book is sent without `yes_dollars_fp` / `no_dollars_fp`): a synced, empty, OK book."""
    t, books = replay(STREAMS[1])
    assert (t.frames, t.snapshots, dict(t.replies), t.reported, t.gaps) == (3, 1, {"subscribed": 2}, [], 0)
    book = books.books["KXBTCD-26AUG2017-T73749.99"]
    assert book.status == "OK" and (book.bids, book.asks) == ({}, {})


def test_rest_orderbook_reads_as_a_snapshot() -> None:
    """GET /markets/{t}/orderbook has the WS snapshot's levels (docs getting_started/orderbook_responses.md),
    NO-leg priced (use_yes_price is a WS option): read by the WS parser as venues/kalshi/rest.py does."""
    raw = json.loads((FIX / "http_orderbook.json").read_text())["orderbook_fp"]
    msg = parse_message({"type": "orderbook_snapshot", "sid": 0, "seq": 0,
                         "msg": {"market_ticker": "T", "yes_dollars_fp": raw.get("yes_dollars"), "no_dollars_fp": raw.get("no_dollars")}})
    assert isinstance(msg, OrderbookSnapshot)
    books = KalshiBooks(yes_price=False, auto_create=True)
    assert books.apply(msg).error is None
    assert (books.books["T"].bids, books.books["T"].asks) == book_levels(raw.get("yes_dollars"), raw.get("no_dollars"))


def test_rest_markets_carry_what_discovery_reads() -> None:
    for m in json.loads((FIX / "http_markets.json").read_text())["markets"]:
        assert m["ticker"].startswith(m["event_ticker"]) and m["status"] in ("active", "initialized", "inactive", "closed",
                                                                             "determined", "disputed", "amended", "finalized")
        for k in ("yes_bid_dollars", "yes_ask_dollars", "no_bid_dollars", "no_ask_dollars"):
            parse_price(m[k])
        assert tick_size(m) == 100  # no price_ranges in this document-shaped answer: discovery's default, 0.01


@pytest.mark.parametrize(("name", "expect"), [
    # IOC bid of 1 at 0.56 on the demo exchange: filled at 0.56, fee 0.0173 a contract
    ("http_create_order_fill_demo.json", (100, 0, 560_000, 17_300)),
    # IOC that filled nothing: remaining 0 after its cancellation (the "zero" reading of the docs' IOC remaining_count)
    ("http_create_order_ioc_demo.json", (0, 0, 0, 0)),
])
def test_recorded_create_answers(name: str, expect: tuple[int, int, int, int]) -> None:
    ack = parse_order_ack(json.loads((FIX / name).read_text()), "YES")
    assert (ack.filled, ack.remaining, ack.fill_cost, ack.fee) == expect


def test_recorded_create_answer_and_order_lookup_agree() -> None:
    """The same demo order answered at creation and found later by lookup (GET /portfolio/orders/{id})."""
    ack = parse_order_ack(json.loads((FIX / "http_create_order_fill_demo.json").read_text()), "YES")
    found = result_from_order(parse_order(json.loads((FIX / "http_order_filled_demo.json").read_text())["order"]), "YES", "BUY")
    assert (found.venue_order_id, found.filled, found.fill_cost, found.fee) == (ack.order_id, ack.filled, ack.fill_cost, ack.fee)


def _frames_with_seq(stream: tuple[str, ...]) -> list[dict[str, Any]]:
    return [obj for name in stream for f in frames_of(name) if "seq" in (obj := json.loads(f))]


def test_recorded_streams_number_consecutively() -> None:
    """Why no seq reading may report a gap here: each sid's numbers run 1, 2, ... in the recordings."""
    for stream in STREAMS:
        by_sid: dict[int, list[int]] = {}
        for obj in _frames_with_seq(stream):
            by_sid.setdefault(obj["sid"], []).append(obj["seq"])
        assert all(seqs == list(range(1, len(seqs) + 1)) for seqs in by_sid.values()), by_sid
