"""Fee-aware detection of every arbitrage combination of a game (design.md "What the system does").

Pure: `evaluate(pairing, books, now_tick, settings)` -> signals, where `books` is the game's latest Tick
per market. A candidate is a pair of instruments on two different books whose `pays_on` together cover
every outcome of the game (cross-venue pairs and the intra-Kalshi pairs; same-book pairs are never
formed, and in a draw league a pair that does not pay on the draw does not qualify). Size comes from
walking both instruments' ask ladders while the marginal edge after fees stays above the minimum.
Deadlines are event time (tick receive timestamps), so replays give the same signals.

A leg is used when its book's latest tick is OK, however long ago that tick arrived. Venues send nothing
while a book does not change (both venues' book channels send deltas only on change), so a book that has been quiet for
seconds is valid, and one venue repricing against the other's quiet book is exactly the lagging-quote case
where arbitrage appears (issue 29 item 2). Whether a book can still be trusted is the feed's call, from the
venue's liveness signal (Kalshi Ping frames, Polymarket PING/PONG) and its sequence checks: it then emits a
STALE or RESYNCING tick, which replaces the OK one here. A Tick carries no liveness field of its own, so the
detector applies no age bound.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from itertools import combinations
from math import lcm
from typing import Any, cast

from core.fees import taker_fee
from core.ids import signal_id
from core.units import ONE_DOLLAR, now_us
from processors.settings import DetectorSettings
from venues.polymarket import amounts

Tick = dict[str, Any]
Pairing = dict[str, Any]


@dataclass(frozen=True)
class Candidate:
    books: tuple[dict[str, Any], dict[str, Any]]
    instruments: tuple[dict[str, Any], dict[str, Any]]


def candidates(pairing: Pairing) -> list[Candidate]:
    """Every pair of instruments on different books that together pay on every outcome."""
    outcomes = set(pairing["outcomes"])
    flat = [(bi, book, inst) for bi, book in enumerate(pairing["books"]) for inst in book["instruments"]]
    out = []
    for (bi, b1, i1), (bj, b2, i2) in combinations(flat, 2):
        if bi == bj:
            continue  # one book: YES + NO of one Kalshi market, or Polymarket's two tokens — never < $1
        if set(i1["pays_on"]) | set(i2["pays_on"]) >= outcomes:
            out.append(Candidate((b1, b2), (i1, i2)))
    return out


def ask_ladder(tick: Tick, side: str) -> list[tuple[int, int]]:
    """Buyable levels of an instrument, best first, on its own price scale (Kalshi NO = 1 - YES bid)."""
    if side == "YES":
        return [(lv["price"], lv["size"]) for lv in tick["asks"]]
    return [(ONE_DOLLAR - lv["price"], lv["size"]) for lv in tick["bids"]]


@dataclass(frozen=True)
class Sized:
    size: int
    limits: tuple[int, int]
    fees: tuple[int, int]
    cost: int  # both legs incl. fees, money
    edge: int  # payout - cost, money


StepFn = Callable[[int], int]  # limit price (1e-4 USD) -> the size step (1e-2) an order at that price needs


def _lot(size: int, lot: int) -> int:
    return size - size % lot


def order_step(book: Mapping[str, Any]) -> StepFn | None:
    """Polymarket FAK BUYs need price x size on whole cents (venues/polymarket/amounts.py): the sizes that
    fit depend on the limit price. Kalshi takes any size on our grid."""
    return partial(amounts.fak_step, "BUY") if book["venue"] == "POLYMARKET" else None


def _priced(chunks: list[tuple[int, int, int]], fees: tuple[Mapping[str, Any], Mapping[str, Any]]) -> Sized:
    """Worst case of the chunks (size, price a, price b) taken with one IOC per leg limited at the last chunk's
    prices. The legs carry only limit prices and IOC fills anywhere up to them: report every chunk at the
    limit. Cost per contract p + fee(p) increases with p for both venues' fee curves, so this bounds the
    real cost from above. Rounding is per fill (Kalshi: the trade fee to $0.000001, then the balance change
    to the member's precision, core/fees.py): as one fill or as one per chunk (each chunk's rounding fee
    charged in full, no rebate), take whichever costs more."""
    size = sum(q for q, _, _ in chunks)
    _, lim_a, lim_b = chunks[-1]
    fee_a = max(sum(taker_fee(fees[0], lim_a, q) for q, _, _ in chunks), taker_fee(fees[0], lim_a, size))
    fee_b = max(sum(taker_fee(fees[1], lim_b, q) for q, _, _ in chunks), taker_fee(fees[1], lim_b, size))
    cost = (lim_a + lim_b) * size + fee_a + fee_b
    return Sized(size, (lim_a, lim_b), (fee_a, fee_b), cost, ONE_DOLLAR * size - cost)


def size_pair(ladders: tuple[list[tuple[int, int]], list[tuple[int, int]]], fees: tuple[Mapping[str, Any], Mapping[str, Any]],
              min_edge_per_contract: int, cap: int, whole: bool, steps: tuple[StepFn | None, StepFn | None] = (None, None)) -> Sized | None:
    """Walk both ladders level by level; take each chunk while its edge per contract >= the minimum. Then
    keep the largest size both venues accept at the limits it needs (`steps`, per leg), whose worst-case
    edge still meets the minimum.

    Fees are computed per chunk, each as a fill of its own: that charges a Kalshi rounding fee per chunk (up to
    one balance-precision unit each), which the venue's per-order accumulator partly rebates: conservative."""
    lot = 100 if whole else 1
    a, b = [list(x) for x in ladders]
    chunks: list[tuple[int, int, int]] = []  # (size, price a, price b)
    ia = ib = 0
    size = 0
    while ia < len(a) and ib < len(b) and _lot(cap - size, lot) > 0:
        (pa, qa), (pb, qb) = a[ia], b[ib]
        q = _lot(min(qa, qb, cap - size), lot)
        if q <= 0:
            # a level thinner than one lot: count it at the next (worse) level's price, which is conservative
            if qa <= qb:
                ia += 1
                if ia < len(a):
                    a[ia] = (a[ia][0], a[ia][1] + qa)
            else:
                ib += 1
                if ib < len(b):
                    b[ib] = (b[ib][0], b[ib][1] + qb)
            continue
        fa, fb = taker_fee(fees[0], pa, q), taker_fee(fees[1], pb, q)
        chunk_cost = (pa + pb) * q + fa + fb
        chunk_edge = ONE_DOLLAR * q - chunk_cost
        if chunk_edge <= 0 or chunk_edge < min_edge_per_contract * q:  # price x size lands on the money grid
            break
        size += q
        chunks.append((q, pa, pb))
        a[ia] = (pa, qa - q)
        b[ib] = (pb, qb - q)
        if a[ia][1] == 0:
            ia += 1
        if b[ib][1] == 0:
            ib += 1
    # From the largest size down: within chunk k the limits are chunk k's prices, so the size must be a
    # multiple of the step both orders need there; a size inside an earlier chunk needs lower limits.
    for k in range(len(chunks) - 1, -1, -1):
        q, pa, pb = chunks[k]
        step = lot
        for fn, price in zip(steps, (pa, pb), strict=True):
            if fn is not None:
                step = lcm(step, fn(price))
        before = size - q
        fit = _lot(size, step)
        if fit > before:
            sized = _priced([*chunks[:k], (fit - before, pa, pb)], fees)
            if sized.edge > 0 and sized.edge >= min_edge_per_contract * fit:
                return sized
        size = before
    return None


class Detector:
    """Detection for many games. Per-game book state is passed in and out (the Faust table holds it);
    each game's hysteresis (do not re-signal an unchanged opportunity or an already signalled book) lives
    here, and `memory`/`restore` carry it in and out of that state, so that a worker recovering a game
    decides exactly as the one before it would have."""

    def __init__(self, settings: DetectorSettings, pairing_of: Callable[[str], Pairing | None], clock: Callable[[], int] = now_us) -> None:
        self.settings = settings
        self.pairing_of = pairing_of
        self.clock = clock
        self._last: dict[str, dict[tuple[str, str], tuple[int, int, int]]] = {}  # game -> candidate -> (size, limits) signalled
        self._signalled: dict[str, dict[str, tuple[str, int]]] = {}  # game -> tick market -> (tick_id signalled on, signal event time)
        self._cands: dict[str, tuple[Pairing, list[Candidate]]] = {}

    def _candidates(self, pairing: Pairing) -> list[Candidate]:
        cached = self._cands.get(pairing["game_id"])
        if cached is None or cached[0] is not pairing:
            cached = (pairing, candidates(pairing))
            self._cands[pairing["game_id"]] = cached
        return cached[1]

    def memory(self, game_id: str) -> dict[str, Any]:
        """The game's hysteresis as JSON-able data (for the table state)."""
        return {"last": [[*k, *v] for k, v in self._last.get(game_id, {}).items()],
                "signalled": {m: list(v) for m, v in self._signalled.get(game_id, {}).items()}}

    def restore(self, game_id: str, memory: Mapping[str, Any] | None) -> None:
        """Replace the game's hysteresis with `memory` (from `memory`; None: none)."""
        memory = memory or {}
        last = {(str(a), str(b)): (int(size), int(la), int(lb)) for a, b, size, la, lb in memory.get("last", [])}
        signalled = {m: (str(v[0]), int(v[1])) for m, v in memory.get("signalled", {}).items()}
        self._last[game_id], self._signalled[game_id] = last, signalled

    def on_tick(self, state: dict[str, Tick], tick: Tick) -> tuple[dict[str, Tick], list[dict[str, Any]]]:
        """Fold the tick into the game's state, then evaluate every candidate of the game."""
        state = dict(state)
        state[tick["market"]] = tick
        pairing = self.pairing_of(tick["game_id"])
        if pairing is None:
            return state, []
        return state, self.evaluate(pairing, state, tick)

    def evaluate(self, pairing: Pairing, books: Mapping[str, Tick], trigger: Tick) -> list[dict[str, Any]]:
        s = self.settings
        newest = max(t["received_ts"] for t in books.values())
        found: list[tuple[Sized, Candidate, tuple[Tick, Tick], int]] = []
        for cand in self._candidates(pairing):
            ticks = [books.get(inst["market"]) for inst in cand.instruments]
            if any(t is None or t["status"] != "OK" for t in ticks):
                continue  # trust is the tick's status, never its age: see the module docstring
            t0, t1 = cast(Tick, ticks[0]), cast(Tick, ticks[1])
            delay = max(b["seconds_delay"] for b in cand.books)
            extra = 0
            if delay > 0:
                if not s.allow_delayed:
                    continue
                extra = s.delayed_extra_edge
            sized = size_pair((ask_ladder(t0, cand.instruments[0]["side"]), ask_ladder(t1, cand.instruments[1]["side"])),
                              (cand.books[0]["fee"], cand.books[1]["fee"]), s.min_edge_per_contract + extra, s.max_signal_size, s.whole_contracts,
                              (order_step(cand.books[0]), order_step(cand.books[1])))
            if sized is None or sized.edge < s.min_edge_money or sized.edge <= 0:
                continue
            if any(sized.size < b["min_size"] for b in cand.books):
                continue
            found.append((sized, cand, (t0, t1), delay))
        found.sort(key=lambda f: -f[0].edge)
        signals: list[dict[str, Any]] = []
        used: set[str] = set()
        game = pairing["game_id"]
        last = self._last.setdefault(game, {})
        signalled = self._signalled.setdefault(game, {})
        live = {self._key(c) for _, c, _, _ in found}
        for key in [k for k in last if k not in live]:
            del last[key]  # gone: if it comes back, it is a new opportunity
        reuse_us = s.book_reuse_ms * 1000
        for sized, cand, pair_ticks, delay in found:
            books_used = {b["market"] for b in cand.books}
            if books_used & used:
                continue  # the same liquidity cannot back two signals
            if any((u := signalled.get(t["market"])) is not None and u[0] == t["tick_id"] and newest - u[1] < reuse_us for t in pair_ticks):
                continue  # a book we already signalled on, unchanged since: that liquidity is (being) taken by our order
            key = self._key(cand)
            fingerprint = (sized.size, sized.limits[0], sized.limits[1])
            if last.get(key) == fingerprint:
                continue  # unchanged opportunity: already signalled
            sig = self._signal(game, sized, cand, pair_ticks, delay)
            last[key] = fingerprint
            used |= books_used
            for t in pair_ticks:
                signalled[t["market"]] = (t["tick_id"], sig["event_ts"])
            signals.append(sig)
        return signals

    @staticmethod
    def _key(cand: Candidate) -> tuple[str, str]:
        return (f"{cand.instruments[0]['market']}:{cand.instruments[0]['side']}", f"{cand.instruments[1]['market']}:{cand.instruments[1]['side']}")

    def _signal(self, game: str, sized: Sized, cand: Candidate, ticks: tuple[Tick, Tick], delay_s: int) -> dict[str, Any]:
        legs = [{"venue": b["venue"], "market": inst["market"], "book": b["market"], "side": inst["side"], "limit_price": lim,
                 "size": sized.size, "expected_fee": fee, "pays_on": list(inst["pays_on"])}
                for b, inst, lim, fee in zip(cand.books, cand.instruments, sized.limits, sized.fees, strict=True)]
        tick_ids = [t["tick_id"] for t in ticks]
        event_ts = max(t["received_ts"] for t in ticks)
        ttl_us = self.settings.signal_ttl_ms * 1000 + delay_s * 1_000_000
        return {"signal_id": signal_id(game, legs, tick_ids), "game_id": game, "legs": legs, "size": sized.size, "cost": sized.cost,
                "edge": sized.edge, "event_ts": event_ts, "deadline_ts": event_ts + ttl_us, "input_tick_ids": tick_ids,
                "input_received_ts": [t["received_ts"] for t in ticks], "detected_ts": self.clock()}


def detect_all(ticks: Iterable[Tick], pairings: Mapping[str, Pairing], settings: DetectorSettings) -> list[dict[str, Any]]:
    """Offline: the same detector over a sequence of ticks (replay's --detect)."""
    det = Detector(settings, pairings.get, clock=lambda: 0)
    states: dict[str, dict[str, Tick]] = {}
    out: list[dict[str, Any]] = []
    for tick in ticks:
        states[tick["game_id"]], sigs = det.on_tick(states.get(tick["game_id"], {}), tick)
        out += sigs
    return out
