"""Where positions meets the modules outside it that it reads records through (core.markets_cache, core.control,
executor.recovery_reader): each hands out the typed records of schemas/records.py.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from core.control import control_record
from core.markets_cache import MarketsCache
from core.settings import KafkaSettings
from executor.recovery_reader import read_partition
from schemas.records import Control, ControlKind, MarketPairing, TopLevel

PairingListener = Callable[[str, MarketPairing | None], None]


def follow_pairings(cache: MarketsCache, listener: PairingListener) -> None:
    """Call `listener(game_id, pairing)` on every change of `cache`'s pairings (None: the game was withdrawn), from
    the cache's reader thread."""
    cache.listeners.append(listener)


def control(name: str, kind: ControlKind, active: bool, *, reason: str | None, value: Mapping[str, object] | None = None) -> Control:
    """A Control record written by the positions role (core.control.control_record's)."""
    return control_record(name, kind, active, reason=reason, source="positions", value=value)


def read_records(kafka: KafkaSettings, topic: str, partition: int) -> tuple[list[TopLevel], int]:
    """Every decodable record of `partition` of `topic` up to its end (executor/recovery_reader.py), plus the count
    of undecodable ones."""
    return read_partition(kafka, [topic], partition)
