"""Discovery rounds: fetch both venues, pair, and publish changes to the compacted `markets` topic.

A round publishes a pairing only when its content changed (updated_ts aside) and tombstones every
game on `markets` that the round no longer pairs -- a game that disappeared, is blocked, or whose league or
market type the user excluded since (ARB_DISCOVER_EXCLUDE_*). What is on `markets` goes into the match too:
a published game keeps its game_id (match.py). A round in which a venue could not be read
completely publishes nothing: a half-read venue must not look like games that disappeared.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from core import codec
from core.kafka import make_producer
from core.markets_cache import MarketsCache
from core.settings import KafkaSettings
from core.topics import topic_name
from core.units import now_us
from producers.discovery import aliases as alias_mod
from producers.discovery import overrides as override_mod
from producers.discovery.match import PairingRules, match
from producers.discovery.model import Rejected, VenueGame

log = logging.getLogger(__name__)

Fetch = Callable[[alias_mod.AliasTable], Awaitable[list[VenueGame | Rejected]]]


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

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "kalshi_games": self.kalshi_games, "polymarket_games": self.polymarket_games, "paired": self.paired,
                "published": self.published, "tombstoned": self.tombstoned, "unchanged": self.unchanged, "blocked": self.blocked,
                "rejected": self.rejected, "unmatched": self.unmatched, "excluded": self.excluded, "errors": self.errors}


def _same(old: dict[str, Any] | None, new: dict[str, Any]) -> bool:
    return old is not None and {k: v for k, v in old.items() if k != "updated_ts"} == new


class DiscoveryService:
    def __init__(self, kafka: KafkaSettings, *, fetch_kalshi: Fetch, fetch_polymarket: Fetch, aliases_file: str = "", overrides_file: str = "",
                 rules: PairingRules | None = None) -> None:
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

    def start(self) -> None:
        self.cache.start()

    def close(self) -> None:
        self.cache.stop()
        self.producer.flush(10)

    def stop(self) -> None:
        self._stop.set()

    async def run_once(self) -> RoundReport:
        rep = RoundReport()
        try:  # re-read every round: users edit these files without restarting
            aliases = alias_mod.load(self.aliases_file)
            overrides = override_mod.load(self.overrides_file)
        except (alias_mod.AliasError, override_mod.OverrideError) as exc:
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
        errors: list[str] = []
        delivered: set[str] = set()

        def on_delivery(err: Any, msg: Any) -> None:
            if err is not None:
                errors.append(str(err))
            else:
                delivered.add((msg.key() or b"").decode())

        to_publish: list[str] = []
        to_tombstone: list[str] = []
        for gid, rec in sorted(result.pairings.items()):
            if _same(current.get(gid), rec):
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
            self.cache.pairings[gid] = {**result.pairings[gid], "updated_ts": 0}
        for gid in rep.tombstoned:
            self.cache.pairings.pop(gid, None)
        log.info("discovery round: %d paired, %d published, %d tombstoned, %d unmatched, %d rejected", rep.paired, len(rep.published),
                 len(rep.tombstoned), len(rep.unmatched), len(rep.rejected))
        return rep

    async def run_forever(self, every_s: float, on_round: Callable[[RoundReport], None] | None = None) -> None:
        while not self._stop.is_set():
            rep = await self.run_once()
            if on_round is not None:
                on_round(rep)
            try:
                await asyncio.wait_for(self._stop.wait(), timeout=every_s)
            except TimeoutError:
                pass
