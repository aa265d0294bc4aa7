"""What the processor benchmarks share: synthetic games and ticks, seeding the pairings, starting and
stopping `arb process` workers, one game per partition (`bench process`, `bench throughput`,
`bench chaos --scenario processor-kill|corrupt-records`)."""

from __future__ import annotations

import os
import signal as signals
import subprocess
import sys
from pathlib import Path
from typing import Any

from core.settings import KafkaSettings
from localkafka.broker import die_with_parent

# The detector's minimum edges for the synthetic books: every pair of ticks is an opportunity. One fill per leg:
# with the default bound for three (ARB_FILLS_PER_LEG) a pair of up to 3 contracts is none, and the 1-contract
# pairs `bench process` warms up with never signalled.
EDGE_ENV = {"ARB_MIN_EDGE_MONEY": "1", "ARB_MIN_EDGE_PER_CONTRACT": "1", "ARB_FILLS_PER_LEG": "1"}


def pairing(game: str) -> dict[str, Any]:
    fee = {"model": "KALSHI_QUADRATIC", "rate_ppm": 70_000, "multiplier_ppm": 1_000_000, "exponent": 1}
    books = [{"venue": "KALSHI", "market": f"{game}-{c}", "event": game, "tick_size": 100, "min_size": 100, "fee": fee, "seconds_delay": 0,
              "neg_risk": False, "exchange_version": 0, "exchange_index": -1,
              "instruments": [{"market": f"{game}-{c}", "side": "YES", "label": c, "pays_on": [c]},
                              {"market": f"{game}-{c}", "side": "NO", "label": f"not {c}", "pays_on": [o for o in ("a", "b") if o != c]}]}
             for c in ("a", "b")]
    return {"game_id": game, "league": "nfl", "game_date": "20261129", "start_ts": None, "away": "a", "home": "b", "outcomes": ["a", "b"],
            "books": books, "updated_ts": 0}


def tick(game: str, c: str, seq: int, ask: int, size: int) -> dict[str, Any]:
    from core.units import now_us

    t = now_us()
    return {"tick_id": f"KALSHI:{game}-{c}:1:{seq}", "game_id": game, "venue": "KALSHI", "market": f"{game}-{c}", "status": "OK",
            "bids": [{"price": ask - 200, "size": size}], "asks": [{"price": ask, "size": size}], "tick_size": 100, "venue_ts": None,
            "received_ts": t, "produced_ts": t}


def seed_games(kafka: KafkaSettings, n: int) -> dict[str, dict[str, Any]]:
    """Create the topics and publish the pairings of games g000..g{n-1}; returns them by game."""
    from core import codec
    from core.kafka import make_admin, make_producer
    from core.topic_admin import ensure_topics
    from core.topics import topic_name

    ensure_topics(make_admin(kafka), kafka)
    pairings = {f"g{i:03d}": pairing(f"g{i:03d}") for i in range(n)}
    prod = make_producer(kafka)
    for g, p in pairings.items():
        prod.produce(topic_name("markets", kafka), key=g, value=codec.encode("MarketPairing", p))
    # Every pairing on the broker before a worker starts: the benches' offline detector knows every game, and a worker
    # that loaded its markets without one would not evaluate that game's first ticks (signals counted as lost).
    left = prod.flush(30)
    if left:
        raise RuntimeError(f"{left} of {n} pairings not delivered to Kafka within 30 s")
    return pairings


def one_per_partition(games: list[str], partitions: int) -> set[str]:
    """The first game of every partition that holds one (murmur2 of the key, as the producers)."""
    from core.partitioning import partition_for

    by_partition: dict[int, str] = {}
    for g in games:
        by_partition.setdefault(partition_for(g, partitions), g)
    return set(by_partition.values())


def start_worker(kafka: KafkaSettings, datadir: Path, log_path: Path, env: dict[str, str] | None = None,
                 loglevel: str = "warning") -> subprocess.Popen[bytes]:
    """An `arb process` child in its own session (killable as a group), its stderr appended to log_path."""
    full = {**os.environ, "ARB_BOOTSTRAP": kafka.bootstrap, "ARB_TOPIC_PREFIX": kafka.topic_prefix, "ARB_FAUST_DATADIR": str(datadir),
            **EDGE_ENV, **(env or {})}
    return subprocess.Popen([*die_with_parent(), sys.executable, "-m", "cli", "process", "--loglevel", loglevel], env=full, stdout=subprocess.DEVNULL,
                            stderr=log_path.open("ab"), start_new_session=True)


def stop_workers(*workers: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM every live worker, then SIGKILL those not gone within 15 s."""
    live = [w for w in workers if w is not None and w.poll() is None]
    for w in live:
        os.killpg(w.pid, signals.SIGTERM)
    for w in live:
        try:
            w.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(w.pid, signals.SIGKILL)
