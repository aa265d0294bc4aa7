"""`arb bench chaos --scenario venue-ambiguity`: ambiguous venue answers on both venues, thin books, SIGKILLs.

A real executor child (`arb execute`, live Kalshi and Polymarket clients) against the simulator (`arb sim` child with
throwaway Polymarket credentials) and a local Kafka (bench/chaos_rig.py Rig):
- `--signals` (default 1,000) signals stream into `signals`: mostly cross-venue (Kalshi YES on one team + the
  Polymarket token of the other), some intra-Kalshi (YES + YES), 10 contracts each. Right before each signal the bench
  sets THIN books for its game (0-40 contracts at the limit, sometimes nothing, sometimes a better level, bids a tick or
  two below for the unwind ladder), so partial and one-sided fills happen and the next signal moves the books again;
- a seeded fault mixer switches a random mix of the simulator's faults on both venues every few seconds through the
  admin API: accept_then_5xx, next_accept_then_5xx, accept_then_timeout (+ timeout_hold_ms), lookup_lag_ms (kept
  below the executor's lookup grace: design.md's premise that a venue lists an accepted order within the grace),
  p401, next_401, p429, p5xx, and on Polymarket delay_s (the order answers `delayed` and matches later) and
  reject_in_200; calm spells in between;
- `--kills` (default 10) executor SIGKILLs with restarts: most while signals are in flight, some during the
  restarted executor's recovery. An executor that exits by itself is restarted and reported (`executor_self_exits`).
After the stream the faults are cleared, every signal's outcome is awaited, the executor is stopped, and the
simulator's ground truth (both venues' order logs) is compared with what the pipeline recorded (`orders`, `fills`,
`outcomes`, read_committed) by the pure folds below.

Counts (goal: the first five are 0): legs_executed_twice, venue_fills_not_recorded, recorded_fills_not_at_venue,
one_sided_without_alert, pending_unresolved; then unknown_outcomes with the reason of each. Evidence (order logs,
topic dumps, fault schedule, failures.json) stays in the work directory.

Heavy imports stay inside functions: `arb` imports every bench module at start-up.
"""

from __future__ import annotations

import json
import random
import re
import statistics
import tempfile
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import chaos_rig as cr
from bench.chaos_counts import NO_TICKS, with_counts
from schemas.records import FeeParams, from_dict, to_dict

SIZE = 1000  # 1e-2 contracts: 10 per leg
KALSHI_LIMIT = 4500  # 1e-4 USD: Kalshi YES bought at 0.45
POLY_LIMIT = 5000  # Polymarket token bought at 0.50
TTL_S = 4.0
INTRA_KALSHI_SHARE = 0.2
LOOKUP_GRACE_MS = 3000  # the executor's lookup grace in this scenario; lookup lags stay below it
FAULT_PERIOD_S = 3.0
INTERNAL_ACCOUNTS = frozenset({"mm", "flow", "arb", "admin"})
POLY_DUST = 500  # executor/settlement.py Settler.poly_dust: a Polymarket excess below the min order size is kept
POLY_FEE = {"model": "POLYMARKET_POWER", "rate_ppm": 30_000, "multiplier_ppm": 1_000_000, "exponent": 1}
POLY_FEE_PARAMS = from_dict(FeeParams, POLY_FEE)
TERMINAL = frozenset({"FILLED", "PARTIAL_BALANCED", "COMPLETED", "UNWOUND", "NOT_FILLED", "EXPIRED", "REJECTED", "UNKNOWN"})
NO_BOOK_JUDGE = "synthetic signals over books the bench sets: no detector, nothing to judge a trade's book against"


# ---- the world: games, pairings, thin books -------------------------------------------------------------------


@dataclass(frozen=True)
class Game:
    game_id: str
    league: str
    date: str
    away: str
    home: str
    kalshi: dict[str, str]  # outcome -> ticker
    condition_id: str
    tokens: tuple[str, str]  # token 0 pays on away, token 1 on home (moneyline)
    tick: int
    slug: str


def sim_games(rig: cr.Rig) -> list[Game]:
    """Every no-draw game of the simulator (a moneyline market: one token per team)."""
    out = []
    for g in rig.admin("GET", "/games")["games"]:
        if g.get("draw_possible") or not g.get("poly_markets"):
            continue
        pm = g["poly_markets"][0]
        out.append(Game(g["game_id"], g["league"], g["date"], g["away"], g["home"], dict(g["kalshi_markets"]), pm["condition_id"],
                        (pm["token_ids"][0], pm["token_ids"][1]), int(pm["tick"]), pm["slug"]))
    if not out:
        raise RuntimeError("the simulator has no no-draw game")
    return out


def pairing(g: Game) -> dict[str, Any]:
    """The MarketPairing the executor's MarketsCache needs to sign Polymarket orders of `g` (tick, fee, exchange)."""
    poly = {"venue": "POLYMARKET", "market": g.condition_id, "event": g.slug, "tick_size": g.tick, "min_size": 500, "fee": POLY_FEE,
            "seconds_delay": 0, "neg_risk": False, "exchange_version": 2, "exchange_index": 0,
            "instruments": [{"market": g.tokens[0], "side": "YES", "label": g.away, "pays_on": [g.away]},
                            {"market": g.tokens[1], "side": "YES", "label": g.home, "pays_on": [g.home]}]}
    outcomes = [g.away, g.home]
    return {"game_id": g.game_id, "league": g.league, "game_date": g.date, "start_ts": None, "away": g.away, "home": g.home,
            "outcomes": outcomes, "updated_ts": 0, "books": [poly, *(cr.kalshi_book(g.kalshi[o], o, outcomes) for o in outcomes)]}


def _levels(levels: Iterable[tuple[int, int]]) -> list[list[str]]:
    return [[f"{p / 10_000:.4f}", f"{s / 100:.2f}"] for p, s in levels if s > 0]


def thin_kalshi(rng: random.Random) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """(bids, asks) of a Kalshi YES book: a few contracts at the 0.45 limit (sometimes none), a better level now and
    then; bids one tick down (a few contracts, sometimes none) and three ticks down (deep, most of the time) for the
    unwind ladder."""
    asks = [(KALSHI_LIMIT, rng.choice([0, 2, 4, 6, 8, 10, 10, 12, 20, 30]) * 100)]
    if rng.random() < 0.15:
        asks.insert(0, (KALSHI_LIMIT - 100, rng.choice([1, 3]) * 100))
        bids = [(KALSHI_LIMIT - 200, rng.choice([0, 3, 10]) * 100)]
    else:
        bids = [(KALSHI_LIMIT - 100, rng.choice([0, 3, 10]) * 100)]
    if rng.random() < 0.9:
        bids.append((KALSHI_LIMIT - 300, 5000))
    return bids, asks


def thin_poly(rng: random.Random, token: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """(bids, asks) in token-0 terms of a book where `token` is bought at 0.50: a few shares at the limit (sometimes
    none), sometimes a better level (a FAK BUY then receives more shares than ordered); bids for the unwind ladder as
    on Kalshi."""
    t_asks = [(POLY_LIMIT, rng.choice([0, 3, 5, 7, 10, 10, 12, 15, 20, 40]) * 100)]
    if rng.random() < 0.3:
        t_asks.insert(0, (POLY_LIMIT - 100, rng.choice([1, 2, 3]) * 100))
        t_bids = [(POLY_LIMIT - 200, rng.choice([0, 5, 10]) * 100)]
    else:
        t_bids = [(POLY_LIMIT - 100, rng.choice([0, 5, 10]) * 100)]
    if rng.random() < 0.9:
        t_bids.append((POLY_LIMIT - 300, 5000))
    if token == 0:
        return t_bids, t_asks
    # token 1 at p is token 0 at 1 - p: its asks are token-0 bids and the reverse
    return [(10_000 - p, s) for p, s in t_asks], [(10_000 - p, s) for p, s in t_bids]


class AmbiguityStreamer(cr.Streamer):
    """Cross-venue (and some intra-Kalshi) signals, each after its game's books are set thin."""

    def __init__(self, rig: cr.Rig, games: list[Game], n: int, rate: float, seed: int) -> None:
        super().__init__(rig, [], n, rate, TTL_S)
        self.games = games
        self.rng = random.Random(seed * 7919 + 1)
        self.kinds: dict[str, str] = {}  # signal_id -> "cross" | "intra"

    def _book(self, venue: str, book_id: str, bids: list[tuple[int, int]], asks: list[tuple[int, int]]) -> None:
        self.rig.admin("POST", "/book", {"venue": venue, "book_id": book_id, "bids": _levels(bids), "asks": _levels(asks)})

    def next_signal(self, i: int, now: int) -> dict[str, Any]:
        from core.ids import signal_id

        rng = self.rng
        gi = i % len(self.games)
        g = self.games[gi]
        # One direction per game: the simulator nets a market's two Polymarket tokens into one position, so after
        # buying the other token a SELL of this one would be refused for want of shares (INVALID_ORDER_NOT_ENOUGH_BALANCE)
        first, second = (g.away, g.home) if gi % 2 == 0 else (g.home, g.away)
        kt = g.kalshi[first]
        self._book("kalshi", kt, *thin_kalshi(rng))
        legs: list[dict[str, Any]] = [{"venue": "KALSHI", "market": kt, "book": kt, "side": "YES", "limit_price": KALSHI_LIMIT, "size": SIZE, "expected_fee": 0,
                 "pays_on": [first]}]
        if rng.random() < INTRA_KALSHI_SHARE:
            kind = "intra"
            kt2 = g.kalshi[second]
            self._book("kalshi", kt2, *thin_kalshi(rng))
            legs.append({"venue": "KALSHI", "market": kt2, "book": kt2, "side": "YES", "limit_price": KALSHI_LIMIT, "size": SIZE,
                         "expected_fee": 0, "pays_on": [second]})
        else:
            from core.fees import taker_fee

            kind = "cross"
            token = 0 if second == g.away else 1
            self._book("polymarket", g.condition_id, *thin_poly(rng, token))
            legs.append({"venue": "POLYMARKET", "market": g.tokens[token], "book": g.condition_id, "side": "YES", "limit_price": POLY_LIMIT,
                         "size": SIZE, "expected_fee": taker_fee(POLY_FEE_PARAMS, POLY_LIMIT, SIZE), "pays_on": [second]})
        ticks = [f"{leg['venue']}:{leg['market']}:{self.run_id}:{i}" for leg in legs]
        cost = sum(leg["limit_price"] * SIZE + leg["expected_fee"] for leg in legs)
        sig = {"signal_id": signal_id(g.game_id, legs, ticks), "game_id": g.game_id, "legs": legs, "size": SIZE, "cost": cost,
               "edge": 10_000 * SIZE - cost, "event_ts": now, "deadline_ts": now + self.ttl_us, "input_tick_ids": ticks,
               "input_received_ts": [now] * len(legs), "detected_ts": now}
        self.kinds[sig["signal_id"]] = kind
        return sig


# ---- faults ----------------------------------------------------------------------------------------------------


def draw_faults(rng: random.Random, venue: str, lookup_grace_ms: int = LOOKUP_GRACE_MS) -> dict[str, Any]:
    """One venue's faults for one spell: nothing (a calm spell) or a random mix of the ambiguous answers and refusals.
    Lookup lags stay below the executor's lookup grace: design.md's premise is that a venue lists an accepted order
    within the grace, and an order it still hides after that is taken as never executed."""
    if rng.random() < 0.25:
        return {}
    f: dict[str, Any] = {}
    if rng.random() < 0.5:
        f["accept_then_5xx"] = rng.choice([0.1, 0.25, 0.5])
    if rng.random() < 0.15:
        f["next_accept_then_5xx"] = rng.randint(1, 3)
    if rng.random() < 0.4:
        f["accept_then_timeout"] = rng.choice([0.1, 0.25])
        f["timeout_hold_ms"] = rng.choice([200, 1000, 5000])
    if rng.random() < 0.4:
        f["lookup_lag_ms"] = rng.choice([200, 800, int(lookup_grace_ms * 0.6)])
    if rng.random() < 0.15:
        f["p401"] = 0.1
    if rng.random() < 0.1:
        f["next_401"] = rng.randint(1, 2)
    if rng.random() < 0.15:
        f["p429"] = 0.15
    if rng.random() < 0.1:
        f["p5xx"] = 0.05
    if venue == "polymarket":
        if rng.random() < 0.4:
            f["delay_s"] = rng.choice([0.5, 1.0, 2.0])
        if rng.random() < 0.3:
            f["reject_in_200"] = 0.5
    return f


class FaultMixer(threading.Thread):
    """Every `period_s`, a fresh seeded mix of faults on each venue (admin API); `stop()` clears them."""

    def __init__(self, rig: cr.Rig, seed: int, period_s: float = FAULT_PERIOD_S) -> None:
        super().__init__(daemon=True, name="chaos-faults")
        self.rig, self.period_s = rig, period_s
        self.rng = random.Random(seed * 104_729 + 3)
        self.schedule: list[dict[str, Any]] = []
        self.error: BaseException | None = None
        self._halt = threading.Event()

    def halt(self) -> None:
        self._halt.set()

    def stop(self) -> None:
        """Stop switching and clear every fault (held answers end now)."""
        self._halt.set()
        self.join(30)
        for venue in ("kalshi", "polymarket"):
            self.rig.admin("DELETE", f"/faults/{venue}")
            self.rig.admin("POST", f"/faults/{venue}/release")

    def run(self) -> None:
        try:
            while not self._halt.is_set():
                spell: dict[str, Any] = {"ts_us": time.time_ns() // 1000}
                for venue in ("kalshi", "polymarket"):
                    f = draw_faults(self.rng, venue)
                    self.rig.admin("DELETE", f"/faults/{venue}")
                    if f:
                        self.rig.admin("POST", f"/faults/{venue}", f)
                    spell[venue] = f
                self.schedule.append(spell)
                self._halt.wait(self.period_s)
        except BaseException as exc:  # reported by the caller
            self.error = exc


# ---- the executor under SIGKILLs ------------------------------------------------------------------------------


class Keeper(threading.Thread):
    """Kills and restarts the executor; restarts it when it exits by itself (a worker failure stops the process by
    design), recording each such exit and its log lines."""

    def __init__(self, rig: cr.Rig) -> None:
        super().__init__(daemon=True, name="chaos-keeper")
        self.rig = rig
        self.lock = threading.Lock()
        self.self_exits: list[dict[str, Any]] = []
        self.started_at = time.monotonic()
        self._halt = threading.Event()

    def kill_and_restart(self) -> None:
        with self.lock:
            self.rig.kill_executor()
            self.rig.start_executor()
            self.started_at = time.monotonic()

    def halt(self) -> None:
        self._halt.set()

    def stop(self) -> None:
        """Stop watching and kill the executor."""
        self._halt.set()
        self.join(10)
        with self.lock:
            self.rig.kill_executor()

    def run(self) -> None:
        while not self._halt.wait(0.2):
            with self.lock:
                proc = self.rig.executor
                if proc is None or proc.poll() is None or self._halt.is_set():
                    continue
                errors = [r.get("msg") for r in cr.count_log_lines(self.rig.exec_log_path, "partition")
                          if r.get("level") in ("ERROR", "CRITICAL")][-3:]
                self.self_exits.append({"rc": proc.returncode, "after_s": round(time.monotonic() - self.started_at, 1), "last_errors": errors})
                cr.log(f"the executor exited by itself (rc {proc.returncode}); restarting it")
                self.rig.start_executor()
                self.started_at = time.monotonic()


def await_ready(rig: cr.Rig, watcher: cr.OutcomeWatcher, timeout_s: float) -> bool:
    """Until the executor handles signals on every partition: one probe per partition of `signals`, already past its
    deadline (EXPIRED without a venue call), and its outcome. Assignment alone is not enough: each partition is fenced
    and recovered first, and a stream started earlier expires while it waits."""
    from core import codec
    from core.kafka import make_producer
    from core.topics import partitions, topic_name
    from core.units import now_us

    producer = make_producer(rig.kafka)
    topic = topic_name("signals", rig.kafka)
    now = now_us()
    probes = []
    for p in range(partitions("signals", rig.kafka)):
        sid = f"probe{now}p{p}"
        sig = {"signal_id": sid, "game_id": "probe", "legs": [], "size": 0, "cost": 0, "edge": 0, "event_ts": now - 2_000_000,
               "deadline_ts": now - 1_000_000, "input_tick_ids": [], "input_received_ts": [], "detected_ts": now - 2_000_000}
        producer.produce(topic, partition=p, key="probe", value=codec.encode("Signal", sig))
        probes.append(sid)
    if producer.flush(15) != 0:
        raise RuntimeError("the probe signals were not delivered")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if watcher.count(probes) == len(probes):
            return True
        time.sleep(0.1)
    return False


def _wait_logged(rig: cr.Rig, needle: bytes, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if rig.executor_logged(needle):
            return True
        time.sleep(0.05)
    return False


def _kills(args: Any, rig: cr.Rig, keeper: Keeper, streamer: AmbiguityStreamer, watcher: cr.OutcomeWatcher
           ) -> tuple[dict[str, int], list[float]]:
    """`args.kills` SIGKILLs spread over the stream: most 0-300 ms after a signal was produced (its legs, lookups or
    settlement in flight), a quarter right after a restart, while the new executor fences and recovers."""
    rng = random.Random(args.seed)
    n = args.signals
    targets = sorted(rng.randint(max(1, n // 10), max(1, n - n // 10)) for _ in range(args.kills))
    phases: dict[str, int] = {}
    restart_to_handling: list[float] = []
    recovery_next = False
    for k, target in enumerate(targets):
        if recovery_next:
            phase = "recovery"
            _wait_logged(rig, cr.ASSIGNED, 20)
            time.sleep(rng.uniform(0.0, 1.5))
        else:
            phase = "in-flight"
            while len(streamer.sent) < target and not streamer.done:
                time.sleep(0.05)
            if not streamer.wait_next(5.0):
                phase = "after-stream"
            time.sleep(rng.uniform(0.0, 0.3))
        phases[phase] = phases.get(phase, 0) + 1
        keeper.kill_and_restart()
        cr.log(f"kill {k + 1}/{args.kills} ({phase}); {len(streamer.sent)} signals sent, {watcher.count(streamer.sent)} with an outcome")
        recovery_next = k + 1 < len(targets) and rng.random() < 0.25
        if not recovery_next and not streamer.done:
            t0 = time.monotonic()
            if _wait_logged(rig, cr.HANDLED, 30):  # restarted -> handling signals again
                restart_to_handling.append(time.monotonic() - t0)
    return phases, restart_to_handling


# ---- reading what the pipeline recorded ------------------------------------------------------------------------


def read_topics(rig: cr.Rig) -> dict[str, list[dict[str, Any]]]:
    """Every record of `orders`, `fills` and `outcomes` (read_committed), per topic in partition log order."""
    from core.topics import partitions, topic_name
    from executor.recovery_reader import read_partition

    out: dict[str, list[dict[str, Any]]] = {"OrderEvent": [], "Fill": [], "Outcome": []}
    names = ("orders", "fills", "outcomes")
    most = max(partitions(t, rig.kafka) for t in names)
    for p in range(most):
        topics = [topic_name(t, rig.kafka) for t in names if p < partitions(t, rig.kafka)]
        recs, _ = read_partition(rig.kafka, topics, p)
        for rec in recs:
            if rec.avro_name in out:
                out[rec.avro_name].append(to_dict(rec))  # the judges below and the evidence files read dicts
    return out


# ---- pure folds that judge a run ------------------------------------------------------------------------------


def order_hashes(order_events: Iterable[dict[str, Any]]) -> dict[str, str]:
    """Polymarket order id (the signed order's hash) -> client_order_id, from the INTENTs and results on `orders`."""
    out: dict[str, str] = {}
    for ev in order_events:
        if ev["venue"] == "POLYMARKET" and ev.get("venue_order_id"):
            out.setdefault(ev["venue_order_id"], ev["client_order_id"])
    return out


def first_intents(order_events: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """client_order_id -> its (first) INTENT."""
    out: dict[str, dict[str, Any]] = {}
    for ev in order_events:
        if ev["type"] == "INTENT":
            out.setdefault(ev["client_order_id"], ev)
    return out


@dataclass
class Executions:
    by_coid: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # every accepted create of one of our orders
    unattributed: list[dict[str, Any]] = field(default_factory=list)  # accepted, but no INTENT names it


def venue_executions(venue_log: Iterable[dict[str, Any]], hashes: dict[str, str]) -> Executions:
    """Our accepted orders at the venues by client_order_id: Kalshi's own id; Polymarket's order hash mapped through
    the INTENTs (`order_hashes`). Refused requests (429, 401, 400, 5xx before the handler) executed nothing."""
    out = Executions()
    for r in venue_log:
        if r.get("kind") != "create" or not r.get("accepted") or r.get("account") in INTERNAL_ACCOUNTS:
            continue
        coid = r.get("client_order_id") if r["venue"] == "KALSHI" else hashes.get(r.get("order_id") or "")
        if coid:
            out.by_coid.setdefault(coid, []).append(r)
        else:
            out.unattributed.append(r)
    return out


def executed_twice(ex: Executions) -> dict[str, int]:
    """client_order_id -> times the venue accepted it, for every id accepted more than once (a leg executed twice:
    ids are deterministic per signal, leg and step, so a re-send reuses the id)."""
    return {c: len(rs) for c, rs in ex.by_coid.items() if len(rs) > 1}


def recorded_fills(fills: Iterable[dict[str, Any]]) -> tuple[dict[str, int], list[dict[str, Any]]]:
    """(client_order_id -> size recorded on `fills`, conflicting copies). Fills fold by fill_id, the first copy wins
    (as positions/fold.py does); a later copy with another size or order is reported."""
    seen: dict[str, dict[str, Any]] = {}
    conflicts: list[dict[str, Any]] = []
    for f in fills:
        first = seen.get(f["fill_id"])
        if first is None:
            seen[f["fill_id"]] = f
        elif (first["size"], first["client_order_id"]) != (f["size"], f["client_order_id"]):
            conflicts.append(f)
    out: dict[str, int] = {}
    for f in seen.values():
        out[f["client_order_id"]] = out.get(f["client_order_id"], 0) + f["size"]
    return out, conflicts


@dataclass(frozen=True)
class FillGap:
    client_order_id: str
    venue: str
    at_venue: int  # 1e-2 contracts the venue's log says filled (every execution of the id)
    recorded: int  # 1e-2 contracts on `fills`


def compare_fills(ex: Executions, recorded: dict[str, int], intents: dict[str, dict[str, Any]]
                  ) -> tuple[list[FillGap], list[FillGap]]:
    """(venue fills not recorded, recorded fills not at the venue), per order by size: the venue filled more than
    `fills` says, or `fills` says more than the venue filled (or names an order the venue never executed)."""
    not_recorded: list[FillGap] = []
    not_at_venue: list[FillGap] = []
    for coid in sorted(set(ex.by_coid) | set(recorded)):
        recs = ex.by_coid.get(coid, [])
        at_venue = sum(int(r.get("filled") or 0) for r in recs)
        mine = recorded.get(coid, 0)
        venue = recs[0]["venue"] if recs else intents.get(coid, {}).get("venue", "?")
        if at_venue > mine:
            not_recorded.append(FillGap(coid, venue, at_venue, mine))
        elif mine > at_venue:
            not_at_venue.append(FillGap(coid, venue, at_venue, mine))
    return not_recorded, not_at_venue


def _parse_coid(coid: str) -> tuple[str, int, int] | None:
    parts = coid.rsplit(":", 2)
    if len(parts) != 3 or not parts[1].isdigit() or not parts[2].isdigit():
        return None
    return parts[0], int(parts[1]), int(parts[2])


def venue_nets(ex: Executions, intents: dict[str, dict[str, Any]]) -> dict[str, dict[int, tuple[str, int]]]:
    """signal_id -> leg index -> (venue, net contracts held at the venue: bought - sold over the leg's base order and
    steps), from the venues' fills. Every leg with an INTENT is present (0 when nothing filled)."""
    out: dict[str, dict[int, tuple[str, int]]] = {}
    for ev in intents.values():
        legs = out.setdefault(ev["signal_id"], {})
        legs.setdefault(ev["leg_index"], (ev["venue"], 0))
    for coid, recs in ex.by_coid.items():
        intent = intents.get(coid)
        if intent is not None:
            sid, leg, action = intent["signal_id"], intent["leg_index"], intent["action"]
        else:  # an order the venue executed without an INTENT of ours (counted apart): Kalshi ids still say whose
            parsed = _parse_coid(coid)
            if parsed is None:
                continue
            sid, leg, _ = parsed
            action = "BUY" if recs[0].get("side") == "buy" else "SELL"
        filled = sum(int(r.get("filled") or 0) for r in recs)
        venue, net = out.setdefault(sid, {}).get(leg, (recs[0]["venue"], 0))
        out[sid][leg] = (venue, net + (filled if action == "BUY" else -filled))
    return out


def unhedged(legs: dict[int, tuple[str, int]], poly_dust: int = POLY_DUST) -> bool:
    """Whether the legs' net positions differ, beyond the Polymarket dust the executor keeps by design (an excess
    below the venue's min order size on Polymarket legs only: it can be neither sold nor matched)."""
    nets = [n for _, n in legs.values()]
    if len(set(nets)) <= 1:
        return False
    top, bottom = max(nets), min(nets)
    return not (top - bottom < poly_dust and all(v == "POLYMARKET" for v, n in legs.values() if n == top))


def outcome_views(outcomes: Iterable[dict[str, Any]]) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """(signal_id -> first terminal Outcome, the one that counts; signal_id -> last Outcome record of any state)."""
    first: dict[str, dict[str, Any]] = {}
    last: dict[str, dict[str, Any]] = {}
    for o in outcomes:
        last[o["signal_id"]] = o
        if o["state"] in TERMINAL:
            first.setdefault(o["signal_id"], o)
    return first, last


def one_sided_without_alert(nets: dict[str, dict[int, tuple[str, int]]], first: dict[str, dict[str, Any]],
                            fills: Iterable[dict[str, Any]], wanted: Iterable[str]) -> dict[str, dict[str, Any]]:
    """signal_id -> evidence, for every signal whose net venue position is unhedged at the end and whose outcome is
    neither UNKNOWN (alerted) nor UNWOUND with the unwind (a SELL fill) recorded on `fills`."""
    sold = {f["signal_id"] for f in fills if f["action"] == "SELL"}
    out: dict[str, dict[str, Any]] = {}
    for sid in wanted:
        legs = nets.get(sid)
        if not legs or not unhedged(legs):
            continue
        state = first[sid]["state"] if sid in first else None
        if state == "UNKNOWN" or (state == "UNWOUND" and sid in sold):
            continue
        out[sid] = {"state": state, "venue_nets": {str(k): list(v) for k, v in sorted(legs.items())}}
    return out


def pending_unresolved(last: dict[str, dict[str, Any]], wanted: Iterable[str]) -> list[str]:
    """Signals whose last Outcome record is PENDING."""
    return [s for s in wanted if s in last and last[s]["state"] == "PENDING"]


_IDS = re.compile(r"s[0-9a-f]{8,}(:\d+:\d+)?|0x[0-9a-f]{6,}|\b\d+(\.\d+)?\b")


def reason_class(reason: str | None) -> str:
    """A reason with its ids and numbers blanked, to group UNKNOWN outcomes by cause."""
    return _IDS.sub("#", reason or "")[:160]


def judge(wanted: list[str], venue_log: list[dict[str, Any]], order_events: list[dict[str, Any]], fills: list[dict[str, Any]],
          outcomes: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the counts and details of a run, the evidence behind every non-zero goal count). Only records of the
    `wanted` signals count."""
    wanted_set = set(wanted)
    order_events = [e for e in order_events if e["signal_id"] in wanted_set]
    fills = [f for f in fills if f["signal_id"] in wanted_set]
    outcomes = [o for o in outcomes if o["signal_id"] in wanted_set]
    intents = first_intents(order_events)
    ex = venue_executions(venue_log, order_hashes(order_events))
    # Kalshi ids are ours by construction (signal:leg:step); keep only this run's signals
    ex.by_coid = {c: rs for c, rs in ex.by_coid.items() if c in intents or (_parse_coid(c) or ("",))[0] in wanted_set}
    twice = executed_twice(ex)
    recorded, conflicts = recorded_fills(fills)
    not_recorded, not_at_venue = compare_fills(ex, recorded, intents)
    nets = venue_nets(ex, intents)
    first, last = outcome_views(outcomes)
    one_sided = one_sided_without_alert(nets, first, fills, wanted)
    pending = pending_unresolved(last, wanted)
    unknown = [{"signal_id": s, "reason": first[s].get("reason")} for s in wanted if s in first and first[s]["state"] == "UNKNOWN"]
    by_cause: dict[str, int] = {}
    for u in unknown:
        by_cause[reason_class(u["reason"])] = by_cause.get(reason_class(u["reason"]), 0) + 1
    without = [s for s in wanted if s not in first]
    terminal: dict[str, list[dict[str, Any]]] = {}
    for o in outcomes:
        if o["state"] in TERMINAL:
            terminal.setdefault(o["signal_id"], []).append(o)
    two = {s: rs for s, rs in terminal.items() if len(rs) > 1}
    states: dict[str, int] = {}
    for s in wanted:
        if s in first:
            states[first[s]["state"]] = states.get(first[s]["state"], 0) + 1
    base_orders = [rs[0] for c, rs in ex.by_coid.items() if (_parse_coid(c) or ("", 0, 1))[2] == 0]
    summary = {
        "legs_executed_twice": len(twice),
        "venue_fills_not_recorded": len(not_recorded),
        "recorded_fills_not_at_venue": len(not_at_venue),
        "one_sided_without_alert": len(one_sided),
        "pending_unresolved": len(pending),
        "unknown_outcomes": len(unknown),
        "unknown_outcomes_by_cause": dict(sorted(by_cause.items(), key=lambda kv: -kv[1])),
        "unknown_outcome_reasons": unknown,
        "duplicate_executions": sum(n - 1 for n in twice.values()),
        "signals_without_outcome": len(without),
        "signals_with_two_outcomes": len(two),
        "venue_orders_without_intent": len(ex.unattributed) + sum(1 for c in ex.by_coid if c not in intents),
        "fill_copies_conflicting": len(conflicts),
        "outcomes": dict(sorted(states.items())),
        "unhedged_at_venue": sum(1 for s in wanted if s in nets and unhedged(nets[s])),
        "base_legs_partially_filled": sum(1 for r in base_orders if 0 < int(r.get("filled") or 0) < int(r.get("size") or 0)),
        "signals_one_sided_after_base_legs": _one_sided_base(ex, intents),
        "venue_orders_accepted": sum(len(rs) for rs in ex.by_coid.values()),
    }
    evidence = {
        "legs_executed_twice": {c: ex.by_coid[c] for c in twice},
        "venue_fills_not_recorded": [g.__dict__ for g in not_recorded],
        "recorded_fills_not_at_venue": [g.__dict__ for g in not_at_venue],
        "one_sided_without_alert": one_sided,
        "pending_unresolved": pending,
        "signals_without_outcome": without,
        "signals_with_two_outcomes": two,
        "venue_orders_without_intent": ex.unattributed + [r for c, rs in ex.by_coid.items() if c not in intents for r in rs],
        "fill_copies_conflicting": conflicts,
    }
    return summary, evidence


def _one_sided_base(ex: Executions, intents: dict[str, dict[str, Any]]) -> int:
    """Signals whose base legs (step 0) filled different sizes at the venues: the cases settlement has to handle."""
    by_signal: dict[str, dict[int, int]] = {}
    for ev in intents.values():
        if ev["step"] == 0:
            by_signal.setdefault(ev["signal_id"], {})[ev["leg_index"]] = sum(int(r.get("filled") or 0) for r in ex.by_coid.get(ev["client_order_id"], []))
    return sum(1 for legs in by_signal.values() if len(set(legs.values())) > 1)


def fault_hits(venue_log: Iterable[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """venue -> fault (or answer) -> order requests it hit, from the order log: what the executor had to cope with
    (`lookup_lag`: accepted orders hidden from lookups for a while; `matched late (delayed)`: Polymarket orders answered
    `delayed` whose first fill came > 0.3 s after they were received)."""
    out: dict[str, dict[str, int]] = {}
    for r in venue_log:
        if r.get("kind") != "create" or r.get("account") in INTERNAL_ACCOUNTS:
            continue
        fills = r.get("fills") or []
        late = bool(fills) and int(fills[0]["ts_us"]) - int(r["received_us"]) > 300_000
        name = r.get("fault") or ("matched late (delayed)" if late or r.get("status") == "delayed" else "")
        if not name and not r.get("accepted"):
            name = f"refused {r.get('http_status')}"
        v = out.setdefault(r["venue"].lower(), {})
        if name:
            v[name] = v.get(name, 0) + 1
        if r.get("visible_us"):
            v["lookup_lag"] = v.get("lookup_lag", 0) + 1
    return {k: v for k, v in out.items() if v}


# ---- the scenario ----------------------------------------------------------------------------------------------


def run(args: Any) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="arb-chaos-"))
    cr.log(f"scenario {args.scenario}; logs in {workdir}")
    executor_env = {"ARB_EXEC_LOOKUP_GRACE_MS": str(LOOKUP_GRACE_MS), "ARB_EXEC_MAX_GAME_EXPOSURE": str(10**15),
                    "ARB_EXEC_MAX_TOTAL_EXPOSURE": str(10**15), "ARB_EXEC_DAILY_LOSS_LIMIT": str(10**15)}
    sim_env = {"ARB_SIM_KALSHI_BALANCE": "1000000.00", "ARB_SIM_POLY_BALANCE": "1000000.00"}
    rig = cr.Rig(workdir, session_timeout_ms=2000, executor_env=executor_env, games=args.games, polymarket=True, sim_env=sim_env,
                 bootstrap=args.bootstrap)
    watcher: cr.OutcomeWatcher | None = None
    mixer: FaultMixer | None = None
    keeper: Keeper | None = None
    try:
        games = sim_games(rig)
        cr.publish_pairings(rig, [pairing(g) for g in games])
        watcher = cr.OutcomeWatcher(rig)
        watcher.start()
        rig.start_executor()
        if not await_ready(rig, watcher, 90):
            raise RuntimeError(f"the executor did not handle a signal on every partition in 90 s; see {rig.exec_log_path}")
        keeper = Keeper(rig)
        keeper.start()
        mixer = FaultMixer(rig, args.seed)
        mixer.start()
        streamer = AmbiguityStreamer(rig, games, args.signals, args.rate, args.seed)
        streamer.start()
        phases, restart_to_handling = _kills(args, rig, keeper, streamer, watcher)
        streamer.join()
        if streamer.error is not None:
            raise streamer.error
        mixer.stop()  # the venues recover: what is still in flight resolves
        if mixer.error is not None:
            raise mixer.error
        wanted = list(streamer.sent)
        _drain(watcher, wanted, args.timeout)
        keeper.stop()
        time.sleep(0.5)
        venue_log = rig.admin("GET", "/orders?venue=kalshi")["orders"] + rig.admin("GET", "/orders?venue=polymarket")["orders"]
        topics = read_topics(rig)
        summary, evidence = judge(wanted, venue_log, topics["OrderEvent"], topics["Fill"], topics["Outcome"])
        for name, data in (("venue_orders.json", venue_log), ("orders_topic.json", topics["OrderEvent"]), ("fills_topic.json", topics["Fill"]),
                           ("outcomes_topic.json", topics["Outcome"]), ("faults.json", mixer.schedule), ("signals.json", streamer.sent),
                           ("self_exits.json", keeper.self_exits)):
            (workdir / name).write_text(json.dumps(data))
        goal = ("legs_executed_twice", "venue_fills_not_recorded", "recorded_fills_not_at_venue", "one_sided_without_alert", "pending_unresolved")
        failed = any(summary[k] for k in (*goal, "signals_without_outcome", "signals_with_two_outcomes", "venue_orders_without_intent",
                                          "fill_copies_conflicting"))
        if failed:
            (workdir / "failures.json").write_text(json.dumps(evidence, indent=1, default=str))
        recovery = ({"median": round(statistics.median(restart_to_handling), 2), "max": round(max(restart_to_handling), 2)}
                    if restart_to_handling else None)
        kinds = {k: sum(1 for s in wanted if streamer.kinds.get(s) == k) for k in ("cross", "intra")}
        result = {"scenario": args.scenario, "signals": len(wanted), "signal_kinds": kinds, **{k: summary[k] for k in goal},
                  **{k: v for k, v in summary.items() if k not in goal},
                  "kills": sum(phases.values()), "kills_by_phase": phases, "executor_starts": rig.starts,
                  "executor_self_exits": len(keeper.self_exits), "fault_spells": len(mixer.schedule), "fault_hits": fault_hits(venue_log),
                  "signals_recovered_after_kill": len({r.get("signal_id") for r in cr.count_log_lines(rig.exec_log_path, "recovered signal")}),
                  "workdir": str(workdir)}
        if failed:
            result["evidence"] = str(workdir / "failures.json")
        return with_counts(result, {"duplicate_orders": summary["duplicate_executions"], "lost_signals": summary["signals_without_outcome"],
                                    "recovery_s": recovery},
                           {"lost_ticks": NO_TICKS, "invalid_book_trades": NO_BOOK_JUDGE,
                            **({} if recovery else {"recovery_s": "no kill landed while signals were being handled"})})
    finally:
        if watcher is not None:
            watcher.stop()
        if mixer is not None:
            mixer.halt()
        if keeper is not None:
            keeper.halt()
            with keeper.lock:
                rig.close()
        else:
            rig.close()


def _drain(watcher: cr.OutcomeWatcher, wanted: list[str], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    last = -1
    while time.monotonic() < deadline:
        done = watcher.count(wanted)
        if done != last:
            cr.log(f"{done}/{len(wanted)} signals have an outcome")
            last = done
        if done == len(wanted):
            return
        time.sleep(0.5)
