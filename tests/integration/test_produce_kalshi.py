"""Simulator -> Kalshi feed -> `ticks`: every paired game's ticks land in its partition; subscriptions
follow `markets` live; a seq gap makes books RESYNCING, then OK again after the re-snapshot."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import OFFSET_BEGINNING, TopicPartition

from core import codec
from core.kafka import make_consumer, make_producer
from core.partitioning import partition_for
from core.settings import KafkaSettings
from core.topics import topic_name
from core.units import now_us
from producers.handoff import Handoff
from producers.kalshi_feed import KalshiFeed
from producers.service import ProducerService
from producers.settings import FeedSettings
from simulators.runner import Simulator
from simulators.settings import SimSettings
from tests.kafka_helpers import eventually

pytestmark = pytest.mark.integration

FEE = {"model": "KALSHI_QUADRATIC", "rate_ppm": 70000, "multiplier_ppm": 1_000_000, "exponent": 1}


def kalshi_pairing(game: Any) -> dict[str, Any]:
    """A MarketPairing with the game's Kalshi books only (what discovery publishes, Kalshi half)."""
    outcomes = list(game.outcomes)
    books = [{"venue": "KALSHI", "market": t, "event": game.kalshi_event, "tick_size": 100, "min_size": 100, "fee": FEE,
              "seconds_delay": 0, "neg_risk": False, "exchange_version": 0, "exchange_index": -1,
              "instruments": [{"market": t, "side": "YES", "label": code, "pays_on": [code]},
                              {"market": t, "side": "NO", "label": f"not {code}", "pays_on": [o for o in outcomes if o != code]}]}
             for code, t in game.kalshi_markets.items()]
    return {"game_id": game.game_id, "league": game.league, "game_date": game.date, "start_ts": None, "away": game.away,
            "home": game.home, "outcomes": outcomes, "books": books, "updated_ts": now_us()}


class TickReader:
    def __init__(self, s: KafkaSettings) -> None:
        self.c = make_consumer(s, None)
        topic = topic_name("ticks", s)
        self.c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(s.partitions)])
        self.ticks: list[tuple[int, dict[str, Any]]] = []

    def drain(self) -> list[tuple[int, dict[str, Any]]]:
        while (m := self.c.poll(0.05)) is not None:
            if not m.error():
                self.ticks.append((m.partition() or 0, codec.decode(m.value() or b"", "Tick")))
        return self.ticks


async def test_feed_to_ticks(topics: KafkaSettings, tmp_path: Path) -> None:
    async with Simulator(SimSettings(games=3, updates_per_s=50, arb_rate_per_min=0, kalshi_tier="unlimited")) as sim:
        assert sim.kalshi_private_key is not None
        games = list(sim.world.games.values())
        p = make_producer(topics)
        for g in games[:2]:
            p.produce(topic_name("markets", topics), key=g.game_id, value=codec.encode("MarketPairing", kalshi_pairing(g)))
        assert p.flush(10) == 0
        handoff: Handoff[dict[str, Any]] = Handoff(1000)
        feed = KalshiFeed(url=sim.kalshi_ws_url, key_id=sim.settings.kalshi_key_id, private_key=sim.kalshi_private_key, markets={},
                          handoff=handoff, settings=FeedSettings())
        service = ProducerService(topics, {"KALSHI": feed}, handoff)
        task = asyncio.create_task(service.run())
        reader = TickReader(topics)
        try:
            paired = {t: g.game_id for g in games[:2] for t in g.kalshi_markets.values()}
            await eventually(lambda: {t["market"] for _, t in reader.drain() if t["status"] == "OK"} >= set(paired), 30)
            for part, t in reader.drain():
                assert t["market"] in paired and t["game_id"] == paired[t["market"]]
                assert part == partition_for(t["game_id"], topics.partitions)
                assert t["received_ts"] <= t["produced_ts"]
                assert t["bids"] == sorted(t["bids"], key=lambda lv: -lv["price"]) and t["asks"] == sorted(t["asks"], key=lambda lv: lv["price"])

            # live follow: pair the third game; tombstone the first
            third = games[2]
            p.produce(topic_name("markets", topics), key=third.game_id, value=codec.encode("MarketPairing", kalshi_pairing(third)))
            p.produce(topic_name("markets", topics), key=games[0].game_id, value=None)
            assert p.flush(10) == 0
            await eventually(lambda: any(t["game_id"] == third.game_id for _, t in reader.drain()), 30)
            await eventually(lambda: not any(m in feed.markets for m in games[0].kalshi_markets.values()), 10)

            # a seq gap: books go RESYNCING, then OK after the re-snapshot; no OK tick built across the gap
            n = len(reader.drain())
            sim.world.faults["KALSHI"].update({"seq_skip": 1})
            await eventually(lambda: any(t["status"] == "RESYNCING" for _, t in reader.drain()[n:]), 30)
            first_resync = next(i for i, (_, t) in enumerate(reader.ticks) if i >= n and t["status"] == "RESYNCING")
            await eventually(lambda: any(t["status"] == "OK" for _, t in reader.ticks[first_resync:]), 30)
            assert feed.metrics.gaps >= 1
        finally:
            service.stop()
            await asyncio.wait_for(task, 20)
            reader.c.close()
