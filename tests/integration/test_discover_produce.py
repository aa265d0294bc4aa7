"""`arb discover` and `arb produce polymarket` against the simulator (issue 4 acceptance):
discovery pairs every simulated game and rejects a same-teams game on another date, republishes only
changes, tombstones a vanished game; the Polymarket feed's ticks land in each game's partition."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import sys
from typing import Any

import pytest

from core.markets_cache import MarketsCache
from core.partitioning import partition_for
from core.settings import KafkaSettings
from schemas.records import to_dict
from simulators.runner import Simulator
from simulators.scenario import _poly_market
from simulators.settings import SimSettings
from tests.conftest import REPO
from tests.integration.test_produce_kalshi import TickReader
from tests.kafka_helpers import eventually

pytestmark = pytest.mark.integration


def env(kafka: KafkaSettings, sim: Simulator) -> dict[str, str]:
    return {**os.environ, "ARB_BOOTSTRAP": kafka.bootstrap, "ARB_TOPIC_PREFIX": kafka.topic_prefix, "ARB_PARTITIONS": str(kafka.partitions),
            "ARB_KALSHI_REST_URL": sim.kalshi_url, "ARB_GAMMA_URL": sim.gamma_url, "ARB_POLY_WS_URL": sim.poly_ws_url,
            "ARB_POLY_CLOB_URL": sim.poly_clob_url,  # discovery reads each market's fee parameters from the CLOB
            "ARB_LOG_LEVEL": "WARNING"}


async def discover_once(kafka: KafkaSettings, sim: Simulator) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "cli", "discover", "--once", cwd=REPO, env=env(kafka, sim),
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()[-2000:]
    return dict(json.loads(out.decode().strip().splitlines()[-1]))


def pairings(kafka: KafkaSettings) -> dict[str, dict[str, Any]]:
    cache = MarketsCache(kafka).start(wait_s=15)
    try:
        return {g: to_dict(p) for g, p in cache.pairings.items()}
    finally:
        cache.stop()


async def test_discover_pairs_and_feed_produces(topics: KafkaSettings) -> None:
    async with Simulator(SimSettings(games=4, updates_per_s=20, arb_rate_per_min=0)) as sim:
        games = sorted(sim.world.games.values(), key=lambda g: g.game_id)
        # Same teams a week later, listed only at Polymarket: must not pair with the Kalshi game.
        g0 = games[0]
        later = str(int(g0.date) + 7)
        ghost = dataclasses.replace(g0, game_id=g0.game_id.replace(g0.date, later), date=later, start_ts_us=g0.start_ts_us + 7 * 86_400_000_000,
                                    kalshi_markets={}, poly_markets=[_poly_market(99, "ghost", pm.outcome_code, pm.outcomes, pm.question,
                                                                                  pm.slug.replace(g0.date[:4], "ghost"), pm.tick)
                                                                     for pm in g0.poly_markets])
        sim.world.add_game(ghost)

        rep = await discover_once(topics, sim)
        assert rep["ok"] and rep["paired"] == 4 and sorted(rep["published"]) == [g.game_id for g in games]
        assert any(u["venue"] == "POLYMARKET" and "no Kalshi game" in u["reason"] for u in rep["unmatched"])
        got = pairings(topics)
        assert sorted(got) == [g.game_id for g in games]
        for g in games:
            venues = {b["venue"] for b in got[g.game_id]["books"]}
            assert venues == {"KALSHI", "POLYMARKET"}
            tokens = {i["market"] for b in got[g.game_id]["books"] if b["venue"] == "POLYMARKET" for i in b["instruments"]}
            assert tokens == {t for pm in g.poly_markets for t in pm.token_ids}

        again = await discover_once(topics, sim)
        assert again["published"] == [] and again["unchanged"] == 4 and again["tombstoned"] == []

        for ticker in games[1].kalshi_markets.values():  # the game closes at Kalshi
            sim.world.kalshi_markets[ticker].status = "closed"
        third = await discover_once(topics, sim)
        assert third["tombstoned"] == [games[1].game_id]
        assert sorted(pairings(topics)) == sorted(g.game_id for g in games if g is not games[1])

        proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "cli", "produce", "polymarket", cwd=REPO, env=env(topics, sim),
                                                    stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        try:
            reader = TickReader(topics)
            live = {g.game_id: g for g in games if g is not games[1]}
            want = {t: gid for gid, g in live.items() for pm in g.poly_markets for t in pm.token_ids}
            await eventually(lambda: {t["market"] for _, t in reader.drain() if t["status"] == "OK"} >= set(want), 45)
            for part, t in reader.drain():
                assert t["venue"] == "POLYMARKET" and want[t["market"]] == t["game_id"]
                assert part == partition_for(t["game_id"], topics.partitions)
        finally:
            proc.terminate()
            _, err = await asyncio.wait_for(proc.communicate(), 20)
        assert proc.returncode in (0, -15), err.decode()[-2000:]
