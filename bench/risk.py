"""`arb bench risk`: what the executor's risk gate computes for every signal, against the number of games held.

For every signal the gate reads the group's risk state (executor/group_risk.py) under its lock, on the executor's event
loop: the day's P&L (realized, and every open holding marked), the signal's game's exposure and its partition's.
This times those three on a synthetic state of N held games (each a Kalshi and a Polymarket leg bought twice, spread
over the 12 signals partitions), so a cost that grows faster than the games held shows. Between two signals the marks
move, as they do live (the `positions` topic): before each timed computation one held instrument gets a new mark, not
timed, so its game's figures are made again. No broker involved.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from typing import Any

from bench.args import int_list

DEFAULT_GAMES = "50,200,500"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("risk", help="the executor's risk gate: its per-signal computation against the games held",
                       description="Times the day's P&L, a game's exposure and a partition's exposure (what the risk gate reads for "
                                   "every signal) on a synthetic risk state with N games held. Prints p50/p99 per N.")
    p.add_argument("--games", default=DEFAULT_GAMES, help=f"games held, comma-separated (default {DEFAULT_GAMES})")
    p.add_argument("--n", type=int, default=200, help="gate computations timed per level (default 200)")
    p.add_argument("--json", action="store_true", help="print one JSON line")
    p.set_defaults(handler=run)


def _levels(text: str) -> list[int]:
    from core.errors import CommandError

    levels = int_list(text, "--games")
    if min(levels) < 1:
        raise CommandError("--games must be positive integers", 2)
    return levels


def _pairing(game: str) -> Any:
    from schemas.records import MarketPairing, from_dict

    def book(venue: str, market: str, instruments: list[tuple[str, str, list[str]]]) -> dict[str, Any]:
        return {"venue": venue, "market": market, "event": "e", "tick_size": 100, "min_size": 100,
                "fee": {"model": "NONE", "rate_ppm": 0, "multiplier_ppm": 1_000_000, "exponent": 1}, "seconds_delay": 0,
                "neg_risk": False, "exchange_version": 0, "exchange_index": 0,
                "instruments": [{"market": m, "side": side, "label": m, "pays_on": pays_on} for m, side, pays_on in instruments]}

    return from_dict(MarketPairing, {
        "game_id": game, "league": "nfl", "game_date": "20261207", "start_ts": None, "away": "away", "home": "home",
        "outcomes": ["home", "away"], "updated_ts": 0,
        "books": [book("KALSHI", f"K-{game}", [(f"K-{game}", "YES", ["home"]), (f"K-{game}", "NO", ["away"])]),
                  book("POLYMARKET", f"cond-{game}", [(f"away-{game}", "YES", ["away"]), (f"home-{game}", "YES", ["home"])])],
    })


def gate_times(games: int, n: int, now_us: int) -> list[float]:
    """µs per gate computation (the figures RiskGate.check reads) with `games` games held."""
    from zoneinfo import ZoneInfo

    from core.partitioning import partition_for
    from executor.group_risk import RiskFold
    from schemas.records import Fill, Position, from_dict

    rng = random.Random(games)
    fold, pairings = RiskFold(ZoneInfo("America/New_York")), {}
    for i in range(games):
        game = f"nfl-20261207-g{i}"
        pairings[game] = _pairing(game)
        for j, (venue, market) in enumerate([("KALSHI", f"K-{game}"), ("POLYMARKET", f"away-{game}")] * 2):
            fold.apply_fill(from_dict(Fill, {"fill_id": f"{game}-{j}", "client_order_id": f"{game}-{j}", "signal_id": f"s-{game}", "game_id": game,
                                             "venue": venue, "market": market, "side": "YES", "action": "BUY", "price": rng.randint(4_000, 5_500),
                                             "size": 1_000, "fee": 0, "paper": False, "ts": now_us}), partition_for(game, 12))
    names = list(pairings)
    out: list[float] = []
    for k in range(n):
        game = names[k % len(names)]
        moved = rng.choice(names)
        fold.apply_position(from_dict(Position, {"key": f"KALSHI:K-{moved}:YES", "game_id": moved, "venue": "KALSHI", "market": f"K-{moved}",
                                                 "side": "YES", "contracts": 0, "cost": 0, "fees": 0, "realized_pnl": 0, "unrealized_pnl": 0,
                                                 "mark_price": rng.randint(4_000, 5_500), "settled": False, "ts": now_us}))
        t0 = time.perf_counter()
        fold.day_pnl(now_us, pairings)
        fold.game_exposure(game, pairings[game])
        fold.partition_exposure(partition_for(game, 12), pairings)
        out.append((time.perf_counter() - t0) * 1e6)
    return out


def run(args: argparse.Namespace) -> int:
    from bench._stats import percentile
    from core.units import now_us

    rows = []
    for games in _levels(args.games):
        times = sorted(gate_times(games, args.n, now_us()))
        rows.append({"games": games, "p50_us": round(percentile(times, 50), 1), "p99_us": round(percentile(times, 99), 1), "n": args.n})
    out = {"levels": rows}
    print(json.dumps(out) if args.json else json.dumps(out, indent=2))
    return 0
