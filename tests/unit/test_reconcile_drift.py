"""What reconciliation compares and when a drift is an alert (positions/reconcile.py, pure), how the venues are read
(positions/venue_positions.py: bounded, a failure is never "holds nothing"), when the positions role reconciles at
all, and `arb positions` labels (issue 28: readable labels, never ids cut short; --json keeps every id)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

from cli.commands import positions as positions_cli
from core.config import ConfigError, load
from core.settings import KafkaSettings
from positions.fold import Book
from positions.reconcile import DriftTracker, compare
from positions.service import PositionsService
from positions.settings import PositionsSettings
from positions.venue_positions import VenuePositions
from schemas.records import Settlement
from tests.factories import pairing
from venues.kalshi.settings import KalshiSettings
from venues.polymarket.settings import PolymarketSettings

GAME = "nfl-20261129-buf-kc"
TOKEN = "71321045863084981365469005770620412523470745398083994982746259498689308907982"  # a real token id's length


def _fill(fid: str, venue: str, market: str, side: str, size: int, *, game: str = GAME, action: str = "BUY") -> dict[str, Any]:
    return {"fill_id": fid, "client_order_id": fid, "signal_id": "s", "game_id": game, "venue": venue, "market": market, "side": side,
            "action": action, "price": 4000, "size": size, "fee": 0, "paper": False, "ts": 1_796_000_000_000_000}


def _book(*fills: dict[str, Any]) -> Book:
    return Book().fold(fills)


# --- compare ------------------------------------------------------------------------------------------------


def test_consistent_positions_do_not_drift_and_kalshi_no_nets_against_yes() -> None:
    book = _book(_fill("a", "KALSHI", "K-BUF", "YES", 1000), _fill("b", "KALSHI", "K-BUF", "NO", 300), _fill("c", "POLYMARKET", "TOK-KC", "YES", 500))
    c = compare(book, {("KALSHI", "K-BUF"): 700, ("POLYMARKET", "TOK-KC"): 500}, ["KALSHI", "POLYMARKET"])
    assert c.drift == [] and c.awaiting_settlement == []


def test_a_position_only_one_side_knows_is_drift_both_ways() -> None:
    book = _book(_fill("a", "KALSHI", "K-BUF", "YES", 1000))
    c = compare(book, {("KALSHI", "K-BUF"): 900, ("POLYMARKET", "TOK-X"): 200}, ["KALSHI", "POLYMARKET"])
    assert c.drift == [{"venue": "KALSHI", "market": "K-BUF", "ours": 1000, "venue_reports": 900},
                       {"venue": "POLYMARKET", "market": "TOK-X", "ours": 0, "venue_reports": 200}]


def test_a_venue_not_read_is_not_judged() -> None:
    book = _book(_fill("a", "KALSHI", "K-BUF", "YES", 1000), _fill("b", "POLYMARKET", "TOK-KC", "YES", 500))
    c = compare(book, {("POLYMARKET", "TOK-KC"): 500}, ["POLYMARKET"])  # Kalshi could not be read: nothing said about K-BUF
    assert c.drift == [] and c.judged == ("POLYMARKET",)


def test_a_settled_market_is_left_out_on_both_sides() -> None:
    """Our holding is paid and closed by its Settlement record; the venue may still list it (Kalshi until it pays,
    Polymarket's redeemable shares until redeemed) or have dropped it: neither is drift."""
    book = _book(_fill("a", "POLYMARKET", "TOK-KC", "YES", 500), _fill("b", "KALSHI", "K-BUF", "YES", 1000))
    book.apply_settlement(Settlement(venue="POLYMARKET", market="TOK-KC", book="0xcond", game_id=GAME, payout=0, resolved_ts=1, published_ts=1,
                                     source="resolved"))
    book.apply_settlement(Settlement(venue="KALSHI", market="K-BUF", book="K-BUF", game_id=GAME, payout=10_000, resolved_ts=1, published_ts=1,
                                     source="finalized"))
    assert compare(book, {("POLYMARKET", "TOK-KC"): 500}, ["KALSHI", "POLYMARKET"]).drift == []
    assert compare(book, {}, ["KALSHI", "POLYMARKET"]).drift == []


def test_a_venue_that_paid_out_before_our_settlement_record_is_awaiting_settlement_not_drift() -> None:
    book = _book(_fill("a", "KALSHI", "K-BUF", "YES", 1000), _fill("b", "KALSHI", "K-OTHER", "YES", 100, game="nfl-20261129-nyj-mia"))
    ended = compare(book, {("KALSHI", "K-OTHER"): 100}, ["KALSHI"], ended_games={GAME})
    assert ended.drift == [] and ended.awaiting_settlement == [{"venue": "KALSHI", "market": "K-BUF", "ours": 1000, "venue_reports": 0}]
    live = compare(book, {("KALSHI", "K-OTHER"): 100}, ["KALSHI"], ended_games=set())  # a game still trading: a drift
    assert [d["market"] for d in live.drift] == ["K-BUF"]
    wrong = compare(book, {("KALSHI", "K-BUF"): 400, ("KALSHI", "K-OTHER"): 100}, ["KALSHI"], ended_games={GAME})
    assert [d["market"] for d in wrong.drift] == ["K-BUF"]  # only "the venue holds none of it" is excused, not another figure


# --- DriftTracker -------------------------------------------------------------------------------------------


def _check(tracker: DriftTracker, book: Book, venue: dict[tuple[str, str], int], judged: list[str], failed: dict[str, str] | None = None) -> Any:
    return tracker.observe(compare(book, venue, judged), failed or {})


def test_a_drift_is_an_alert_only_after_two_consecutive_checks_and_clears_when_gone() -> None:
    t, book, both = DriftTracker(confirm=2), _book(), ["KALSHI", "POLYMARKET"]
    one = _check(t, book, {("KALSHI", "K-BUF"): 100}, both)
    assert one.drift == [] and [d["market"] for d in one.unconfirmed] == ["K-BUF"]
    gone = _check(t, book, {}, both)  # transient: the fill's record arrived
    assert gone.drift == [] and gone.unconfirmed == []
    _check(t, book, {("KALSHI", "K-BUF"): 100}, both)
    two = _check(t, book, {("KALSHI", "K-BUF"): 150}, both)  # persisting, whatever its size
    assert [(d["market"], d["venue_reports"], d["checks"]) for d in two.drift] == [("K-BUF", 150, 2)]
    assert _check(t, book, {}, both).drift == []


def test_a_venue_not_read_keeps_its_drift_and_fails_into_an_alert_of_its_own() -> None:
    t, book = DriftTracker(confirm=2), _book()
    for _ in range(2):
        v = _check(t, book, {("KALSHI", "K-BUF"): 100}, ["KALSHI", "POLYMARKET"])
    assert [d["market"] for d in v.drift] == ["K-BUF"]
    down = _check(t, book, {}, ["POLYMARKET"], {"KALSHI": "ServerError: 503"})
    assert [d["market"] for d in down.drift] == ["K-BUF"] and down.unreadable == {}  # not judged: still an alert; one failure is no alert
    down2 = _check(t, book, {}, ["POLYMARKET"], {"KALSHI": "timed out after 30s"})
    assert down2.unreadable == {"KALSHI": "timed out after 30s"}
    back = _check(t, book, {}, ["KALSHI", "POLYMARKET"])
    assert back.drift == [] and back.unreadable == {}


# --- reading the venues -------------------------------------------------------------------------------------


def test_venues_without_credentials_are_named_with_what_they_need() -> None:
    v = VenuePositions(KalshiSettings(), PolymarketSettings())
    assert v.configured == [] and set(v.not_configured) == {"KALSHI", "POLYMARKET"}
    assert "ARB_KALSHI_KEY_ID" in v.not_configured["KALSHI"] and "ARB_POLY_FUNDER" in v.not_configured["POLYMARKET"]
    with pytest.raises(ConfigError, match="ARB_POLY_PRIVATE_KEY"):
        VenuePositions(KalshiSettings(), PolymarketSettings(private_key=load(PolymarketSettings, env={"ARB_POLY_PRIVATE_KEY": "z" * 64}).private_key))


@pytest.fixture
async def silent_server() -> AsyncIterator[str]:
    """A host that accepts connections and never answers."""
    held: list[asyncio.StreamWriter] = []

    async def accept(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        for w in held:
            w.close()
        server.close()


async def test_a_venue_that_does_not_answer_is_failed_within_the_bound(silent_server: str) -> None:
    v = VenuePositions(KalshiSettings(), PolymarketSettings(data_api_url=silent_server, funder="0xabc"), timeout_s=0.5)
    started = asyncio.get_running_loop().time()
    snap = await v.read()
    assert asyncio.get_running_loop().time() - started < 3
    assert snap.read == [] and snap.positions == {} and snap.failed == {"POLYMARKET": "timed out after 0.5s"}
    assert set(snap.not_configured) == {"KALSHI"}


# --- when the role reconciles -------------------------------------------------------------------------------


def _service(caplog: pytest.LogCaptureFixture, venues: VenuePositions | None, *, paper: bool = False, reconcile_s: float = 60.0) -> PositionsService:
    caplog.set_level(logging.INFO, logger="positions.service")
    return PositionsService(KafkaSettings(), PositionsSettings(reconcile_s=reconcile_s), paper=paper, day_tz="UTC", venues=venues)


def test_serve_reconciles_what_it_can_read_and_says_what_it_cannot(caplog: pytest.LogCaptureFixture) -> None:
    poly_only = VenuePositions(KalshiSettings(), PolymarketSettings(funder="0xabc"))
    assert _service(caplog, poly_only).reconciler is not None
    assert any(r.levelno == logging.WARNING and "KALSHI positions are not read" in r.getMessage() for r in caplog.records)
    caplog.clear()
    assert _service(caplog, VenuePositions(KalshiSettings(), PolymarketSettings())).reconciler is None
    assert any(r.levelno == logging.WARNING and "reconciliation off" in r.getMessage() for r in caplog.records)
    assert _service(caplog, poly_only, paper=True).reconciler is None  # paper fills are held at no venue
    assert _service(caplog, poly_only, reconcile_s=0).reconciler is None


def test_reconcile_settings_are_checked() -> None:
    s = load(PositionsSettings, env={})
    assert (s.reconcile_s, s.reconcile_confirm, s.reconcile_kill) == (60.0, 2, False)
    assert load(PositionsSettings, env={"ARB_POSITIONS_RECONCILE_KILL": "1"}).reconcile_kill
    for env in ({"ARB_POSITIONS_RECONCILE_S": "-1"}, {"ARB_POSITIONS_RECONCILE_CONFIRM": "0"}):
        with pytest.raises(ConfigError):
            load(PositionsSettings, env=env)


def test_status_line_fields() -> None:
    svc = PositionsService(KafkaSettings(), PositionsSettings(), day_tz="UTC")
    svc.book.fold([_fill("a", "KALSHI", "K-BUF", "YES", 1000), _fill("b", "POLYMARKET", "TOK-KC", "YES", 500), _fill("b", "POLYMARKET", "TOK-KC", "YES", 500)])
    assert svc.status() == {"fills": 2, "duplicates": 1, "holdings": 2, "games": 1, "settled_games": 0, "reconcile": "off"}


# --- `arb positions` labels (issue 28) ----------------------------------------------------------------------


def test_positions_show_labels_not_cut_ids_and_json_keeps_every_id() -> None:
    p = pairing(GAME + "-g2")
    p["books"][-1]["instruments"][1]["market"] = TOKEN  # a Polymarket token id: 77 digits
    book = _book(_fill("a", "KALSHI", "K-BUF", "NO", 1000, game=GAME + "-g2"), _fill("b", "POLYMARKET", TOKEN, "YES", 500, game=GAME + "-g2"),
                 _fill("c", "POLYMARKET", "9" * 70, "YES", 100, game="nhl-20261129-unpaired-game-with-a-long-id"))
    rows = positions_cli.position_rows(book, {}, {GAME + "-g2": p})
    by_market = {r["market"]: r for r in rows}
    assert by_market[TOKEN]["game_id"] == GAME + "-g2" and by_market[TOKEN]["game_label"] == "NFL BUF @ KC 2026-11-29 g2"
    assert by_market[TOKEN]["label"] == "kc" and by_market["K-BUF"]["label"] == "not buf"
    assert by_market["9" * 70]["label"] == "9" * 70 and by_market["9" * 70]["game_label"] == "nhl-20261129-unpaired-game-with-a-long-id"
    snap: dict[str, Any] = {"positions": rows, "locked_profit": {}, "games": {}, "daily_realized_pnl": {}, "settlement_mismatches": {},
            "conflicting_settlements": [], "settlements_error": None, "fills": 3, "duplicate_fills": 0, "settlements": 0}
    table = positions_cli._table(snap)
    assert "NFL BUF @ KC 2026-11-29 g2" in table and "not buf" in table
    assert "9" * 70 in table and "nhl-20261129-unpaired-game-with-a-long-id" in table  # no label: the whole id, never cut
    assert TOKEN not in table  # the label stands for it


# --- the role compares only once `fills` is folded up to the venues' snapshot ---------------------------------


class _Consumer:
    """position() of the role's consumer: the next offset per `fills` partition."""

    def __init__(self, positions: dict[int, int]) -> None:
        self.positions = positions

    def position(self, tps: list[Any]) -> list[Any]:
        from confluent_kafka import TopicPartition

        return [TopicPartition(tp.topic, tp.partition, self.positions.get(tp.partition, -1001)) for tp in tps]


class _Producer:
    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def produce(self, topic: str, key: bytes, value: bytes, on_delivery: Any = None) -> None:
        from core import codec

        self.records.append(codec.decode(value, "Control"))
        if on_delivery is not None:
            on_delivery(None, None)

    def flush(self, _timeout: float) -> int:
        return 0


def test_a_venue_snapshot_is_compared_only_once_fills_are_folded_up_to_it() -> None:
    """The venue was read after the fill was written to `fills` (partition 0 then ended at offset 5): comparing before
    the loop has read up to offset 5 would call the fill's position a drift."""
    from positions.reconciler import Reconciler
    from positions.venue_positions import VenueSnapshot

    r = Reconciler(KafkaSettings(), VenuePositions(KalshiSettings(), PolymarketSettings(funder="0xabc")), interval_s=60, confirm=1, kill=False,
                   fills_topic="arb.fills", fills_partitions=2)
    r._pending = (VenueSnapshot(positions={("POLYMARKET", "TOK-KC"): 500}, read=["POLYMARKET"]), {0: 5})
    book, producer = Book(), _Producer()
    assert r.on_loop(_Consumer({0: 4, 1: 0}), producer, book, set) is None and r.checks == 0  # not there yet: not compared
    book.apply(_fill("f", "POLYMARKET", "TOK-KC", "YES", 500))  # the record at offset 4
    verdict = r.on_loop(_Consumer({0: 5, 1: 0}), producer, book, set)
    assert verdict is not None and verdict.drift == [] and verdict.unconfirmed == [] and r.checks == 1
    assert [(x["name"], x["active"]) for x in producer.records] == [("alert:reconcile", False), ("alert:reconcile:unreadable", False)]
