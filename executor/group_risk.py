"""One risk state for the whole executor group (issue 26), folded from Kafka by every executor.

`RiskFold` (pure): `fills` of ALL partitions -> holdings per instrument (positions.fold.Book), `settlements`
-> settled instruments (their contracts pay out: realized P&L, exposure released), `positions` -> marks.
From it: the exposure of each game (worst-case loss of what is held: cost of the open contracts minus what
they are sure to pay whatever the outcome, from the game's MarketPairing; 0 when the pairing is unknown),
per signals partition, and the day's P&L (realized since the day boundary + marked-to-market).

`GroupRisk` (I/O): a thread rebuilds the fold on start, with progress logs and a stall bound, then follows
the topics: `fills` from the earlier of the day start and now - ARB_EXEC_RISK_LOOKBACK_H (offsets_for_times),
so positions opened before midnight still count as exposure; `settlements` and `positions` from their
beginning (compacted, one record per market / instrument).

Marks come from the compacted `positions` topic (the positions service's Position.mark_price = best bid of
the instrument), not from `ticks`: every executor reading all of `ticks` would cost as much as the whole
feed; `positions` holds one record per instrument. A holding without a mark counts at its cost (unrealized
0): its worst case is already bounded by the exposure limit, and counting it at worst case would also turn
every fresh fill into a daily "loss" until its first mark arrives.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple, TypeVar
from zoneinfo import ZoneInfo

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Message, TopicPartition

from core import codec
from core.kafka import make_consumer, offsets_for_times, watermarks
from core.settings import KafkaSettings
from core.state_reader import BackgroundReader
from core.topics import partitions, topic_name
from core.units import ONE_DOLLAR
from positions.fold import Book, Holding, InstrumentKey, settlement_pays, trading_day
from schemas.records import Fill, MarketPairing, Position, Settlement

log = logging.getLogger(__name__)

Pairings = Callable[[], Mapping[str, MarketPairing]]  # game_id -> MarketPairing
T = TypeVar("T")


def _no_pairings() -> Mapping[str, MarketPairing]:
    """GroupRisk's default source of pairings: none (no holding is then sure to pay anything)."""
    return {}


def day_start_us(now: int, tz: ZoneInfo) -> int:
    local = datetime.fromtimestamp(now / 1e6, tz)
    midnight = datetime(local.year, local.month, local.day, tzinfo=tz)
    return int(midnight.timestamp()) * 1_000_000


def _open(book: Book) -> list[Holding]:
    """The book's holdings that are still open (contracts, or a cost not yet realized)."""
    return [h for h in book.holdings.values() if h.contracts != 0 or h.cost != 0]


def _pays_on(pairing: MarketPairing) -> dict[InstrumentKey, list[str]]:
    return {(b.venue, i.market, i.side): list(i.pays_on) for b in pairing.books for i in b.instruments}


def possible_outcomes(pairing: MarketPairing, settled: Mapping[InstrumentKey, int]) -> list[str]:
    """The game's outcomes its settled instruments leave possible: one that paid $1 happened among its `pays_on`, one
    that paid 0 did not (a 50-50 or a fair-price payout says nothing). All outcomes if the venues contradict each
    other (the settlement mismatch alert reports that; the limit then assumes the worst)."""
    pays_on = _pays_on(pairing)
    left = [o for o in pairing.outcomes
            if all((o in pays_on[k]) == (payout == ONE_DOLLAR) for k, payout in settled.items() if k in pays_on and payout in (0, ONE_DOLLAR))]
    return left or list(pairing.outcomes)


def cover_payouts(holdings: list[Holding], pairing: MarketPairing | None, settled: Mapping[InstrumentKey, int]) -> list[int] | None:
    """What the open contracts pay (1e-6 USD) in each outcome still possible (settled legs narrow them: once Kalshi
    paid on the home team, the Polymarket away token of the same game is worth 0); None without a pairing."""
    if pairing is None or not pairing.outcomes:
        return None
    pays_on = _pays_on(pairing)
    return [sum(ONE_DOLLAR * h.contracts for h in holdings if o in pays_on.get((h.venue, h.market, h.side), []))
            for o in possible_outcomes(pairing, settled)]


class GameFigures(NamedTuple):
    """What the risk gate reads of one game with open holdings, and the pairing it was computed with."""

    pairing: MarketPairing | None
    exposure: int  # 1e-6 USD (RiskFold.game_exposure)
    unrealized: int  # 1e-6 USD (its part of RiskFold.unrealized)


@dataclass
class RiskFold:
    tz: ZoneInfo
    # One positions/fold.Book per game (a holding belongs to the game of the signal that bought it; Book keys by
    # instrument only); settlement and the day's realized P&L are Book's, as in the positions service.
    books: dict[str, Book] = field(default_factory=dict)
    game_partition: dict[str, int] = field(default_factory=dict)  # game -> fills (= signals) partition
    signal_fills: dict[str, tuple[int, int]] = field(default_factory=dict)  # signal -> (partition, EOF count at its last fill)
    eofs: dict[int, int] = field(default_factory=dict)  # fills partition -> times the reader reached its end
    settlements: dict[str, Settlement] = field(default_factory=dict)  # "VENUE:market" -> Settlement record
    marks: dict[InstrumentKey, int] = field(default_factory=dict)  # latest best bid, 1e-4 USD

    _payouts: dict[InstrumentKey, tuple[int, int | None]] = field(default_factory=dict)  # shared by every game's Book
    # Each held game's figures, kept until what they depend on changes: its book (a fill, a settlement), the mark of an
    # instrument it holds, its pairing. The gate reads the day's P&L of every held game for every signal, and the
    # executor's metrics every game's exposure: recomputing them all cost ~3 ms each at 500 games held (arb bench risk).
    _figures: dict[str, GameFigures] = field(default_factory=dict)  # game with open holdings -> its figures
    _stale: set[str] = field(default_factory=set)  # games whose book or marks changed since their figures were made
    _holders: dict[InstrumentKey, set[str]] = field(default_factory=dict)  # instrument -> the games whose books hold it

    def __post_init__(self) -> None:
        self._stale.update(self.books)  # books given to the constructor: their figures are not made yet

    def _book(self, game: str) -> Book:
        book = self.books.get(game)
        if book is None:  # every Book reads the one payouts map: a fill of a settled instrument pays out at once
            book = self.books[game] = Book(tz=self.tz, payouts=self._payouts)
        return book

    @property
    def payouts(self) -> dict[InstrumentKey, int]:
        """Settled instruments -> what a contract pays, 1e-4 USD."""
        return {k: v[0] for k, v in self._payouts.items()}

    @property
    def realized_by_day(self) -> dict[str, int]:
        """Trading day (yyyymmdd in `tz`) -> realized P&L of every game, 1e-6 USD."""
        out: dict[str, int] = {}
        for book in self.books.values():
            for day, amount in book.daily.items():
                out[day] = out.get(day, 0) + amount
        return out

    def settled_legs(self, game: str) -> tuple[dict[InstrumentKey, int], int]:
        """The game's settled holdings: (instrument -> payout per contract, their realized P&L incl. fees)."""
        book = self.books.get(game)
        if book is None:
            return {}, 0
        done = [h for h in book.holdings.values() if h.settled and h.payout is not None]
        return {(h.venue, h.market, h.side): int(h.payout) for h in done if h.payout is not None}, sum(h.realized for h in done)

    def apply_fill(self, fill: Fill, partition: int) -> None:
        # Before the book changes: a fill that fails half-way (the reader then stops) must not leave figures kept.
        self._stale.add(fill.game_id)
        self._holders.setdefault((fill.venue, fill.market, fill.side), set()).add(fill.game_id)
        if not self._book(fill.game_id).apply(fill):
            return  # a repeated fill_id
        self.game_partition[fill.game_id] = partition
        self.signal_fills[fill.signal_id] = (partition, self.eofs.get(partition, 0))

    def apply_settlement(self, rec: Settlement) -> None:
        key = f"{rec.venue}:{rec.market}"
        if key in self.settlements:
            return  # what was paid cannot change (positions/fold.Book keeps a conflicting second record aside)
        self.settlements[key] = rec
        pays = settlement_pays(rec)
        ts = rec.resolved_ts
        for k, payout in pays.items():
            self._payouts.setdefault(k, (payout, ts))
        for game in set().union(*(self._holders.get(k, ()) for k in pays)):  # the books holding one of its instruments
            self.books[game].settle(pays, ts)
            self._stale.add(game)

    def apply_position(self, rec: Position) -> None:
        k = (rec.venue, rec.market, rec.side)
        if self.marks.get(k) == rec.mark_price:
            return
        if rec.mark_price is None:
            self.marks.pop(k, None)
        else:
            self.marks[k] = rec.mark_price
        self._stale.update(self._holders.get(k, ()))

    def open_holdings(self) -> dict[str, list[Holding]]:
        out: dict[str, list[Holding]] = {}
        for game, book in self.books.items():
            if hs := _open(book):
                out[game] = hs
        return out

    def reached_end(self, partition: int) -> None:
        self.eofs[partition] = self.eofs.get(partition, 0) + 1

    def fills_complete(self, signal_id: str) -> bool:
        """The signal has fills folded, and the reader reached the end of their partition after the last one: every fill
        of the transaction that committed it is folded (a transaction's records become readable together)."""
        seen = self.signal_fills.get(signal_id)
        return seen is not None and self.eofs.get(seen[0], 0) > seen[1]

    def game_exposure(self, game: str, pairing: MarketPairing | None) -> int:
        """What the game can still lose (1e-6 USD): minus its worst final P&L over the outcomes still possible, counting
        the realized P&L of its settled legs (a covered pair whose Kalshi leg paid is still covered by its open leg)."""
        figures = self.figures(game, pairing)
        return figures.exposure if figures is not None else 0

    def exposures(self, pairings: Mapping[str, MarketPairing]) -> dict[str, int]:
        """game -> exposure (1e-6 USD), games with open holdings only."""
        return {g: f.exposure for g, f in self._held(pairings)}

    def partition_exposure(self, p: int, pairings: Mapping[str, MarketPairing]) -> int:
        """The exposure of the games of signals partition p (a game without open holdings has none)."""
        return sum(self.game_exposure(g, pairings.get(g)) for g, part in self.game_partition.items() if part == p)

    def unrealized(self, pairings: Mapping[str, MarketPairing]) -> int:
        """Marked-to-market P&L of the open holdings: per game, what they pay if the settled legs have decided the
        outcome, else max(value at the marks, sure payout) - cost (a covered position is sure to pay its cover,
        whatever its bids say). A holding without a mark counts at its cost."""
        return sum(f.unrealized for _, f in self._held(pairings))

    def _held(self, pairings: Mapping[str, MarketPairing]) -> list[tuple[str, GameFigures]]:
        """(game, figures) of every game with open holdings: each has figures or is stale (only a fill or a settlement,
        which make it stale, change a book)."""
        out = []
        for g in [*self._figures, *(self._stale - self._figures.keys())]:
            if (figures := self.figures(g, pairings.get(g))) is not None:
                out.append((g, figures))
        return out

    def figures(self, game: str, pairing: MarketPairing | None) -> GameFigures | None:
        """The game's exposure and unrealized P&L with this pairing (None: no open holdings), made again only when its
        book, a mark of what it holds or its pairing changed."""
        kept = self._figures.get(game)
        # A game neither stale nor kept has no open holdings (only a fill or a settlement change a book, and both make it
        # stale): nothing to make again, whatever the pairing (closed games are asked for every signal of their partition).
        if game not in self._stale and (kept is None or kept.pairing is pairing):
            return kept
        figures = self._compute(game, pairing)
        self._stale.discard(game)  # only once made: a computation that raised leaves the game stale
        if figures is None:
            self._figures.pop(game, None)
        else:
            self._figures[game] = figures
        return figures

    def _compute(self, game: str, pairing: MarketPairing | None) -> GameFigures | None:
        book = self.books.get(game)
        hs = _open(book) if book is not None else []
        if not hs:
            return None
        cost = sum(h.cost for h in hs)
        settled, realized = self.settled_legs(game)
        pays = cover_payouts(hs, pairing, settled)
        sure = min(pays) if pays else 0
        exposure = max(0, cost - sure - realized)
        if pays is not None and len(pays) == 1 and settled:  # the outcome is known: no mark can say otherwise
            return GameFigures(pairing, exposure, pays[0] - cost)
        marked = sum(self.marks[h.venue, h.market, h.side] * h.contracts if (h.venue, h.market, h.side) in self.marks else h.cost
                     for h in hs)
        return GameFigures(pairing, exposure, max(marked, sure) - cost)

    def day_pnl(self, now: int, pairings: Mapping[str, MarketPairing]) -> tuple[int, int]:
        """(realized P&L of the trading day containing `now`, unrealized P&L of every open holding), 1e-6 USD."""
        return self.realized_by_day.get(trading_day(now, self.tz), 0), self.unrealized(pairings)


class GroupRisk(BackgroundReader):
    """Background reader of `fills` (all partitions), `settlements` and `positions` into a RiskFold. Read it with
    `view(fn)` (under its lock) from any thread; `error` says why it cannot be trusted (fail closed)."""

    reader = "risk"

    def __init__(self, settings: KafkaSettings, tz: str, *, pairings: Pairings = _no_pairings, paper: bool = False,
                 lookback_s: int = 3 * 86400, stall_s: float = 30.0, now_us: Callable[[], int] | None = None) -> None:
        from core.units import now_us as _now

        super().__init__()
        self.settings = settings
        self.fold = RiskFold(ZoneInfo(tz))
        self.pairings = pairings
        self.fills_topic = topic_name("fills", settings, paper=paper)
        self.lookback_s = lookback_s
        self.stall_s = stall_s
        self.now_us = now_us or _now
        self.records = 0
        self._lock = threading.Lock()
        self._at: dict[tuple[str, int], int] = {}  # (topic, partition) -> offset read up to (reader thread only)
        self._barriers: list[tuple[int, int | None, Callable[[], None]]] = []  # (fills partition, target offset, then)
        self._known: dict[str, MarketPairing] = {}  # game -> its last pairing seen (see view)
        self._views = 0

    # ---- reading the state ----------------------------------------------------------------------

    def view(self, fn: Callable[[RiskFold, Mapping[str, MarketPairing]], T]) -> T:
        """`fn(fold, pairings)` under the fold's lock. Pairings are the current ones plus the last one seen of every
        game still held: discovery withdraws a finished game from `markets` before it resolves, and its open legs
        are still covered by each other until then."""
        current = self.pairings()
        with self._lock:
            self._known.update(current)
            self._views += 1
            if self._views % 1000 == 0:  # forget games that are neither paired nor held
                held = set(self.fold.open_holdings())
                self._known = {g: p for g, p in self._known.items() if g in current or g in held}
            return fn(self.fold, self._known)

    @property
    def consequence(self) -> str:
        return "the executor rejects every signal"

    @property
    def not_loaded(self) -> str:
        return "risk state not loaded yet (fills/settlements/positions)"

    def after_fills(self, partition: int, then: Callable[[], None]) -> None:
        """Call `then()` (in the reader thread) once every fill of `partition` committed before this call is folded."""
        with self._lock:
            self._barriers.append((partition, None, then))

    def sync(self, partition: int, timeout_s: float) -> bool:
        """Block (a thread, never the event loop) until fills of `partition` committed so far are folded."""
        done = threading.Event()
        self.after_fills(partition, done.set)
        return done.wait(timeout_s)

    # ---- the reader thread (start, stop, failure: core.state_reader.BackgroundReader) -------------

    def _read(self) -> None:
        s = self.settings
        settlements, positions = topic_name("settlements", s), topic_name("positions", s)
        consumer = make_consumer(s, None, wait="follow", **{"enable.partition.eof": True})
        try:
            n_fills = partitions("fills", s)
            since_ms = min(day_start_us(self.now_us(), self.fold.tz), self.now_us() - self.lookback_s * 1_000_000) // 1000
            found = offsets_for_times(consumer, [TopicPartition(self.fills_topic, p, since_ms) for p in range(n_fills)], timeout_s=10)
            tps = [TopicPartition(self.fills_topic, tp.partition, tp.offset if tp.offset >= 0 else OFFSET_BEGINNING) for tp in found]
            for p in range(n_fills):  # no fill that new: start at the end
                if found[p].offset < 0:
                    tps[p] = TopicPartition(self.fills_topic, p, watermarks(consumer, self.fills_topic, p)[1])
            tps += [TopicPartition(settlements, 0, OFFSET_BEGINNING)]
            tps += [TopicPartition(positions, p, OFFSET_BEGINNING) for p in range(partitions("positions", s))]
            # The end of each partition now (read_committed: the last stable offset): loaded once every position reaches it.
            ends: dict[tuple[str, int], int] = {}
            for tp in tps:
                lo, hi = watermarks(consumer, tp.topic, tp.partition)
                ends[(tp.topic, tp.partition)] = hi
                self._at[(tp.topic, tp.partition)] = tp.offset if tp.offset >= 0 else lo  # read up to, before any record
            consumer.assign([TopicPartition(tp.topic, tp.partition, tp.offset if tp.offset >= 0 else self._at[(tp.topic, tp.partition)])
                             for tp in tps])  # explicit offsets: core.kafka.watermarks says why
            t0 = last = progress = time.monotonic()
            while not self._stop.is_set():
                msgs = consumer.consume(500, 0.05)
                now = time.monotonic()
                for msg in msgs:
                    key = (msg.topic() or "", msg.partition() or 0)
                    err = msg.error()
                    if err is not None:
                        if err.code() == KafkaError._PARTITION_EOF:
                            self._at[key] = max(self._at.get(key, 0), msg.offset() or 0)
                            if key[0] == self.fills_topic:
                                with self._lock:
                                    self.fold.reached_end(key[1])
                        continue
                    self._at[key] = max(self._at.get(key, 0), (msg.offset() or 0) + 1)
                    last = now
                    self._apply(msg, settlements, positions)
                if not self._loaded.is_set():
                    if self._reached(consumer, ends):
                        self._loaded.set()
                        log.info("risk state rebuilt: %d records in %.1f s", self.records, now - t0)
                    elif now - last > self.stall_s:
                        raise TimeoutError(f"risk rebuild received nothing for {self.stall_s} s before reaching the end ({self.records} read)")
                    elif now - progress > 5:
                        progress = now
                        log.info("risk state rebuilding: %d records read", self.records)
                self._run_barriers(consumer)
        finally:
            consumer.close()

    def _apply(self, msg: Message, settlements: str, positions: str) -> None:
        """Fold one record (a tombstone: nothing). A fill or settlement that cannot be read stops the reader (the executor
        then rejects every signal): skipping it would under-count exposure and losses for good. A mark that cannot be read
        is skipped (the holding then counts at its cost)."""
        value = msg.value()
        if value is None:
            return
        self.records += 1
        topic = msg.topic()
        if topic == positions:
            try:
                rec = codec.decode_record(value, Position)
            except Exception as exc:
                log.error("risk reader: mark %s[%s]@%s not applied: %s", topic, msg.partition(), msg.offset(), exc)
                return
            with self._lock:
                self.fold.apply_position(rec)
            return
        try:
            if topic == self.fills_topic:
                fill = codec.decode_record(value, Fill)
                with self._lock:
                    self.fold.apply_fill(fill, msg.partition() or 0)
            elif topic == settlements:
                settled = codec.decode_record(value, Settlement)
                with self._lock:
                    self.fold.apply_settlement(settled)
        except Exception as exc:
            raise RuntimeError(f"record {topic}[{msg.partition()}]@{msg.offset()} cannot be folded: {type(exc).__name__}: {exc}") from exc

    def _run_barriers(self, consumer: Consumer) -> None:
        with self._lock:
            barriers, self._barriers = self._barriers, []
        keep = []
        for p, target, then in barriers:
            if target is None:  # taken now, after the caller's commit: read_committed -> the last stable offset
                target = watermarks(consumer, self.fills_topic, p)[1]
            if self._reached(consumer, {(self.fills_topic, p): target}):
                then()
            else:
                keep.append((p, target, then))
        if keep:
            with self._lock:
                self._barriers[:0] = keep

    def _reached(self, consumer: Consumer, ends: Mapping[tuple[str, int], int]) -> bool:
        # position() counts transaction control markers too (executor/recovery_reader.py); an EOF or a record read
        # counts as well (position() may not be known before the first fetch).
        pos = consumer.position([TopicPartition(t, p) for t, p in ends])
        return all(max(tp.offset, self._at.get((tp.topic, tp.partition), -1)) >= ends[(tp.topic, tp.partition)] for tp in pos)
