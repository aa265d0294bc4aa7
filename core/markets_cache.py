"""The `markets` topic (one partition, compacted) read into a dict: game_id -> MarketPairing (schemas/records.py).

Every role that needs pairings (feeds, processors, executor) reads the whole topic with a plain
consumer assigned to its single partition, from the beginning, and keeps the last value per key
(compaction removes older values only eventually: it never touches the active segment, so a reader sees
several values of a key until the log cleaner has run). A tombstone removes the game. Listeners hear
every change.

No record stops the reader: one whose key is missing or not UTF-8, or whose value cannot be decoded (or
not now: the schema registry is unreachable), goes to the dead-letter topic with its bytes, and the next
record is read. `failure` is set (and `healthy` false) if the reader thread itself stops.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Self

from confluent_kafka import Message, Producer

from core import codec, metrics
from core.dlq import decode_key
from core.registry import RegistryUnavailable
from core.settings import KafkaSettings
from core.state_reader import TopicReader
from core.topics import topic_name
from schemas.records import MarketPairing

log = logging.getLogger(__name__)

Listener = Callable[[str, MarketPairing | None], None]  # (game_id, its new pairing; None: the game was withdrawn)


class MarketsCache(TopicReader):
    reader = "markets"

    def __init__(self, settings: KafkaSettings, *, dlq_producer: Producer | None = None) -> None:
        super().__init__(settings, topic_name("markets", settings), dlq_producer=dlq_producer)
        self.pairings: dict[str, MarketPairing] = {}
        self.listeners: list[Listener] = []
        self.bad_records = 0

    @property
    def consequence(self) -> str:
        return f"pairings no longer follow `{self.topic}`"

    @property
    def healthy(self) -> bool:
        """The reader thread runs (or was never started: offline use) and has not stopped."""
        return not self.dead

    def get(self, game_id: str) -> MarketPairing | None:
        return self.pairings.get(game_id)

    def apply(self, game_id: str, value: bytes | None) -> None:
        """Fold one record (also used directly by offline tools); an undecodable value is logged and skipped."""
        try:
            self._fold(game_id, value)
        except (codec.DecodeError, RegistryUnavailable) as exc:
            self.bad_records += 1
            log.error("undecodable MarketPairing for %s: %s", game_id, exc, extra={"game_id": game_id})

    def _fold(self, game_id: str, value: bytes | None) -> None:
        if value is None:
            old = self.pairings.pop(game_id, None)
            if old is not None:
                self._notify(game_id, None)
            return
        pairing = codec.decode_record(value, MarketPairing)
        if self.pairings.get(game_id) != pairing:
            self.pairings[game_id] = pairing
            self._notify(game_id, pairing)

    def _notify(self, game_id: str, pairing: MarketPairing | None) -> None:
        for cb in list(self.listeners):
            try:
                cb(game_id, pairing)
            except Exception:
                log.exception("markets listener failed", extra={"game_id": game_id})

    def start(self, wait_s: float = 15.0) -> Self:
        """Start the reader thread and wait (bounded) until the existing records are loaded."""
        super().start(wait_s)
        if not self._loaded.is_set():
            log.warning("markets: initial load not finished after %.0f s; continuing", wait_s)
        return self

    def _on_record(self, msg: Message) -> None:
        self._fold(decode_key(msg.key()), msg.value())

    def _on_error(self, msg: Message, exc: Exception) -> None:
        """A record that could not be applied: dead-lettered; the reader goes on with the next one."""
        self.bad_records += 1
        metrics.STATE_READER_ERRORS.labels("markets").inc()
        log.error("markets: record at offset %s not applied (%s); dead-lettered", msg.offset(), exc)
        self._dlq.send(msg, exc)
