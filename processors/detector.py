"""Fee-aware detection of every arbitrage combination of a game (design.md "What the system does").

Pure: `evaluate(pairing, books, now_tick, settings)` -> signals, where `books` is the game's latest Tick
per market. A candidate (a cover) is a set of instruments, at most one per book, whose `pays_on` together
cover every outcome of the game, with no instrument that the others make redundant: the pairs (cross-venue
and intra-Kalshi; same-book pairs are never formed, and in a draw league a pair that does not pay on the
draw does not qualify) and, in draw leagues, the three-leg covers A + B + draw (issue 29 item 6), within a
venue or across venues. Size comes from walking every leg's ask ladder while the marginal edge after fees
stays above the minimum.
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

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from itertools import combinations
from math import lcm
from typing import TypedDict

from core.fees import multi_fill_margin, taker_fee
from core.ids import signal_id
from core.units import ONE_DOLLAR, now_us
from processors.settings import DetectorSettings
from schemas.records import BookRef, FeeParams, Instrument, Leg, MarketPairing, Signal, Tick, to_dict
from venues.polymarket import amounts

MAX_LEGS = 3  # a cover needs at most one instrument per outcome, and games have at most three outcomes


@dataclass(frozen=True)
class Candidate:
    books: tuple[BookRef, ...]
    instruments: tuple[Instrument, ...]


def _minimal_cover(pays: list[set[str]], outcomes: set[str]) -> bool:
    """The instruments pay on every outcome, and none of them can be left out (a leg the others make
    redundant only adds cost: its smaller cover is a candidate of its own)."""
    if set().union(*pays) < outcomes:
        return False
    return all(not (set().union(*(p for j, p in enumerate(pays) if j != i)) >= outcomes) for i in range(len(pays)))


def candidates(pairing: MarketPairing) -> list[Candidate]:
    """Every minimal cover: instruments on different books that together pay on every outcome (pairs, and in
    draw leagues the three-leg covers)."""
    outcomes = set(pairing.outcomes)
    flat = [(bi, book, inst) for bi, book in enumerate(pairing.books) for inst in book.instruments]
    out = []
    for n in range(2, min(MAX_LEGS, len(outcomes)) + 1):
        for combo in combinations(flat, n):
            if len({bi for bi, _, _ in combo}) < n:
                continue  # two legs on one book (YES + NO of one Kalshi market, Polymarket's two tokens): never < $1
            if _minimal_cover([set(inst.pays_on) for _, _, inst in combo], outcomes):
                out.append(Candidate(tuple(b for _, b, _ in combo), tuple(i for _, _, i in combo)))
    return out


def ask_ladder(tick: Tick, side: str) -> list[tuple[int, int]]:
    """Buyable levels of an instrument, best first, on its own price scale (Kalshi NO = 1 - YES bid)."""
    if side == "YES":
        return [(lv.price, lv.size) for lv in tick.asks]
    return [(ONE_DOLLAR - lv.price, lv.size) for lv in tick.bids]


@dataclass(frozen=True)
class Sized:
    size: int
    limits: tuple[int, ...]  # per leg
    fees: tuple[int, ...]  # per leg, money
    cost: int  # every leg incl. fees, money
    edge: int  # payout - cost, money


StepFn = Callable[[int], int]  # limit price (1e-4 USD) -> the size step (1e-2) an order at that price needs
Chunk = tuple[int, tuple[int, ...]]  # (size, price per leg)


def _lot(size: int, lot: int) -> int:
    return size - size % lot


def order_step(book: BookRef) -> StepFn | None:
    """Polymarket FAK BUYs need price x size on whole cents (venues/polymarket/amounts.py): the sizes that
    fit depend on the limit price. Kalshi takes any size on our grid."""
    return partial(amounts.fak_step, "BUY") if book.venue == "POLYMARKET" else None


FeeFn = Callable[[int, int], int]  # (price, size) -> taker fee (money) of one fill, under one book's FeeParams


class _FeeMemo:
    """`taker_fee` under one FeeParams (the configured member type), remembered per (price, size): the detector
    prices the same levels tick after tick. Pure, so a remembered fee is the one `taker_fee` gives."""

    __slots__ = ("params", "_fees")
    LIMIT = 1 << 16  # entries kept at most (forgotten all at once past that)

    def __init__(self, params: FeeParams) -> None:
        self.params = params
        self._fees: dict[tuple[int, int], int] = {}

    def __call__(self, price: int, size: int) -> int:
        key = (price, size)
        fee = self._fees.get(key)
        if fee is None:
            fee = taker_fee(self.params, price, size)
            if len(self._fees) >= self.LIMIT:
                self._fees.clear()
            self._fees[key] = fee
        return fee


def _priced(chunks: list[Chunk], fees: Sequence[FeeParams]) -> Sized:
    """Worst case of the chunks taken with one IOC per leg limited at the last chunk's prices. The legs carry
    only limit prices and IOC fills anywhere up to them: report every chunk at the limit. Cost per contract
    p + fee(p) increases with p for both venues' fee curves, so this bounds the real cost from above.
    Rounding is per fill (Kalshi: the trade fee to $0.000001, then the balance change to the member's
    precision, core/fees.py): as one fill or as one per chunk (each chunk's rounding fee charged in full, no
    rebate), take whichever costs more. One IOC can meet more resting orders than the walk had chunks, and each
    fill is rounded on its own: `size_cover` bounds that with core/fees.py `multi_fill_margin`."""
    return _priced_by(chunks, [partial(taker_fee, f) for f in fees])


def _priced_by(chunks: list[Chunk], fee_fns: Sequence[FeeFn]) -> Sized:
    """`_priced` with each leg's fee as a function of (price, size)."""
    size = 0
    for q, _ in chunks:
        size += q
    limits = chunks[-1][1]
    leg_fees = []
    for fee, lim in zip(fee_fns, limits, strict=True):
        per_chunk = 0
        for q, _ in chunks:
            per_chunk += fee(lim, q)
        leg_fees.append(max(per_chunk, fee(lim, size)))
    cost = sum(limits) * size + sum(leg_fees)
    return Sized(size, limits, tuple(leg_fees), cost, ONE_DOLLAR * size - cost)


def size_cover(ladders: Sequence[list[tuple[int, int]]], fees: Sequence[FeeParams], min_edge_per_contract: int, cap: int,
               whole: bool, steps: Sequence[StepFn | None] | None = None, fills_per_leg: int = 1) -> Sized | None:
    """Walk every leg's ladder level by level; take each chunk while its edge per contract >= the minimum.
    Then keep the largest size every venue accepts at the limits it needs (`steps`, per leg), whose
    worst-case edge still meets the minimum after the most that per-fill rounding can add when an IOC fills in
    up to `fills_per_leg` pieces (core/fees.py `multi_fill_margin`; the signal's `edge` is reported without it).

    Fees are computed per chunk, each as a fill of its own: that charges a Kalshi rounding fee per chunk (up to
    one balance-precision unit each), which the venue's per-order accumulator partly rebates: conservative."""
    return _size_cover([list(x) for x in ladders], [partial(taker_fee, f) for f in fees], fees, min_edge_per_contract, cap, whole,
                       steps if steps is not None else [None] * len(ladders), fills_per_leg)


def _size_cover(legs: list[list[tuple[int, int]]], fee_fns: Sequence[FeeFn], fees: Sequence[FeeParams], min_edge_per_contract: int,
                cap: int, whole: bool, step_fns: Sequence[StepFn | None], fills_per_leg: int) -> Sized | None:
    """`size_cover` over ladders of its own (it takes levels off them), each leg's fee as a function of (price, size)."""
    lot = 100 if whole else 1
    n = len(legs)
    lens = [len(lad) for lad in legs]  # the walk replaces levels, never adds or removes one
    chunks: list[Chunk] = []
    idx = [0] * n
    size = 0
    while _lot(cap - size, lot) > 0:
        levels = []
        for j in range(n):
            if idx[j] >= lens[j]:
                break
            levels.append(legs[j][idx[j]])
        else:
            q = _lot(min(min(qty for _, qty in levels), cap - size), lot)
            if q <= 0:
                # a level thinner than one lot: count it at the next (worse) level's price, which is conservative
                sizes = [qty for _, qty in levels]
                thin = sizes.index(min(sizes))
                idx[thin] += 1
                if idx[thin] < lens[thin]:
                    price, qty = legs[thin][idx[thin]]
                    legs[thin][idx[thin]] = (price, qty + levels[thin][1])
                continue
            prices = tuple(p for p, _ in levels)
            chunk_cost = sum(prices) * q
            for fee, p in zip(fee_fns, prices, strict=True):
                chunk_cost += fee(p, q)
            chunk_edge = ONE_DOLLAR * q - chunk_cost
            if chunk_edge <= 0 or chunk_edge < min_edge_per_contract * q:  # price x size lands on the money grid
                break
            size += q
            chunks.append((q, prices))
            for j in range(n):
                left = levels[j][1] - q
                legs[j][idx[j]] = (prices[j], left)
                if left == 0:
                    idx[j] += 1
            continue
        break  # a ladder ran out
    # From the largest size down: within chunk k the limits are chunk k's prices, so the size must be a
    # multiple of the step every order needs there; a size inside an earlier chunk needs lower limits.
    for k in range(len(chunks) - 1, -1, -1):
        q, prices = chunks[k]
        step = lot
        for fn, price in zip(step_fns, prices, strict=True):
            if fn is not None:
                step = lcm(step, fn(price))
        before = size - q
        fit = _lot(size, step)
        if fit > before:
            sized = _priced_by([*chunks[:k], (fit - before, prices)], fee_fns)
            edge = sized.edge - sum(multi_fill_margin(f, fit, fills_per_leg) for f in fees)
            if edge > 0 and edge >= min_edge_per_contract * fit:
                return sized
        size = before
    return None


class Memo(TypedDict):
    """A game's hysteresis as JSON (the `memo` of its table state): `last` entries are [n leg keys, size, n limits],
    `signalled` maps a tick market to [tick_id signalled on, signal event time]."""

    last: list[list[str | int]]
    signalled: dict[str, list[str | int]]


# A memo read back is JSON that `memory` wrote: anything else is a bug, and raises as it always did.
def _int(value: object) -> int:
    if isinstance(value, (int, str, float)):
        return int(value)
    raise TypeError(f"not a number in a detector memo: {value!r}")


def _items(value: object) -> list[object]:
    if isinstance(value, (list, tuple)):
        return list(value)
    raise TypeError(f"not a list in a detector memo: {value!r}")


@dataclass(frozen=True)
class _Prepared:
    """What `evaluate` reads of a candidate, worked out once per pairing."""

    cand: Candidate
    markets: tuple[str, ...]  # per leg: the market of its instrument (whose book it reads)
    sides: tuple[str, ...]  # per leg: the instrument's side
    fees: tuple[FeeParams, ...]  # per leg: its book's fee parameters
    fee_fns: tuple[FeeFn, ...]  # per leg: taker_fee under them
    steps: tuple[StepFn | None, ...]  # per leg: order_step of its book
    delay: int  # the longest placement delay of its books, s
    min_size: int  # the largest min_size of its books
    key: tuple[str, ...]  # Detector._key
    books_used: frozenset[str]  # the markets of its books


Found = tuple[Sized, _Prepared, tuple[Tick, ...], int]  # (sized, the cover, its legs' ticks, its placement delay in s)
# A candidate's last sizing: (the settings, its legs' ticks, the result). Sizing is pure in those, and a tick changes one
# book: a candidate none of whose books changed is sized as before. The ticks are compared by identity (a game's state
# passes its unchanged Tick objects on; a state read back from the changelog has new ones, and is sized afresh).
_LastSized = tuple[DetectorSettings, tuple[Tick, ...], Sized | None]


def _same_ticks(a: tuple[Tick, ...], b: tuple[Tick, ...]) -> bool:
    for x, y in zip(a, b, strict=True):
        if x is not y:
            return False
    return True


def _best_edge_first(found: Found) -> int:
    return -found[0].edge


class Detector:
    """Detection for many games. Per-game book state is passed in and out (the Faust table holds it);
    each game's hysteresis (do not re-signal an unchanged opportunity or an already signalled book) lives
    here, and `memory`/`restore` carry it in and out of that state, so that a worker recovering a game
    decides exactly as the one before it would have."""

    def __init__(self, settings: DetectorSettings, pairing_of: Callable[[str], MarketPairing | None], clock: Callable[[], int] = now_us) -> None:
        self.settings = settings
        self.pairing_of = pairing_of
        self.clock = clock
        self._last: dict[str, dict[tuple[str, ...], tuple[int, ...]]] = {}  # game -> candidate -> (size, *limits) signalled
        self._signalled: dict[str, dict[str, tuple[str, int]]] = {}  # game -> tick market -> (tick_id signalled on, signal event time)
        self._cands: dict[str, tuple[MarketPairing, list[_Prepared], list[_LastSized | None]]] = {}  # per candidate: its last sizing
        self._fee_memos: dict[FeeParams, _FeeMemo] = {}

    def _candidates(self, pairing: MarketPairing) -> tuple[list[_Prepared], list[_LastSized | None]]:
        cached = self._cands.get(pairing.game_id)
        if cached is None or cached[0] is not pairing:
            preps = [self._prepare(c) for c in candidates(pairing)]
            cached = (pairing, preps, [None] * len(preps))
            self._cands[pairing.game_id] = cached
        return cached[1], cached[2]

    def _prepare(self, cand: Candidate) -> _Prepared:
        fees = tuple(b.fee for b in cand.books)
        return _Prepared(cand, tuple(inst.market for inst in cand.instruments), tuple(inst.side for inst in cand.instruments), fees,
                         tuple(self._fee_memos.setdefault(f, _FeeMemo(f)) for f in fees), tuple(order_step(b) for b in cand.books),
                         max(b.seconds_delay for b in cand.books), max(b.min_size for b in cand.books), self._key(cand),
                         frozenset(b.market for b in cand.books))

    def memory(self, game_id: str) -> Memo:
        """The game's hysteresis as JSON-able data (for the table state). A `last` entry of an n-leg cover is
        [n leg keys, size, n limits] (2n + 1 items), so entries written for pairs read back unchanged."""
        return {"last": [[*k, *v] for k, v in self._last.get(game_id, {}).items()],
                "signalled": {m: list(v) for m, v in self._signalled.get(game_id, {}).items()}}

    def restore(self, game_id: str, memory: Mapping[str, object] | None) -> None:
        """Replace the game's hysteresis with `memory` (from `memory`, or that JSON read back; None: none)."""
        memory = memory or {}
        last: dict[tuple[str, ...], tuple[int, ...]] = {}
        for item in _items(memory.get("last", [])):
            entry = _items(item)
            n = (len(entry) - 1) // 2
            last[tuple(str(k) for k in entry[:n])] = tuple(_int(v) for v in entry[n:])
        signalled_in = memory.get("signalled", {})
        if not isinstance(signalled_in, Mapping):
            raise TypeError(f"not a mapping in a detector memo: {signalled_in!r}")
        signalled: dict[str, tuple[str, int]] = {}
        for m, item in signalled_in.items():
            v = _items(item)
            signalled[str(m)] = (str(v[0]), _int(v[1]))
        self._last[game_id], self._signalled[game_id] = last, signalled

    def on_tick(self, state: Mapping[str, Tick], tick: Tick) -> tuple[dict[str, Tick], list[Signal]]:
        """Fold the tick into the game's state, then evaluate every candidate of the game."""
        books = dict(state)
        books[tick.market] = tick
        pairing = self.pairing_of(tick.game_id)
        if pairing is None:
            return books, []
        return books, self.evaluate(pairing, books, tick)

    def evaluate(self, pairing: MarketPairing, books: Mapping[str, Tick], trigger: Tick) -> list[Signal]:
        s = self.settings
        newest = max(t.received_ts for t in books.values())
        found: list[Found] = []
        preps, last_sized = self._candidates(pairing)
        for i, prep in enumerate(preps):
            legs: list[Tick] = []
            for market in prep.markets:
                t = books.get(market)
                if t is None or t.status != "OK":
                    break  # trust is the tick's status, never its age: see the module docstring
                legs.append(t)
            else:
                ticks = tuple(legs)
                delay = prep.delay
                extra = 0
                if delay > 0:
                    if not s.allow_delayed:
                        continue
                    extra = s.delayed_extra_edge
                before = last_sized[i]
                if before is not None and before[0] is s and _same_ticks(before[1], ticks):
                    sized = before[2]
                else:
                    sized = _size_cover([ask_ladder(t, side) for t, side in zip(ticks, prep.sides, strict=True)], prep.fee_fns, prep.fees,
                                        s.min_edge_per_contract + extra, s.max_signal_size, s.whole_contracts, prep.steps, s.fills_per_leg)
                    last_sized[i] = (s, ticks, sized)
                if sized is None or sized.edge < s.min_edge_money or sized.edge <= 0:
                    continue
                if sized.size < prep.min_size:
                    continue
                found.append((sized, prep, ticks, delay))
        found.sort(key=_best_edge_first)
        signals: list[Signal] = []
        used: set[str] = set()
        game = pairing.game_id
        last = self._last.setdefault(game, {})
        signalled = self._signalled.setdefault(game, {})
        live = {prep.key for _, prep, _, _ in found}
        for key in [k for k in last if k not in live]:
            del last[key]  # gone: if it comes back, it is a new opportunity
        reuse_us = s.book_reuse_ms * 1000
        for sized, prep, cover_ticks, delay in found:
            books_used = prep.books_used
            if books_used & used:
                continue  # the same liquidity cannot back two signals
            if any((u := signalled.get(t.market)) is not None and u[0] == t.tick_id and newest - u[1] < reuse_us for t in cover_ticks):
                continue  # a book we already signalled on, unchanged since: that liquidity is (being) taken by our order
            key = prep.key
            fingerprint = (sized.size, *sized.limits)
            if last.get(key) == fingerprint:
                continue  # unchanged opportunity: already signalled
            sig = self._signal(game, sized, prep.cand, cover_ticks, delay)
            last[key] = fingerprint
            used |= books_used
            for t in cover_ticks:
                signalled[t.market] = (t.tick_id, sig.event_ts)
            signals.append(sig)
        return signals

    @staticmethod
    def _key(cand: Candidate) -> tuple[str, ...]:
        return tuple(f"{inst.market}:{inst.side}" for inst in cand.instruments)

    def _signal(self, game: str, sized: Sized, cand: Candidate, ticks: tuple[Tick, ...], delay_s: int) -> Signal:
        legs = [Leg(venue=b.venue, market=inst.market, book=b.market, side=inst.side, limit_price=lim, size=sized.size,
                    expected_fee=fee, pays_on=list(inst.pays_on))
                for b, inst, lim, fee in zip(cand.books, cand.instruments, sized.limits, sized.fees, strict=True)]
        tick_ids = [t.tick_id for t in ticks]
        event_ts = max(t.received_ts for t in ticks)
        ttl_us = self.settings.signal_ttl_ms * 1000 + delay_s * 1_000_000
        leg_terms = [to_dict(leg) for leg in legs]  # core/ids.py hashes legs as the dicts of the schema
        return Signal(signal_id=signal_id(game, leg_terms, tick_ids), game_id=game, legs=legs, size=sized.size, cost=sized.cost, edge=sized.edge, event_ts=event_ts,
                      deadline_ts=event_ts + ttl_us, input_tick_ids=tick_ids, input_received_ts=[t.received_ts for t in ticks],
                      detected_ts=self.clock())


def detect_all(ticks: Iterable[Tick], pairings: Mapping[str, MarketPairing], settings: DetectorSettings) -> list[Signal]:
    """Offline: the same detector over a sequence of ticks (replay's --detect)."""
    det = Detector(settings, lambda game_id: pairings.get(game_id), clock=lambda: 0)
    states: dict[str, dict[str, Tick]] = {}
    out: list[Signal] = []
    for tick in ticks:
        states[tick.game_id], sigs = det.on_tick(states.get(tick.game_id, {}), tick)
        out += sigs
    return out
