"""The positions role on typed records (issue 30): pairings reach it as MarketPairing records from the markets
reader (positions/boundary.py), a withdrawn game is an ended game, and a Position record is written only when
it changes."""

from __future__ import annotations

from typing import Any

from core import codec
from core.markets_cache import MarketsCache
from core.settings import KafkaSettings
from positions.boundary import control, follow_pairings
from positions.service import PositionsService
from positions.settings import PositionsSettings
from schemas.records import Control, MarketPairing, Position, from_dict
from tests.factories import pairing

G1, G2 = "nfl-20261129-buf-kc", "nfl-20261129-nyj-mia"


def test_the_markets_reader_hands_positions_typed_pairings_and_withdrawals() -> None:
    cache = MarketsCache(KafkaSettings())
    heard: list[tuple[str, MarketPairing | None]] = []
    follow_pairings(cache, lambda g, p: heard.append((g, p)))
    cache.apply(G1, codec.encode("MarketPairing", pairing(G1)))
    cache.apply(G1, None)
    assert heard == [(G1, from_dict(MarketPairing, pairing(G1))), (G1, None)]


def test_a_control_record_of_the_role_is_the_one_core_control_writes() -> None:
    rec = control("alert:x", "ALERT", True, reason="why", value={"n": 1})
    assert isinstance(rec, Control) and (rec.name, rec.kind, rec.active, rec.reason, rec.value, rec.source) == \
        ("alert:x", "ALERT", True, "why", '{"n": 1}', "positions")


class _Producer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes]] = []

    def produce(self, topic: str, key: bytes, value: bytes, **_: Any) -> None:
        self.sent.append((topic, key, value))

    def poll(self, _timeout: float) -> int:
        return 0


def _fill(fid: str, market: str, game: str) -> dict[str, Any]:
    return {"fill_id": fid, "client_order_id": fid, "signal_id": "s", "game_id": game, "venue": "KALSHI", "market": market, "side": "YES",
            "action": "BUY", "price": 4000, "size": 100, "fee": 0, "paper": False, "ts": 1_796_000_000_000_000}


def test_a_withdrawn_game_has_ended_and_no_longer_counts_its_outcomes() -> None:
    svc = PositionsService(KafkaSettings(topic_prefix="x."), PositionsSettings(publish_interval_ms=0), day_tz="UTC")
    svc.book.fold([_fill("a", "K-BUF", G1), _fill("b", "K-NYJ", G2)])
    for g in (G1, G2):
        svc.on_pairing(g, from_dict(MarketPairing, pairing(g)))
    producer = _Producer()
    svc.publish_changes(producer)  # type: ignore[arg-type]
    assert svc.ended_games() == set() and svc.locked == {G1: -400_000, G2: -400_000}  # buf/kc: the K-BUF YES pays on buf only
    svc.on_pairing(G1, None)  # withdrawn: the game ended, its markets settle next
    svc.publish_changes(producer)  # type: ignore[arg-type]
    assert svc.ended_games() == {G1} and set(svc.pairings_seen) == {G1, G2}
    assert svc.locked == {G1: 0, G2: -400_000}  # no outcomes known for a withdrawn game (as before: `markets` no longer has it)


def test_a_position_is_written_again_only_when_it_changes() -> None:
    svc = PositionsService(KafkaSettings(topic_prefix="x."), PositionsSettings(publish_interval_ms=0), day_tz="UTC")
    svc.book.apply(_fill("a", "K-BUF", G1))
    producer = _Producer()
    assert svc.publish_changes(producer) == 1  # type: ignore[arg-type]
    assert svc.publish_changes(producer) == 0  # type: ignore[arg-type]  # nothing changed but the time
    svc.marks[("KALSHI", "K-BUF", "YES")] = 4500
    assert svc.publish_changes(producer) == 1  # type: ignore[arg-type]
    (_, key1, v1), (_, key2, v2) = producer.sent
    first, second = codec.decode_record(v1, Position), codec.decode_record(v2, Position)
    assert key1 == key2 == b"KALSHI:K-BUF:YES" and first.ts > 0 and (first.mark_price, second.mark_price) == (None, 4500)
    assert second.unrealized_pnl == 4500 * 100 - 4000 * 100
