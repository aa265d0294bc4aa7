"""`arb discover --once` with ARB_DISCOVER_EXCLUDE_LEAGUES (issue 29, "Also"): a league excluded after its games
were published has them withdrawn from `markets` by tombstones on the next round, and is never published again."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import pytest

from core.settings import KafkaSettings
from simulators.runner import Simulator
from simulators.settings import SimSettings
from tests.conftest import REPO
from tests.integration.test_discover_produce import env, pairings

pytestmark = pytest.mark.integration


async def discover(kafka: KafkaSettings, sim: Simulator, **extra: str) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "cli", "discover", "--once", cwd=REPO, env={**env(kafka, sim), **extra},
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()[-2000:]
    return dict(json.loads(out.decode().strip().splitlines()[-1]))


async def test_an_excluded_league_is_withdrawn_and_not_published_again(topics: KafkaSettings) -> None:
    async with Simulator(SimSettings(games=4, updates_per_s=20, arb_rate_per_min=0)) as sim:
        games = sorted(sim.world.games.values(), key=lambda g: g.game_id)
        rep = await discover(topics, sim)
        assert rep["ok"] and sorted(rep["published"]) == [g.game_id for g in games]
        league = games[0].game_id.split("-")[0]
        gone = sorted(g.game_id for g in games if g.game_id.startswith(league + "-"))
        kept = sorted(g.game_id for g in games if g.game_id not in gone)

        rep = await discover(topics, sim, ARB_DISCOVER_EXCLUDE_LEAGUES=league.upper())
        assert rep["ok"] and rep["tombstoned"] == gone and rep["published"] == [], rep
        assert rep["excluded"] and all("ARB_DISCOVER_EXCLUDE_LEAGUES" in e["reason"] for e in rep["excluded"])
        assert sorted(pairings(topics)) == kept

        rep = await discover(topics, sim, ARB_DISCOVER_EXCLUDE_LEAGUES=league)
        assert rep["ok"] and rep["tombstoned"] == [] and rep["published"] == [] and rep["unchanged"] == len(kept)
