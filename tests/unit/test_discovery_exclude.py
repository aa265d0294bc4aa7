"""Discovery: excluding leagues and market types (issue 29, "Also"), and only game-winner markets paired.

A game of an excluded league or market type is never paired, and a pairing already on `markets` for one is
withdrawn by a tombstone on the next round (the service tombstones every published game the round does not
pair). Market types are what discovery tells apart: the game winner of a league without draws (`two_way`)
or with them (`three_way`: a team or the draw). Gamma's other `sportsMarketType`s are never read as a winner:
a spreads market lists team names as its outcomes too ("Spread: Commanders (-1.5)" with the two teams as
outcomes, as public Gamma client code reads it: varunraisinghal/NFL, NFLArbitrageApp/docs/SPREAD_DISPLAY_FIX.md).
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from core import codec
from core.config import ConfigError, load
from core.settings import KafkaSettings
from producers.discovery import gamma_source
from producers.discovery.match import PairingRules, match
from producers.discovery.model import VenueGame
from producers.discovery.overrides import Overrides
from producers.discovery.service import DiscoveryService
from producers.discovery.settings import DiscoverySettings
from schemas.records import MarketPairing
from tests.unit.test_discovery import ALIASES, DRAWS, NOW, _pair_inputs, gamma_event

NFL_GID = "nfl-20261129-buf-kc"


def epl_pair() -> tuple[VenueGame, VenueGame]:
    """An EPL game (a league with draws) at both venues, books aside (pairing only reads the games)."""
    start = NOW + 6 * 3600 * 1_000_000
    teams = frozenset({"ars", "che"})
    k = VenueGame("KALSHI", "epl", "20261129", teams, "KXEPLGAME-26NOV29ARSCHE", "KXEPLGAME-26NOV29ARSCHE", (), away="ars", home="che",
                  start_ts=start)
    p = VenueGame("POLYMARKET", "epl", "20261129", teams, "epl-ars-che-2026-11-29", "9", (), start_ts=start)
    return k, p


def test_excluded_league_is_never_paired() -> None:
    k, p = _pair_inputs()
    assert list(match([k], [p], Overrides(), DRAWS, now_us=NOW, rules=PairingRules()).pairings) == [NFL_GID]
    res = match([k], [p], Overrides(), DRAWS, now_us=NOW, rules=PairingRules(exclude_leagues=frozenset({"nfl"})))
    assert res.pairings == {} and not res.unmatched
    assert {(r.venue, r.event) for r in res.excluded} == {("KALSHI", k.event), ("POLYMARKET", p.event)}
    assert all("ARB_DISCOVER_EXCLUDE_LEAGUES" in r.reason for r in res.excluded)
    # Exclusion wins over a forced pair.
    forced = Overrides(force=((k.event, p.event),))
    assert match([k], [p], forced, DRAWS, now_us=NOW, rules=PairingRules(exclude_leagues=frozenset({"nfl"}))).pairings == {}


def test_excluded_market_type_is_never_paired() -> None:
    k, p = _pair_inputs()
    ek, ep = epl_pair()
    games = ([k, ek], [p, ep])
    both = match(*games, Overrides(), DRAWS, now_us=NOW, rules=PairingRules())
    assert sorted(both.pairings) == ["epl-20261129-ars-che", NFL_GID]
    three = match(*games, Overrides(), DRAWS, now_us=NOW, rules=PairingRules(exclude_market_types=frozenset({"three_way"})))
    assert list(three.pairings) == [NFL_GID] and {r.event for r in three.excluded} == {ek.event, ep.event}
    two = match(*games, Overrides(), DRAWS, now_us=NOW, rules=PairingRules(exclude_market_types=frozenset({"two_way"})))
    assert list(two.pairings) == ["epl-20261129-ars-che"] and {r.event for r in two.excluded} == {k.event, p.event}


def test_exclusion_settings_are_read_and_checked() -> None:
    ds = load(DiscoverySettings, env={"ARB_DISCOVER_EXCLUDE_LEAGUES": " NFL, epl ,", "ARB_DISCOVER_EXCLUDE_MARKET_TYPES": "three_way"})
    rules = PairingRules.from_settings(ds)
    assert rules.exclude_leagues == {"nfl", "epl"} and rules.exclude_market_types == {"three_way"}
    assert PairingRules.from_settings(load(DiscoverySettings, env={})).exclude_leagues == frozenset()
    with pytest.raises(ConfigError, match="ARB_DISCOVER_EXCLUDE_MARKET_TYPES"):
        PairingRules.from_settings(load(DiscoverySettings, env={"ARB_DISCOVER_EXCLUDE_MARKET_TYPES": "spreads"}))
    # Discovery reads every selected Gamma type as a game winner: only `moneyline` is one.
    assert load(DiscoverySettings, env={}).market_type_set() == {"moneyline"}
    with pytest.raises(ConfigError, match="ARB_DISCOVER_MARKET_TYPES"):
        load(DiscoverySettings, env={"ARB_DISCOVER_MARKET_TYPES": "moneyline,spreads"}).market_type_set()


def test_a_spreads_market_is_never_read_as_the_winner() -> None:
    ev = gamma_event("nfl-buf-kc-2026-11-29", "nfl", "2026-11-29 18:00:00+00", ["Buffalo Bills", "Kansas City Chiefs"], ["111", "222"])
    spread = {**ev["markets"][0], "conditionId": "0x" + "5" * 64, "question": "Spread: Kansas City Chiefs (-2.5)", "line": -2.5,
              "sportsMarketType": "spreads", "outcomes": json.dumps(["Kansas City Chiefs", "Buffalo Bills"]), "clobTokenIds": '["333", "444"]'}
    ev["markets"].append(spread)
    g = gamma_source.parse_event(ev, ALIASES, {"moneyline", "spreads"})
    assert isinstance(g, VenueGame)
    assert [b.market for b in g.books] == [ev["markets"][0]["conditionId"]]  # the spread's tokens pay on no winner


class _Msg:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def key(self) -> bytes:
        return self._key


class _Producer:
    """Stands in for the Kafka producer: every record is delivered at flush."""

    def __init__(self) -> None:
        self.records: list[tuple[str, bytes | None]] = []
        self._pending: list[tuple[bytes, Any]] = []

    def produce(self, topic: str, key: bytes, value: bytes | None, on_delivery: Any) -> None:
        self.records.append((key.decode(), value))
        self._pending.append((key, on_delivery))

    def flush(self, timeout: float | None = None) -> int:
        for key, cb in self._pending:
            cb(None, _Msg(key))
        self._pending.clear()
        return 0


def _service() -> tuple[DiscoveryService, _Producer, Any, Any]:
    """A discovery service over one Kalshi and one Polymarket listing of the NFL game, with a recording producer."""
    k, p = _pair_inputs()

    async def fetch_k(_: Any) -> list[Any]:
        return [k]

    async def fetch_p(_: Any) -> list[Any]:
        return [p]

    service = DiscoveryService(KafkaSettings(bootstrap="127.0.0.1:1"), fetch_kalshi=fetch_k, fetch_polymarket=fetch_p,
                               rules=PairingRules(max_started_s=0))  # the games' start is in the past of the wall clock
    service.producer = producer = _Producer()  # type: ignore[assignment]
    return service, producer, k, p


async def test_a_published_pairing_of_a_newly_excluded_league_is_withdrawn() -> None:
    service, producer, k, p = _service()
    rep = await service.run_once()
    assert rep.published == [NFL_GID] and NFL_GID in service.cache.pairings
    service.rules = PairingRules(max_started_s=0, exclude_leagues=frozenset({"nfl"}))  # the user excludes the NFL
    rep = await service.run_once()
    assert rep.ok and rep.tombstoned == [NFL_GID] and rep.published == [] and rep.paired == 0
    assert producer.records[-1] == (NFL_GID, None) and service.cache.pairings == {}
    assert {e["event"] for e in rep.to_json()["excluded"]} == {k.event, p.event}
    rep = await service.run_once()
    assert rep.tombstoned == [] and rep.published == [] and len(producer.records) == 2


async def test_a_pairing_on_markets_is_sent_again_only_when_its_content_changes() -> None:
    """The round compares what it pairs with the MarketPairing records on `markets` (read back with their own
    updated_ts): the same content is not republished, other content is."""
    service, producer, k, p = _service()
    assert (await service.run_once()).published == [NFL_GID]
    sent = codec.decode_record(producer.records[-1][1] or b"", MarketPairing)
    assert replace(sent, updated_ts=0) == service.cache.pairings[NFL_GID]  # folded in as written
    service.cache.pairings[NFL_GID] = sent  # as the markets reader reads it back: updated_ts set
    rep = await service.run_once()
    assert rep.ok and rep.published == [] and rep.unchanged == 1 and len(producer.records) == 1
    book = sent.books[0]
    service.cache.pairings[NFL_GID] = replace(sent, books=[replace(book, tick_size=book.tick_size * 10), *sent.books[1:]])
    rep = await service.run_once()
    assert rep.published == [NFL_GID] and rep.unchanged == 0 and len(producer.records) == 2
    assert codec.decode_record(producer.records[-1][1] or b"", MarketPairing).books[0] == book
