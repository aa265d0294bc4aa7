"""Discovery rounds: fetch both venues, pair, and publish changes to the compacted `markets` topic.

A round publishes a pairing only when its content changed (updated_ts aside) and tombstones every
game on `markets` that the round no longer pairs -- a game that disappeared, is blocked, or whose league or
market type the user excluded since (ARB_DISCOVER_EXCLUDE_*). What is on `markets` goes into the match too:
a published game keeps its game_id (match.py). A round in which a venue could not be read
completely publishes nothing: a half-read venue must not look like games that disappeared.

Settlement. After each round (complete or not) discovery asks each venue how the markets of the games it
watches resolved: every game on `markets`, and every game withdrawn from it since (a finished game's markets
stop trading, so it is withdrawn before it resolves; positions may still be held), once the game has
started, until each of its markets has a Settlement record (resolution.py) on the compacted `settlements`
topic or ARB_DISCOVER_SETTLE_WATCH_S has passed (then an ERROR names what never resolved). A record is
published once per "VENUE:market" (the topic is read at start, so a restart does not publish it again).
A venue that cannot be asked is logged and asked again next round. Games withdrawn before a restart are not
watched after it (only `markets` says what to watch).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

from core import codec
from core.kafka import make_producer
from core.markets_cache import MarketsCache
from core.settings import KafkaSettings
from core.topics import topic_name
from core.units import now_us
from producers.discovery import aliases as alias_mod
from producers.discovery import overrides as override_mod
from producers.discovery.exceptions import AliasError, OverrideError
from producers.discovery.match import PairingRules, match
from producers.discovery.model import Rejected, VenueGame
from producers.discovery.resolution import Resolution, settlement_key, settlement_record
from schemas.records import MarketPairing, Settlement, from_dict

log = logging.getLogger(__name__)

Fetch = Callable[[alias_mod.AliasTable], Awaitable[list[VenueGame | Rejected]]]
# Book markets (Kalshi tickers / Polymarket condition ids) -> (Resolutions of the resolved ones, payload problems)
Resolve = Callable[[list[str]], Awaitable[tuple[list[Resolution], list[str]]]]


class Deliveries:
    """A produce() delivery callback that keeps which keys Kafka acknowledged and the errors of the others: a
    record is reported as published only once its delivery report says so."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.delivered: set[str] = set()

    def __call__(self, err: Any, msg: Any) -> None:
        if err is not None:
            self.errors.append(str(err))
        else:
            self.delivered.add((msg.key() or b"").decode())


@dataclass
class RoundReport:
    kalshi_games: int = 0
    polymarket_games: int = 0
    paired: int = 0
    published: list[str] = field(default_factory=list)
    tombstoned: list[str] = field(default_factory=list)
    unchanged: int = 0
    blocked: list[str] = field(default_factory=list)
    rejected: list[dict[str, str]] = field(default_factory=list)  # venue events we could not use
    unmatched: list[dict[str, str]] = field(default_factory=list)  # usable games with no partner
    excluded: list[dict[str, str]] = field(default_factory=list)  # games of an excluded league or market type
    errors: list[str] = field(default_factory=list)
    settled: list[str] = field(default_factory=list)  # "VENUE:market" Settlement records Kafka acknowledged this round
    settle_errors: list[str] = field(default_factory=list)  # venues that could not be asked, payloads that could not be read
    settle_expired: list[str] = field(default_factory=list)  # games given up on (ARB_DISCOVER_SETTLE_WATCH_S)

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "kalshi_games": self.kalshi_games, "polymarket_games": self.polymarket_games, "paired": self.paired,
                "published": self.published, "tombstoned": self.tombstoned, "unchanged": self.unchanged, "blocked": self.blocked,
                "rejected": self.rejected, "unmatched": self.unmatched, "excluded": self.excluded, "errors": self.errors,
                "settled": self.settled, "settle_errors": self.settle_errors, "settle_expired": self.settle_expired}


@dataclass
class Watch:
    """A game whose markets' resolutions are still wanted."""

    game_id: str
    start_us: int | None
    first_seen_us: int
    books: dict[tuple[str, str], list[str]]  # (venue, book market) -> its Settlement keys ("VENUE:market")
    withdrawn_us: int | None = None

    @classmethod
    def of(cls, gid: str, pairing: MarketPairing, now: int) -> Watch:
        books: dict[tuple[str, str], list[str]] = {}
        for b in pairing.books:
            markets = [b.market] if b.venue == "KALSHI" else sorted({i.market for i in b.instruments})
            books[(b.venue, b.market)] = [settlement_key(b.venue, m) for m in markets]
        return cls(gid, pairing.start_ts, now, books)


def _same(old: MarketPairing | None, new: MarketPairing) -> bool:
    """The same content, updated_ts aside."""
    return old is not None and replace(old, updated_ts=new.updated_ts) == new


class DiscoveryService:
    def __init__(self, kafka: KafkaSettings, *, fetch_kalshi: Fetch, fetch_polymarket: Fetch, aliases_file: str = "", overrides_file: str = "",
                 rules: PairingRules | None = None, resolve_kalshi: Resolve | None = None, resolve_polymarket: Resolve | None = None,
                 settle_watch_s: float | None = None, settle_max_markets: int | None = None, clock: Callable[[], int] = now_us) -> None:
        """`resolve_*`: how each venue is asked for resolutions (None: that venue is not asked); `settle_*`
        None: ARB_DISCOVER_SETTLE_WATCH_S / ARB_DISCOVER_SETTLE_MAX_MARKETS."""
        self.kafka = kafka
        self.rules = rules if rules is not None else PairingRules.from_env()
        self.fetch_kalshi = fetch_kalshi
        self.fetch_polymarket = fetch_polymarket
        self.aliases_file = aliases_file
        self.overrides_file = overrides_file
        self.topic = topic_name("markets", kafka)
        self.cache = MarketsCache(kafka)
        self.producer = make_producer(kafka)
        self._stop = asyncio.Event()
        self.resolvers: dict[str, Resolve] = {v: r for v, r in (("KALSHI", resolve_kalshi), ("POLYMARKET", resolve_polymarket)) if r is not None}
        if settle_watch_s is None or settle_max_markets is None:
            from core.config import load
            from producers.discovery.settings import DiscoverySettings

            ds = load(DiscoverySettings)
            settle_watch_s = ds.settle_watch_s if settle_watch_s is None else settle_watch_s
            settle_max_markets = ds.settle_max_markets if settle_max_markets is None else settle_max_markets
        self.settle_watch_us = int(settle_watch_s * 1_000_000)
        self.settle_max_markets = settle_max_markets
        self.clock = clock
        self.settlements_topic = topic_name("settlements", kafka)
        self.watch: dict[str, Watch] = {}
        self.settled: set[str] = set()  # "VENUE:market" keys on `settlements`

    def start(self) -> None:
        self.cache.start()
        if self.resolvers:
            self.settled = self._published_settlements()

    def _published_settlements(self) -> set[str]:
        """The keys already on `settlements` (one partition), so a restart does not publish a market twice."""
        from executor.recovery_reader import read_partition

        try:
            recs, bad = read_partition(self.kafka, [self.settlements_topic], 0, stall_s=10.0)
        except TimeoutError as exc:  # unreadable now: a market may be published once more (same content, compacted topic)
            log.error("cannot read %s at start: %s", self.settlements_topic, exc)
            return set()
        if bad:
            log.error("%d undecodable record(s) on %s", bad, self.settlements_topic)
        return {settlement_key(r.venue, r.market) for r in recs if isinstance(r, Settlement)}

    def close(self) -> None:
        self.cache.stop()
        self.producer.flush(10)

    def stop(self) -> None:
        self._stop.set()

    async def run_once(self) -> RoundReport:
        if self.resolvers:  # before the round: a game it withdraws must stay watched
            self._update_watch(self.clock())
        rep = await self._pair_round()
        if self.resolvers:
            await self._settle_round(rep)
        return rep

    async def _pair_round(self) -> RoundReport:
        rep = RoundReport()
        try:  # re-read every round: users edit these files without restarting
            aliases = alias_mod.load(self.aliases_file)
            overrides = override_mod.load(self.overrides_file)
        except (AliasError, OverrideError) as exc:
            rep.errors.append(str(exc))
            return rep
        results = await asyncio.gather(self.fetch_kalshi(aliases), self.fetch_polymarket(aliases), return_exceptions=True)
        games: list[list[VenueGame]] = []
        for venue, res in zip(("KALSHI", "POLYMARKET"), results, strict=True):
            if isinstance(res, BaseException):
                if not isinstance(res, Exception):
                    raise res
                rep.errors.append(f"{venue}: {type(res).__name__}: {res}")
                games.append([])
                continue
            games.append([g for g in res if isinstance(g, VenueGame)])
            rep.rejected += [{"venue": r.venue, "event": r.event, "reason": r.reason} for r in res if isinstance(r, Rejected)]
        rep.kalshi_games, rep.polymarket_games = len(games[0]), len(games[1])
        if rep.errors:
            log.error("discovery round incomplete; nothing published: %s", "; ".join(rep.errors))
            return rep
        draws = {code: lg.draws for code, lg in aliases.leagues.items()}
        current = dict(self.cache.pairings)
        result = match(games[0], games[1], overrides, draws, now_us=now_us(), rules=self.rules, published=current)
        rep.paired = len(result.pairings)
        rep.blocked = result.blocked
        rep.unmatched = [{"venue": r.venue, "event": r.event, "reason": r.reason} for r in result.unmatched]
        rep.excluded = [{"venue": r.venue, "event": r.event, "reason": r.reason} for r in result.excluded]
        # The report names only what Kafka acknowledged: a pairing or tombstone is "published" once its
        # delivery report says so, never because it was handed to the producer.
        on_delivery = Deliveries()
        errors, delivered = on_delivery.errors, on_delivery.delivered

        to_publish: list[str] = []
        to_tombstone: list[str] = []
        fresh = {gid: from_dict(MarketPairing, {**rec, "updated_ts": 0}) for gid, rec in result.pairings.items()}
        for gid, rec in sorted(result.pairings.items()):
            if _same(current.get(gid), fresh[gid]):
                rep.unchanged += 1
                continue
            value = codec.encode("MarketPairing", {**rec, "updated_ts": now_us()})
            self.producer.produce(self.topic, key=gid.encode(), value=value, on_delivery=on_delivery)
            to_publish.append(gid)
        for gid in sorted(set(current) - set(result.pairings)):
            self.producer.produce(self.topic, key=gid.encode(), value=None, on_delivery=on_delivery)
            to_tombstone.append(gid)
        remaining = await asyncio.to_thread(self.producer.flush, 15)
        rep.published = [gid for gid in to_publish if gid in delivered]
        rep.tombstoned = [gid for gid in to_tombstone if gid in delivered]
        undelivered = len(to_publish) + len(to_tombstone) - len(rep.published) - len(rep.tombstoned)
        if undelivered:
            why = f"errors: {errors[:3]}" if errors else f"no delivery report within 15 s ({remaining} still queued)"
            rep.errors.append(f"markets: {undelivered} record(s) not delivered to {self.topic} ({why}); not reported as published")
        # Fold what was written in now, so the next round compares against it (and sends the rest again).
        for gid in rep.published:
            self.cache.pairings[gid] = fresh[gid]
        for gid in rep.tombstoned:
            self.cache.pairings.pop(gid, None)
        log.info("discovery round: %d paired, %d published, %d tombstoned, %d unmatched, %d rejected", rep.paired, len(rep.published),
                 len(rep.tombstoned), len(rep.unmatched), len(rep.rejected))
        return rep

    def _update_watch(self, now: int) -> None:
        pairings = dict(self.cache.pairings)
        for gid, p in pairings.items():
            old = self.watch.get(gid)
            w = Watch.of(gid, p, now if old is None else old.first_seen_us)
            self.watch[gid] = w
        for gid, w in self.watch.items():
            if gid not in pairings and w.withdrawn_us is None:
                w.withdrawn_us = now

    def _open_books(self, w: Watch) -> list[tuple[str, str]]:
        return [vb for vb, keys in w.books.items() if any(k not in self.settled for k in keys)]

    async def _settle_round(self, rep: RoundReport) -> None:
        now = self.clock()
        self._update_watch(now)
        asks: dict[str, list[str]] = {v: [] for v in self.resolvers}
        owner: dict[tuple[str, str], str] = {}
        for gid, w in sorted(self.watch.items(), key=lambda kv: (kv[1].start_us or kv[1].first_seen_us, kv[0])):
            open_books = self._open_books(w)
            if not open_books:
                del self.watch[gid]  # every market resolved and published
                continue
            if now > (w.start_us or w.first_seen_us) + self.settle_watch_us:
                log.error("game %s: no resolution of %s within ARB_DISCOVER_SETTLE_WATCH_S; no longer asked (settle its positions by hand)",
                          gid, ", ".join(f"{v}:{b}" for v, b in open_books), extra={"game_id": gid})
                rep.settle_expired.append(gid)
                del self.watch[gid]
                continue
            if w.start_us is not None and w.start_us > now:
                continue  # not started: nothing to resolve yet
            for venue, book in open_books:
                owner[(venue, book)] = gid
                if venue in asks and len(asks[venue]) < self.settle_max_markets:
                    asks[venue].append(book)
        venues = [v for v in asks if asks[v]]
        answers = await asyncio.gather(*(self.resolvers[v](asks[v]) for v in venues), return_exceptions=True)
        found: list[Resolution] = []
        for venue, ans in zip(venues, answers, strict=True):
            if isinstance(ans, BaseException):
                if not isinstance(ans, Exception):
                    raise ans
                rep.settle_errors.append(f"{venue}: {type(ans).__name__}: {ans}")
                continue
            found += ans[0]
            rep.settle_errors += [f"{venue}: {p}" for p in ans[1]]
        if rep.settle_errors:
            log.error("settlement lookups (asked again next round): %s", "; ".join(rep.settle_errors))
        await self._publish_settlements(rep, found, owner, now)

    async def _publish_settlements(self, rep: RoundReport, found: list[Resolution], owner: dict[tuple[str, str], str], now: int) -> None:
        on_delivery = Deliveries()
        errors, delivered = on_delivery.errors, on_delivery.delivered

        sent: list[str] = []
        for res in found:
            key = settlement_key(res.venue, res.market)
            gid = owner.get((res.venue, res.book))
            if gid is None or key in self.settled or key in sent:
                continue
            rec = settlement_record(res, gid, seen_us=now, now_us=self.clock())
            self.producer.produce(self.settlements_topic, key=key.encode(), value=codec.encode("Settlement", rec), on_delivery=on_delivery)
            sent.append(key)
        if not sent:
            return
        remaining = await asyncio.to_thread(self.producer.flush, 15)
        rep.settled = [k for k in sent if k in delivered]
        self.settled.update(rep.settled)
        if len(rep.settled) < len(sent):
            why = f"errors: {errors[:3]}" if errors else f"no delivery report within 15 s ({remaining} still queued)"
            rep.settle_errors.append(f"settlements: {len(sent) - len(rep.settled)} record(s) not delivered ({why}); sent again next round")
        log.info("settlements published: %s", ", ".join(rep.settled))

    async def run_forever(self, every_s: float, on_round: Callable[[RoundReport], None] | None = None) -> None:
        while not self._stop.is_set():
            rep = await self.run_once()
            if on_round is not None:
                on_round(rep)
            try:
                await asyncio.wait_for(self._stop.wait(), timeout=every_s)
            except TimeoutError:
                pass
