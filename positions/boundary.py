"""Where positions meets modules that still hand out records as dicts (core.markets_cache, core.control,
executor.recovery_reader): each function here converts them to the typed records of schemas/records.py, once.
The casts below are the only ones in positions (mypy checks positions with disallow_any_expr); each goes when
its module returns records itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import cast

from core.control import control_record
from core.markets_cache import MarketsCache
from core.settings import KafkaSettings
from executor.recovery_reader import read_partition
from schemas.records import BY_NAME, Control, ControlKind, MarketPairing, TopLevel, from_dict

PairingListener = Callable[[str, MarketPairing | None], None]


def follow_pairings(cache: MarketsCache, listener: PairingListener) -> None:
    """Call `listener(game_id, pairing)` on every change of `cache`'s pairings (None: the game was withdrawn), from
    the cache's reader thread."""

    def on_change(game_id: str, pairing: Mapping[str, object] | None) -> None:
        listener(game_id, None if pairing is None else from_dict(MarketPairing, pairing))

    cast("list[Callable[[str, Mapping[str, object] | None], None]]", cache.listeners).append(on_change)


def control(name: str, kind: ControlKind, active: bool, *, reason: str | None, value: dict[str, object] | None = None) -> Control:
    """A Control record written by the positions role (core.control.control_record's)."""
    rec = cast("Mapping[str, object]", control_record(name, kind, active, reason=reason, source="positions", value=value))
    return from_dict(Control, rec)


def read_records(kafka: KafkaSettings, topic: str, partition: int) -> tuple[list[TopLevel], int]:
    """Every decodable record of `partition` of `topic` up to its end (executor/recovery_reader.py), plus the count
    of undecodable ones."""
    recs, bad = cast("tuple[list[tuple[str, Mapping[str, object]]], int]", read_partition(kafka, [topic], partition))
    return [from_dict(BY_NAME[type_name], rec) for type_name, rec in recs], bad
