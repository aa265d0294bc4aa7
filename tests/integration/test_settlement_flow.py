"""Settlement end to end (issue 26): discovery asks the venues how the markets of the games it paired resolved
-- after withdrawing them, as it does once a game stops trading -- publishes one Settlement record per
market to `settlements` (never twice, not even after a restart; a venue that fails is asked again next
round), and `arb positions` pays the held contracts, shows settled games and realized P&L per game and per
day equal to a recomputation from the fills, and reports a game whose venues resolved differently.

The venues are fake sources here (payload reading is tests/unit/test_resolution.py, on recorded payloads)."""

from __future__ import annotations

import asyncio
import copy
import json
import os
import subprocess
import sys
from typing import Any

import pytest

from core import codec
from core.kafka import make_producer
from core.settings import KafkaSettings
from core.topics import topic_name
from executor.recovery_reader import read_partition
from producers.discovery.resolution import Resolution
from producers.discovery.service import DiscoveryService
from schemas.records import Settlement, to_dict
from tests.conftest import REPO
from tests.factories import pairing

pytestmark = pytest.mark.integration

G1 = "nfl-20261129-buf-kc"  # both venues: BUF won
G2 = "nfl-20261129-buf-kc-g2"  # Kalshi: BUF won; Polymarket: KC won
DAY1_US = 1_796_000_000_000_000  # 2026-11-29, New York
DAY2_US = DAY1_US + 86_400_000_000


def _renamed(p: dict[str, Any], game_id: str, suffix: str) -> dict[str, Any]:
    out = copy.deepcopy(p)
    out["game_id"] = game_id
    for b in out["books"]:
        b["market"] += suffix
        for i in b["instruments"]:
            i["market"] += suffix
    return out


PAIRINGS = {G1: pairing(G1), G2: _renamed(pairing(G1), G2, "-g2")}
KALSHI_RES = [Resolution("KALSHI", t, t, p, "status=finalized", DAY2_US)
              for s in ("", "-g2") for t, p in ((f"K-BUF{s}", 10_000), (f"K-KC{s}", 0))]
POLY_RES = [Resolution("POLYMARKET", "TOK-BUF", "0xcond", 10_000, "resolved", DAY2_US), Resolution("POLYMARKET", "TOK-KC", "0xcond", 0, "resolved", DAY2_US),
            Resolution("POLYMARKET", "TOK-BUF-g2", "0xcond-g2", 0, "resolved", DAY2_US),
            Resolution("POLYMARKET", "TOK-KC-g2", "0xcond-g2", 10_000, "resolved", DAY2_US)]


def _fill(fid: str, game: str, venue: str, market: str, side: str, action: str, price: int, size: int, fee: int) -> dict[str, Any]:
    return {"fill_id": fid, "client_order_id": fid.split("#")[0], "signal_id": "s", "game_id": game, "venue": venue, "market": market,
            "side": side, "action": action, "price": price, "size": size, "fee": fee, "paper": False, "ts": DAY1_US}


FILLS = [_fill("a#0", G1, "KALSHI", "K-BUF", "YES", "BUY", 4500, 1000, 174_000), _fill("b#0", G1, "POLYMARKET", "TOK-KC", "YES", "BUY", 5000, 1000, 75_000),
         _fill("a#1", G1, "KALSHI", "K-BUF", "YES", "SELL", 4800, 200, 10_000),
         _fill("c#0", G2, "KALSHI", "K-KC-g2", "NO", "BUY", 4000, 500, 50_000), _fill("d#0", G2, "POLYMARKET", "TOK-KC-g2", "YES", "BUY", 5500, 500, 30_000)]


def _recomputed(game: str) -> int:
    """Cash from the fills plus what the venues paid on what is left, per fill, no average cost."""
    pays = {("KALSHI", "K-BUF", "YES"): 10_000, ("POLYMARKET", "TOK-KC", "YES"): 0, ("KALSHI", "K-KC-g2", "NO"): 10_000,
            ("POLYMARKET", "TOK-KC-g2", "YES"): 10_000}
    total = 0
    for f in FILLS:
        if f["game_id"] == game:
            sign = 1 if f["action"] == "BUY" else -1
            total += sign * (pays[(f["venue"], f["market"], f["side"])] - f["price"]) * f["size"] - f["fee"]
    return total


class FakeVenue:
    def __init__(self, answers: list[Resolution]) -> None:
        self.answers = answers
        self.asked: list[list[str]] = []
        self.fail: Exception | None = None

    async def __call__(self, books: list[str]) -> tuple[list[Resolution], list[str]]:
        self.asked.append(sorted(books))
        if self.fail is not None:
            raise self.fail
        return [r for r in self.answers if r.book in books], []


def _produce(kafka: KafkaSettings, topic: str, items: list[tuple[str, bytes]]) -> None:
    p = make_producer(kafka)
    for key, value in items:
        p.produce(topic_name(topic, kafka), key=key.encode(), value=value, partition=0)
    assert p.flush(15) == 0


def _settlements(kafka: KafkaSettings) -> list[dict[str, Any]]:
    recs, bad = read_partition(kafka, [topic_name("settlements", kafka)], 0, stall_s=15)
    assert bad == 0
    return [to_dict(r) for r in recs if isinstance(r, Settlement)]


async def _nothing(_: Any) -> list[Any]:
    return []  # the games stopped trading: discovery withdraws them


def _service(kafka: KafkaSettings, kalshi: FakeVenue, poly: FakeVenue) -> DiscoveryService:
    return DiscoveryService(kafka, fetch_kalshi=_nothing, fetch_polymarket=_nothing, resolve_kalshi=kalshi, resolve_polymarket=poly,
                            settle_watch_s=3600, settle_max_markets=500)


def _positions(kafka: KafkaSettings, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ARB_BOOTSTRAP": kafka.bootstrap, "ARB_TOPIC_PREFIX": kafka.topic_prefix, "ARB_PARTITIONS": str(kafka.partitions),
           "ARB_LOG_LEVEL": "WARNING", "ARB_EXEC_DAY_TZ": "America/New_York"}
    return subprocess.run([sys.executable, "-m", "cli", "positions", *extra], cwd=REPO, capture_output=True, text=True, timeout=90, env=env)


async def test_settlements_published_once_and_positions_settle(topics: KafkaSettings) -> None:
    _produce(topics, "markets", [(g, codec.encode("MarketPairing", p)) for g, p in PAIRINGS.items()])
    _produce(topics, "fills", [(f["fill_id"], codec.encode("Fill", f)) for f in FILLS])
    kalshi, poly = FakeVenue(KALSHI_RES), FakeVenue(POLY_RES)
    poly.fail = RuntimeError("Gamma 503")
    svc = _service(topics, kalshi, poly)
    await asyncio.to_thread(svc.start)
    try:
        first = await svc.run_once()
        assert sorted(first.tombstoned) == [G1, G2]  # withdrawn before they resolve ...
        assert kalshi.asked == [["K-BUF", "K-BUF-g2", "K-KC", "K-KC-g2"]] and poly.asked == [["0xcond", "0xcond-g2"]]  # ... still asked
        assert sorted(first.settled) == sorted(f"KALSHI:{r.market}" for r in KALSHI_RES)
        assert any("Gamma 503" in e for e in first.settle_errors)  # logged, asked again next round
        poly.fail = None
        second = await svc.run_once()
        assert kalshi.asked[1:] == [] and poly.asked[1:] == [["0xcond", "0xcond-g2"]]  # Kalshi is done: not asked again
        assert sorted(second.settled) == sorted(f"POLYMARKET:{r.market}" for r in POLY_RES) and second.settle_errors == []
        third = await svc.run_once()
        assert third.settled == [] and len(kalshi.asked) == 1 and len(poly.asked) == 2 and svc.watch == {}
    finally:
        svc.close()
    recs = _settlements(topics)
    assert len(recs) == 8 and len({(r["venue"], r["market"]) for r in recs}) == 8  # one per market, never twice
    assert {r["market"]: (r["game_id"], r["payout"], r["resolved_ts"]) for r in recs}["TOK-KC-g2"] == (G2, 10_000, DAY2_US)

    # a restarted discovery that sees G1 paired again knows its markets are settled: nothing asked, nothing written
    _produce(topics, "markets", [(G1, codec.encode("MarketPairing", PAIRINGS[G1]))])
    kalshi2, poly2 = FakeVenue(KALSHI_RES), FakeVenue(POLY_RES)
    svc2 = _service(topics, kalshi2, poly2)
    await asyncio.to_thread(svc2.start)
    try:
        rep = await svc2.run_once()
    finally:
        svc2.close()
    assert rep.settled == [] and kalshi2.asked == [] and poly2.asked == [] and len(_settlements(topics)) == 8

    proc = await asyncio.to_thread(_positions, topics, "--json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    snap = json.loads(proc.stdout.strip().splitlines()[-1])
    g1, g2 = snap["games"][G1], snap["games"][G2]
    assert g1 == {"state": "SETTLED", "realized_pnl": _recomputed(G1), "exposure": 0, "mismatch": None}
    assert g2["state"] == "SETTLED" and g2["realized_pnl"] == _recomputed(G2) and g2["exposure"] == 0
    assert snap["settlement_mismatches"] == {G2: {"KALSHI": "buf", "POLYMARKET": "kc"}}
    fees = sum(f["fee"] for f in FILLS)
    assert snap["daily_realized_pnl"]["20261129"] == 300 * 200 - 4500 * 200 + 4500 * 200 - fees  # the partial close and every fee
    assert sum(snap["daily_realized_pnl"].values()) == _recomputed(G1) + _recomputed(G2)
    assert snap["settlements"] == 8 and snap["locked_profit"] == {}  # no open game left

    table = await asyncio.to_thread(_positions, topics)
    assert table.returncode == 0, table.stderr[-2000:]
    assert f"settled {G1}: realized" in table.stdout and "realized 2026-11-30:" in table.stdout
    assert f"!!! SETTLEMENT MISMATCH {G2}: KALSHI resolved buf; POLYMARKET resolved kc" in table.stdout


async def test_simulated_games_end_resolve_and_settle(topics: KafkaSettings) -> None:
    """End to end against the simulators (their games end and resolve with the real venues' shapes): discovery
    pairs the games, withdraws them when they stop trading, and publishes each market's resolution once the
    venue has it final (Kalshi `finalized`, not merely `determined`), agreeing with the winner the simulator drew."""
    import httpx

    from core.units import now_us
    from positions.fold import settlement_mismatch, venue_verdict
    from producers.discovery import aliases as alias_mod
    from producers.discovery import gamma_source, kalshi_source
    from producers.discovery.gamma_source import GammaDiscovery
    from producers.discovery.kalshi_source import KalshiDiscovery
    from schemas.records import Settlement, from_dict
    from simulators.lifecycle import DETERMINED
    from simulators.runner import Simulator
    from simulators.settings import SimSettings
    from venues.kalshi.rest import KalshiRest

    hour = 3_600_000_000
    sim_settings = SimSettings(games=1, updates_per_s=0, arb_rate_per_min=0, autostart=False, clock="virtual", clock_start_us=now_us() - 2 * hour,
                               first_game_after_s=3600, game_duration_s=600, resolve_delay_s=60, kalshi_settlement_timer_s=30)
    async with Simulator(sim_settings) as sim:
        rest = KalshiRest(sim.kalshi_url, "", None)
        gamma = httpx.AsyncClient(base_url=sim.gamma_url, timeout=10.0)
        clob = httpx.AsyncClient(base_url=sim.poly_clob_url, timeout=10.0)

        async def fetch_kalshi(aliases: alias_mod.AliasTable) -> list[Any]:
            return await KalshiDiscovery(rest, aliases, fee_horizon_s=0).fetch()

        async def fetch_poly(aliases: alias_mod.AliasTable) -> list[Any]:
            return await GammaDiscovery(gamma, aliases, tag_id="1", market_types={"moneyline"}, clob=clob).fetch()

        svc = DiscoveryService(topics, fetch_kalshi=fetch_kalshi, fetch_polymarket=fetch_poly,
                               resolve_kalshi=lambda books: kalshi_source.fetch_resolutions(rest, books),
                               resolve_polymarket=lambda books: gamma_source.fetch_resolutions(gamma, books), settle_watch_s=86_400, settle_max_markets=500)
        await asyncio.to_thread(svc.start)
        try:
            first = await svc.run_once()
            assert first.ok and first.paired == 1 and first.settled == [] and first.settle_errors == [], first.to_json()
            paired = {g: svc.cache.pairings[g] for g in first.published}
            lives = sim.world.life.lives
            ends = max(lives[g].end_us for g in paired)
            sim.world.life.advance(max(lives[g].determine_us for g in paired))  # determined: a result, not final yet
            assert all(lives[g].phase == DETERMINED for g in paired)
            second = await svc.run_once()
            assert sorted(second.tombstoned) == sorted(paired), second.to_json()
            # Polymarket resolved; Kalshi's markets are determined, not final: not settled yet
            assert second.settled and all(k.startswith("POLYMARKET:") for k in second.settled), second.to_json()
            sim.world.life.advance(max(lives[g].finalize_us for g in paired) + 1)
            third = await svc.run_once()
            assert third.settle_errors == [] and third.settled and all(k.startswith("KALSHI:") for k in third.settled), third.to_json()
            fourth = await svc.run_once()  # every market has its record: the game is no longer watched
            assert ends > 0 and fourth.settled == [] and all(g not in svc.watch for g in paired)
        finally:
            svc.close()
            await rest.aclose()
            await gamma.aclose()
            await clob.aclose()
    recs = {f"{r['venue']}:{r['market']}": from_dict(Settlement, r) for r in _settlements(topics)}
    for gid, p in paired.items():
        keys = {f"{b.venue}:{i.market}" for b in p.books for i in b.instruments}
        assert keys <= set(recs), sorted(keys - set(recs))
        assert settlement_mismatch(p, recs) is None
        assert venue_verdict(p, "KALSHI", recs) == venue_verdict(p, "POLYMARKET", recs) == lives[gid].winner
    assert len(recs) == len({(r["venue"], r["market"]) for r in _settlements(topics)})  # never twice
