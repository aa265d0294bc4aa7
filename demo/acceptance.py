"""The demo's account of games through their life, and its acceptance verdicts (issue 26), pure.

From the records the collector read (signals, orders, fills, outcomes, `markets`, `settlements`) and the
simulator's game lives (admin GET /games): counts per time bucket (signals, orders, fills, expired, rejected by
reason class, games settled, their realized P&L), the games' life (listed, ended, resolved, settled), realized
P&L per settled game from positions/fold.Book (the one fold of fills and settlements), checked against a cash-flow
recomputation that does not use the Book, and a verdict per acceptance condition of an hour-long demo:

- the last complete bucket has >= 80% of the first bucket's signals and fills (trading does not dry up);
- expired signals <= 2% of all signals;
- every game the simulator finalized (both venues final) is settled: a Settlement record for each of its markets;
- realized P&L of the settled games, summed, equals the recomputation from the fills and settlements.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from demo.stats import DemoStats, money_text
from positions.fold import Book, settlement_pays

# The executor's rejection reasons (executor/risk.py, limits.py, balances.py, group_risk.py, service.py), by
# class: the first substring found names the class.
REASON_CLASSES = (
    ("exposure limit", "exposure limit"),
    ("daily loss limit", "daily loss limit"),
    ("kill switch", "kill switch"),
    ("circuit breaker", "circuit breaker"),
    ("risk state", "risk state unknown"),
    ("risk reader", "risk state unknown"),
    ("balance", "balance"),
    ("orders per second", "order rate"),
    ("invalid signal", "invalid signal"),
    ("unknown game", "unknown game"),
)
SIGNAL_CHECK_WORDS = ("cap", "limit price", "tick", "does not match", "recomputed edge", "expected fee", "legs", "size")

MIN_LAST_OVER_FIRST = (4, 5)  # the last bucket's signals and fills >= 4/5 of the first's
MAX_EXPIRED_SHARE = (1, 50)  # expired <= 1/50 of the signals

ENDED = ("closed", "determined", "finalized")  # simulators/lifecycle.py phases after the game's end
RESOLVED = ("determined", "finalized")


def reason_class(reason: str | None) -> str:
    text = (reason or "").lower()
    for words, cls in REASON_CLASSES:
        if words in text:
            return cls
    return "signal checks" if any(w in text for w in SIGNAL_CHECK_WORDS) else "other"


def game_markets(pairing: Mapping[str, Any]) -> set[str]:
    """The "VENUE:market" keys of a pairing's instruments: what must each have a Settlement record."""
    return {f"{b['venue']}:{i['market']}" for b in pairing["books"] for i in b["instruments"]}


def settled_at(pairings: Mapping[str, Mapping[str, Any]], settlements: Mapping[str, Mapping[str, Any]]) -> dict[str, int]:
    """Games every market of which has a Settlement record -> when the last one was published (µs)."""
    out: dict[str, int] = {}
    for gid, p in pairings.items():
        keys = game_markets(p)
        if keys and keys <= set(settlements):
            out[gid] = max(int(settlements[k]["published_ts"]) for k in keys)
    return out


def fold_book(fills: Iterable[Mapping[str, Any]], settlements: Iterable[Mapping[str, Any]]) -> Book:
    return Book().fold(fills).fold_settlements(settlements)


def cash_flow_pnl(fills: Iterable[Mapping[str, Any]], settlements: Mapping[str, Mapping[str, Any]]) -> dict[str, int]:
    """Realized P&L (1e-6 USD) per game whose every held instrument is paid, recomputed as cash: what the sales
    brought minus what the buys and fees cost plus what the settlement paid for the contracts still held. Needs
    no cost basis, so it checks the Book's average-cost arithmetic. Games holding an unpaid instrument are left out."""
    pays: dict[tuple[str, str, str], int] = {}
    for rec in settlements.values():
        pays.update(settlement_pays(rec))
    cash: dict[str, int] = {}
    held: dict[str, dict[tuple[str, str, str], int]] = {}
    seen: set[str] = set()
    for f in fills:
        if f["fill_id"] in seen:
            continue
        seen.add(f["fill_id"])
        size, sign = int(f["size"]), (1 if f["action"] == "SELL" else -1)
        g = f["game_id"]
        cash[g] = cash.get(g, 0) + sign * int(f["price"]) * size - int(f["fee"])
        k = (f["venue"], f["market"], f["side"])
        game = held.setdefault(g, {})
        game[k] = game.get(k, 0) - sign * size
    out: dict[str, int] = {}
    for g, instruments in held.items():
        if all(k in pays for k, n in instruments.items() if n != 0) and any(k in pays for k in instruments):
            out[g] = cash[g] + sum(n * pays[k] for k, n in instruments.items() if n != 0)
    return out


def realized(stats: DemoStats) -> tuple[dict[str, Any], dict[str, int]]:
    """Realized P&L from the Book: per settled game, their sum, the run's total (incl. fees and closes of games not
    settled yet) and the check against cash_flow_pnl; and the settled games' P&L (1e-6 USD)."""
    book = fold_book(stats.fills.values(), stats.settlements.values())
    per_game = book.game_realized()
    settled = sorted(book.settled_games())
    by_game = {g: per_game[g] for g in settled}
    cash = cash_flow_pnl(stats.fills.values(), stats.settlements)
    mismatched = sorted(g for g in settled if cash.get(g) != by_game[g])
    total, settled_sum = sum(per_game.values()), sum(by_game.values())
    return {"settled_games": {g: money_text(v) for g, v in by_game.items()}, "settled_sum": money_text(settled_sum),
            "recomputed_sum": money_text(sum(cash.get(g, 0) for g in settled)), "total": money_text(total),
            "unsettled_games": money_text(total - settled_sum), "mismatched_games": mismatched,
            "sum_matches": not mismatched and settled_sum == sum(cash.get(g, 0) for g in settled),
            "conflicting_settlements": list(book.conflicting)}, by_game


def buckets(stats: DemoStats, start_us: int, bucket_us: int, end_us: int, realized_by_game: Mapping[str, int]) -> list[dict[str, Any]]:
    """Counts per bucket of `bucket_us` from `start_us` (records before it count in the first, e.g. the pipeline's
    first signals): signals (detected), orders (sent), fills, expired and rejected (by reason class) outcomes, games
    settled (the last Settlement record of the game published) and their realized P&L. Buckets run at least to
    `end_us`; a record after it (the drain) opens a later, partial bucket."""
    def at(ts: int) -> int:
        return max(0, (ts - start_us) // bucket_us)

    rows: dict[int, dict[str, Any]] = {}

    def row(ts: int) -> dict[str, Any]:
        i = at(ts)
        return rows.setdefault(i, {"start_s": i * bucket_us // 1_000_000, "signals": 0, "orders": 0, "fills": 0, "expired": 0,
                                   "rejected": {}, "settled_games": 0, "realized_pnl": 0})

    for s in stats.signals.values():
        row(int(s["detected_ts"]))["signals"] += 1
    sent: dict[str, int] = {}
    for o in stats.order_results.values():
        if o.get("sent_ts"):
            sent.setdefault(o["client_order_id"], int(o["sent_ts"]))
    for ts in sent.values():
        row(ts)["orders"] += 1
    for f in stats.fills.values():
        row(int(f["ts"]))["fills"] += 1
    for o in stats.outcomes.values():
        if o["state"] == "EXPIRED":
            row(int(o["ts"]))["expired"] += 1
        elif o["state"] == "REJECTED":
            r = row(int(o["ts"]))["rejected"]
            cls = reason_class(o.get("reason"))
            r[cls] = r.get(cls, 0) + 1
    for g, ts in settled_at(stats.pairings, stats.settlements).items():
        r = row(ts)
        r["settled_games"] += 1
        r["realized_pnl"] += realized_by_game.get(g, 0)
    for i in range(max(1, -(-(end_us - start_us) // bucket_us))):
        row(start_us + i * bucket_us)
    out = [rows[i] for i in sorted(rows)]
    for r in out:
        r["realized_pnl"] = money_text(r["realized_pnl"])
    return out


def complete_buckets(start_us: int, bucket_us: int, end_us: int) -> int:
    """How many buckets lie wholly inside the run [start_us, end_us)."""
    return max(0, (end_us - start_us) // bucket_us)


def game_life(sim_games: Sequence[Mapping[str, Any]] | None, stats: DemoStats) -> dict[str, Any]:
    """The games' life as the simulator has it (listed, ended, resolved by the venues, finalized) next to the
    pipeline's (paired by discovery, settled: every market has a Settlement record). `unsettled`: games the
    simulator finalized (both venues final: discovery can publish) without a complete set of records."""
    done = settled_at(stats.pairings, stats.settlements)
    out: dict[str, Any] = {"paired": len(stats.pairings), "withdrawn": len(stats.withdrawn), "settled": len(done)}
    if sim_games is None:
        return {**out, "listed": None, "ended": None, "resolved": None, "finalized": None, "unsettled": None}
    phases = {str(g["game_id"]): str((g.get("life") or {}).get("phase") or "open") for g in sim_games}
    finalized = sorted(g for g, ph in phases.items() if ph == "finalized")
    return {**out, "listed": len(phases), "ended": sum(1 for ph in phases.values() if ph in ENDED),
            "resolved": sum(1 for ph in phases.values() if ph in RESOLVED), "finalized": len(finalized),
            "unsettled": [g for g in finalized if g not in done]}


def verdicts(rows: list[dict[str, Any]], n_complete: int, signals: int, expired: int, life: Mapping[str, Any],
             pnl: Mapping[str, Any]) -> dict[str, Any]:
    """One verdict per acceptance condition; `ok` None when the run cannot tell (fewer than two complete buckets,
    no signal, no game finalized, the simulator's games unknown)."""
    out: dict[str, Any] = {}
    if n_complete >= 2:
        first, last = rows[0], rows[n_complete - 1]
        num, den = MIN_LAST_OVER_FIRST

        def ratio(k: str) -> float | None:
            return round(last[k] / first[k], 3) if first[k] else None

        ok = all(last[k] * den >= first[k] * num for k in ("signals", "fills")) and first["signals"] > 0
        out["last_over_first"] = {"first": {k: first[k] for k in ("signals", "fills")}, "last": {k: last[k] for k in ("signals", "fills")},
                                  "signals": ratio("signals"), "fills": ratio("fills"), "ok": ok}
    else:
        out["last_over_first"] = {"ok": None, "why": f"{n_complete} complete bucket(s): at least 2 needed"}
    num, den = MAX_EXPIRED_SHARE
    out["expired_share"] = {"expired": expired, "signals": signals, "share": round(expired / signals, 4) if signals else None,
                            "ok": expired * den <= signals * num if signals else None}
    unsettled = life.get("unsettled")
    out["ended_games_settled"] = {"finalized": life.get("finalized"), "settled": life.get("settled"), "unsettled": unsettled,
                                  "ok": None if unsettled is None or not life.get("finalized") else not unsettled}
    out["pnl_sum"] = {"settled_sum": pnl["settled_sum"], "recomputed_sum": pnl["recomputed_sum"], "ok": bool(pnl["sum_matches"])}
    return out
