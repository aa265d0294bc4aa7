"""The `markets` topic (one partition, compacted) read into a dict: game_id -> MarketPairing.

Every role that needs pairings (feeds, processors, executor) reads the whole topic with a plain
consumer assigned to its single partition, from the beginning, and keeps the last value per key
(compaction removes older values only eventually: it never touches the active segment, so a reader sees
several values of a key until the log cleaner has run). A tombstone removes the game. Listeners hear
every change.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from core import codec
from core.settings import KafkaSettings
from core.state_reader import follow
from core.topics import topic_name

log = logging.getLogger(__name__)

Listener = Callable[[str, "dict[str, Any] | None"], None]


class MarketsCache:
    def __init__(self, settings: KafkaSettings) -> None:
        self.settings = settings
        self.topic = topic_name("markets", settings)
        self.pairings: dict[str, dict[str, Any]] = {}
        self.listeners: list[Listener] = []
        self.bad_records = 0
        self._caught_up = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def get(self, game_id: str) -> dict[str, Any] | None:
        return self.pairings.get(game_id)

    def apply(self, game_id: str, value: bytes | None) -> None:
        """Fold one record (also used directly by offline tools)."""
        if value is None:
            old = self.pairings.pop(game_id, None)
            if old is not None:
                self._notify(game_id, None)
            return
        try:
            pairing = codec.decode(value, "MarketPairing")
        except codec.DecodeError as exc:
            self.bad_records += 1
            log.error("undecodable MarketPairing for %s: %s", game_id, exc, extra={"game_id": game_id})
            return
        if self.pairings.get(game_id) != pairing:
            self.pairings[game_id] = pairing
            self._notify(game_id, pairing)

    def _notify(self, game_id: str, pairing: dict[str, Any] | None) -> None:
        for cb in list(self.listeners):
            try:
                cb(game_id, pairing)
            except Exception:
                log.exception("markets listener failed", extra={"game_id": game_id})

    def start(self, wait_s: float = 15.0) -> MarketsCache:
        """Start the reader thread and wait (bounded) until the existing records are loaded."""
        self._thread = threading.Thread(target=self._run, name="markets-reader", daemon=True)
        self._thread.start()
        if not self._caught_up.wait(wait_s):
            log.warning("markets: initial load not finished after %.0f s; continuing", wait_s)
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        try:
            follow(self.settings, self.topic, self._on_record, self._caught_up, self._stop)
        except Exception:
            log.exception("markets reader stopped")

    def _on_record(self, msg: Any) -> None:
        key = msg.key()
        if key is None:
            self.bad_records += 1
            return
        self.apply(key.decode(), msg.value())
