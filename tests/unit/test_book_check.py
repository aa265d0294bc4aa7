"""Issue 25, defect 7: a quiet book is checked against the venue's REST book, not declared dead.

The pure schedule (what is due, what an answer means), the comparison, the checker's handling of failures,
and the REST readers: Kalshi `GET /markets/{t}/orderbook` (docs api-reference/market/get-market-orderbook.md:
`orderbook_fp` with `yes_dollars` / `no_dollars`, `[price, count]` strings, NO bids at NO-leg prices, `depth`
0 = all levels) and Polymarket `GET /book?token_id=` (docs api-reference/market-data/get-order-book.md: the
`book` event's fields without `event_type`, public)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from producers.book_check import BookChecker, BookCheckSchedule, Sides, Verdict, differs, top
from producers.feed_metrics import FeedMetrics
from producers.kalshi_feed import rest_books as kalshi_rest_books
from producers.polymarket_feed import rest_books as poly_rest_books
from venues import errors
from venues.kalshi.rest import KalshiRest
from venues.polymarket.rest import PolymarketBookApi

QUIET, CONFIRM = 10.0, 2.0
BOOK: Sides = ({4500: 100, 4400: 50}, {4700: 30, 4800: 10})


def everything(_key: str) -> bool:
    return True


def schedule(*keys: str, at: float = 0.0) -> BookCheckSchedule:
    s = BookCheckSchedule(QUIET, CONFIRM)
    for k in keys:
        s.changed(k, at)
    return s


# --- comparison --------------------------------------------------------------------------------------

def test_top_is_best_first_on_both_sides() -> None:
    assert top(BOOK, 1) == ([(4500, 100)], [(4700, 30)])
    assert top(BOOK, 5) == ([(4500, 100), (4400, 50)], [(4700, 30), (4800, 10)])


def test_differs_compares_the_top_levels_of_both_sides() -> None:
    assert not differs(BOOK, ({4400: 50, 4500: 100}, {4800: 10, 4700: 30}), 10)
    assert differs(BOOK, ({4500: 99, 4400: 50}, BOOK[1]), 10)  # a size
    assert differs(BOOK, (BOOK[0], {4700: 30}), 10)  # a missing ask level
    assert differs(BOOK, ({}, BOOK[1]), 10)  # an empty side
    # below the published depth the books may differ (the Tick does not carry it)
    assert not differs(BOOK, ({4500: 100, 4400: 7}, {4700: 30}), 1)


# --- schedule ----------------------------------------------------------------------------------------

def test_a_book_is_due_only_after_quiet_s_without_a_change() -> None:
    s = schedule("a")
    assert s.next_due(QUIET - 0.1, everything) is None
    assert s.next_due(QUIET, everything) == "a"
    s.changed("a", 5.0)  # a change on the socket restarts the quiet period
    assert s.next_due(QUIET, everything) is None
    assert s.next_due(5.0 + QUIET, everything) == "a"


def test_unknown_and_ineligible_books_are_never_due() -> None:
    s = schedule("a")
    assert s.next_due(100.0, lambda k: False) is None  # RESYNCING: waits for its snapshot
    s.forget("a")
    assert "a" not in s and s.next_due(100.0, everything) is None
    s.urgent("b")  # never seen: nothing to check
    assert s.next_due(100.0, everything) is None


def test_the_book_checked_longest_ago_goes_first_and_a_quiet_book_is_checked_again_every_quiet_s() -> None:
    s = schedule("a", "b", "c")
    for key, when in (("a", 12.0), ("b", 11.0), ("c", 13.0)):
        assert s.answered(key, s.sent(key), False, when) is Verdict.SAME
    assert s.next_due(20.0, everything) is None  # every book checked less than quiet_s ago
    assert s.next_due(21.0, everything) == "b"
    assert s.next_due(23.0, everything) == "b"  # oldest-checked first, not by name
    assert s.answered("b", s.sent("b"), False, 23.0) is Verdict.SAME
    assert s.next_due(23.0, everything) == "a"


def test_a_request_in_flight_is_not_sent_twice() -> None:
    s = schedule("a")
    s.sent("a")
    assert s.next_due(100.0, everything) is None


def test_urgent_goes_first_even_if_the_book_just_changed() -> None:
    s = schedule("a", "b")
    s.changed("b", 50.0)
    s.urgent("b")
    assert s.next_due(50.0, everything) == "b"  # before "a", quiet and due too
    s.answered("b", s.sent("b"), False, 50.1)
    assert s.next_due(50.1, everything) == "a"  # urgency is spent by sending


def test_a_difference_is_stale_only_when_confirmed_without_a_socket_change() -> None:
    s = schedule("a")
    assert s.answered("a", s.sent("a"), True, 10.0) is Verdict.SUSPECT
    assert s.next_due(10.0 + CONFIRM - 0.1, everything) is None
    assert s.next_due(10.0 + CONFIRM, everything) == "a"  # the confirmation, long before quiet_s
    assert s.answered("a", s.sent("a"), True, 12.5) is Verdict.STALE
    assert s.next_due(12.5 + CONFIRM, everything) is None  # no confirmation pending any more


def test_socket_lag_is_no_staleness() -> None:
    # The REST answer already shows a change still in flight on the socket: it lands before the confirmation.
    s = schedule("a")
    assert s.answered("a", s.sent("a"), True, 10.0) is Verdict.SUSPECT
    s.changed("a", 10.1)
    assert s.next_due(10.0 + CONFIRM, everything) is None  # changed: no longer quiet, the suspicion is gone
    token = s.sent("a")
    assert s.answered("a", token, True, 30.0) is Verdict.SUSPECT  # a fresh first difference, not STALE


def test_a_change_while_the_request_is_out_gives_no_verdict() -> None:
    s = schedule("a")
    token = s.sent("a")
    s.changed("a", 10.5)
    assert s.answered("a", token, True, 11.0) is Verdict.CHANGED
    assert s.next_due(11.0 + CONFIRM, everything) is None


def test_same_clears_a_suspicion() -> None:
    s = schedule("a")
    assert s.answered("a", s.sent("a"), True, 10.0) is Verdict.SUSPECT
    assert s.answered("a", s.sent("a"), False, 12.0) is Verdict.SAME
    assert s.answered("a", s.sent("a"), True, 30.0) is Verdict.SUSPECT


def test_a_failed_request_is_no_verdict_and_is_retried_later() -> None:
    s = schedule("a")
    s.sent("a")
    s.failed("a", 10.0)
    assert s.next_due(10.0 + QUIET - 0.1, everything) is None
    assert s.next_due(10.0 + QUIET, everything) == "a"
    # a failed confirmation keeps the suspicion and confirms later
    assert s.answered("a", s.sent("a"), True, 20.0) is Verdict.SUSPECT
    s.sent("a")
    s.failed("a", 23.0)
    assert s.next_due(23.0 + CONFIRM - 0.1, everything) is None
    assert s.answered("a", s.sent("a"), True, 25.0) is Verdict.STALE


def test_an_answer_for_a_forgotten_book_is_ignored() -> None:
    s = schedule("a")
    token = s.sent("a")
    s.forget("a")
    assert s.answered("a", token, True, 10.0) is Verdict.CHANGED
    s.failed("a", 10.0)  # no error either


# --- the checker -------------------------------------------------------------------------------------

class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def checker(fetch: object, ours: Sides | None = BOOK) -> tuple[BookChecker, FeedMetrics, list[str], Clock]:
    stale: list[str] = []

    async def on_stale(key: str) -> None:
        stale.append(key)

    metrics, clock = FeedMetrics(), Clock()
    c = BookChecker(schedule("a"), fetch, lambda _k: ours, on_stale, metrics, venue="test", depth=10,  # type: ignore[arg-type]
                    per_s=100.0, timeout_s=0.05, clock=clock)
    return c, metrics, stale, clock


async def test_checker_marks_stale_only_after_two_differences() -> None:
    async def fetch(_key: str) -> Sides:
        return {4500: 100}, {4700: 30}

    c, metrics, stale, clock = checker(fetch)
    clock.t = QUIET
    assert await c.check("a") is Verdict.SUSPECT and stale == []
    clock.t += CONFIRM
    assert await c.check("a") is Verdict.STALE and stale == ["a"]
    assert metrics.book_checks == 2 and metrics.stale_books == 1 and metrics.book_check_errors == 0


@pytest.mark.parametrize("failure", ["http", "timeout"])
async def test_checker_never_marks_stale_on_a_failed_request(failure: str) -> None:
    async def fetch(_key: str) -> Sides:
        if failure == "timeout":
            await asyncio.sleep(1)
        raise errors.ServerError("KALSHI", "GET /markets/a/orderbook: HTTP 503", status=503)

    c, metrics, stale, clock = checker(fetch)
    for _ in range(4):
        clock.t += QUIET
        assert await c.check("a") is None
    assert stale == [] and metrics.book_check_errors == 4 and metrics.book_checks == 0


async def test_checker_skips_a_book_invalidated_while_the_request_was_out() -> None:
    async def fetch(_key: str) -> Sides:
        return {}, {}

    c, metrics, stale, _clock = checker(fetch, ours=None)
    assert await c.check("a") is None and stale == [] and metrics.book_checks == 0


async def test_checker_run_paces_requests_and_checks_only_due_books() -> None:
    calls: list[str] = []

    async def fetch(key: str) -> Sides:
        calls.append(key)
        return BOOK

    c, metrics, stale, clock = checker(fetch)
    c.interval_s = 0.001
    task = asyncio.create_task(c.run())
    try:
        await asyncio.sleep(0.05)
        assert calls == []  # not quiet long enough
        clock.t = QUIET
        while not calls:
            await asyncio.sleep(0.001)
        await asyncio.sleep(0.05)
        assert calls == ["a"] and metrics.book_checks == 1  # SAME: next check only after another quiet_s
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert stale == []


# --- REST readers ------------------------------------------------------------------------------------

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


async def test_kalshi_rest_book_is_read_on_the_yes_scale_like_the_ws_book() -> None:
    seen: list[httpx.Request] = []

    def route(r: httpx.Request) -> httpx.Response:
        seen.append(r)
        # YES bids and NO bids, best last; a NO bid at 0.5300 is a YES ask at 0.4700
        return httpx.Response(200, json={"orderbook": {"yes": [[44, 50], [45, 100]], "no": [[52, 10], [53, 30]]},
                                         "orderbook_fp": {"yes_dollars": [["0.4400", "50.00"], ["0.4500", "100.00"]],
                                                          "no_dollars": [["0.5200", "10.00"], ["0.5300", "30.00"]]}})

    rest = KalshiRest("https://external-api.kalshi.com/trade-api/v2", "key-id", KEY, transport=httpx.MockTransport(route))
    try:
        bids, asks = await kalshi_rest_books(rest)("KXNBAGAME-26JAN01AAABBB-AAA")
    finally:
        await rest.aclose()
    assert (dict(bids), dict(asks)) == ({4400: 5000, 4500: 10000}, {4700: 3000, 4800: 1000})
    assert seen[0].url.path == "/trade-api/v2/markets/KXNBAGAME-26JAN01AAABBB-AAA/orderbook"
    assert dict(seen[0].url.params) == {"depth": "0"}  # every level


@pytest.mark.parametrize("body", [{}, {"orderbook_fp": {"yes_dollars": [["1.5000", "1.00"]]}}, {"orderbook_fp": "x"}])
async def test_kalshi_unreadable_rest_book_is_an_error_not_an_empty_book(body: object) -> None:
    rest = KalshiRest("https://k/trade-api/v2", "key-id", KEY, transport=httpx.MockTransport(lambda r: httpx.Response(200, json=body)))
    try:
        with pytest.raises(errors.Unknown):
            await rest.get_orderbook("T")
    finally:
        await rest.aclose()


async def test_kalshi_empty_sides_are_an_empty_book() -> None:
    body: dict[str, object] = {"orderbook_fp": {"yes_dollars": [], "no_dollars": None}}
    rest = KalshiRest("https://k/trade-api/v2", "key-id", KEY, transport=httpx.MockTransport(lambda r: httpx.Response(200, json=body)))
    try:
        bids, asks = await kalshi_rest_books(rest)("T")
    finally:
        await rest.aclose()
    assert (dict(bids), dict(asks)) == ({}, {})


TOKEN = "71321045679252212594626385532706912750332728571942532289631379312455583992563"


async def test_polymarket_rest_book_is_public_and_read_like_a_ws_book() -> None:
    seen: list[httpx.Request] = []
    body = {"market": "0xabc", "asset_id": TOKEN, "timestamp": "1786604072222", "hash": "ed47",
            "bids": [{"price": "0.47", "size": "50"}, {"price": "0.48", "size": "100"}],
            "asks": [{"price": "0.53", "size": "10"}, {"price": "0.52", "size": "80"}],
            "min_order_size": "5", "tick_size": "0.01", "neg_risk": False, "last_trade_price": "0.480"}

    def route(r: httpx.Request) -> httpx.Response:
        seen.append(r)
        return httpx.Response(200, json=body)

    api = PolymarketBookApi("https://clob.polymarket.com", transport=httpx.MockTransport(route))
    try:
        got = await poly_rest_books(api)(TOKEN)
    finally:
        await api.aclose()
    assert seen[0].url.path == "/book" and dict(seen[0].url.params) == {"token_id": TOKEN}
    assert not any(h.upper().startswith("POLY_") for h in seen[0].headers)  # no credentials
    assert top(got, 1) == ([(4800, got[0][4800])], [(5200, got[1][5200])]) and len(got[0]) == 2 and len(got[1]) == 2


@pytest.mark.parametrize("body", [[], {"asset_id": TOKEN, "timestamp": "1", "bids": [{"price": "0", "size": "1"}]},
                                  {"asset_id": "other", "timestamp": "1", "bids": [], "asks": []}])
async def test_polymarket_unreadable_rest_book_is_an_error(body: object) -> None:
    api = PolymarketBookApi("https://clob", transport=httpx.MockTransport(lambda r: httpx.Response(200, json=body)))
    try:
        with pytest.raises(errors.Unknown):
            await api.get_book(TOKEN)
    finally:
        await api.aclose()


async def test_polymarket_rest_http_error_raises() -> None:
    api = PolymarketBookApi("https://clob", transport=httpx.MockTransport(
        lambda r: httpx.Response(404, json={"error": "No orderbook exists for the requested token id"})))
    try:
        with pytest.raises(errors.Rejected):
            await api.get_book(TOKEN)
    finally:
        await api.aclose()


RECORDED_BOOK = Path(__file__).resolve().parents[1] / "resources/polymarket/clob_book_response_2024.json"


async def test_polymarket_recorded_rest_book_reads() -> None:
    """A recorded `GET /book` answer (NautilusTrader's http_responses/book.json, tests/resources/PROVENANCE.md):
    bids ascending and asks descending, best last; no tick_size, min_order_size or neg_risk."""
    body = json.loads(RECORDED_BOOK.read_text())
    api = PolymarketBookApi("https://clob.polymarket.com", transport=httpx.MockTransport(lambda r: httpx.Response(200, json=body)))
    try:
        bids, asks = await poly_rest_books(api)(body["asset_id"])
    finally:
        await api.aclose()
    assert (len(bids), len(asks)) == (5, 7) and max(bids) == 1000 and min(asks) == 1400  # 0.10 / 0.14
