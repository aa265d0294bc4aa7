"""Versioned Avro schemas.

Layout: schemas/avro/<type>/v<N>.avsc. Every released version stays, so readers can
decode any record ever written and tests can prove each version backward compatible
with every earlier one. The highest version of a type is the one writers use.

schemas/records.py holds a frozen dataclass per record type of the highest versions, generated from the .avsc
files by `python -m schemas.gen` (run it after changing a schema; tests/unit/test_records.py fails until then).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastavro.schema import fingerprint, parse_schema, to_parsing_canonical_form

SCHEMA_DIR = Path(__file__).parent / "avro"


@dataclass(frozen=True)
class SchemaVersion:
    type_name: str  # Avro record name, e.g. "Tick"
    folder: str  # e.g. "tick"
    version: int
    path: Path
    schema: dict[str, Any]  # as written in the .avsc
    canonical: str  # Parsing Canonical Form
    fingerprint: bytes  # CRC-64-AVRO, 8 bytes little-endian (as in single-object encoding)
    runtime: Any  # fastavro-parsed schema with logical types removed (timestamps stay ints)


def _strip_logical(node: Any) -> Any:
    """Drop logicalType so fastavro keeps timestamps as int microseconds (PCF ignores it anyway)."""
    if isinstance(node, dict):
        return {k: _strip_logical(v) for k, v in node.items() if k != "logicalType"}
    if isinstance(node, list):
        return [_strip_logical(v) for v in node]
    return node


def _load(path: Path) -> SchemaVersion:
    schema = json.loads(path.read_text())
    canonical = to_parsing_canonical_form(schema)
    return SchemaVersion(
        type_name=schema["name"],
        folder=path.parent.name,
        version=int(path.stem.lstrip("v")),
        path=path,
        schema=schema,
        canonical=canonical,
        fingerprint=bytes.fromhex(fingerprint(canonical, "CRC-64-AVRO")),
        runtime=parse_schema(_strip_logical(schema), _write_hint=False),
    )


@dataclass(frozen=True)
class _Catalogue:
    versions: tuple[SchemaVersion, ...]  # by (type, version)
    latest: dict[str, SchemaVersion]
    by_fingerprint: dict[bytes, SchemaVersion]


_catalogue: _Catalogue | None = None
_catalogue_lock = threading.Lock()


def _loaded() -> _Catalogue:
    """The schemas, loaded once per process (under a lock), so every lookup returns the same SchemaVersion objects.

    Why the lock: the processor worker's first lookups run in two threads at once (the event loop decoding ticks, the
    markets reader decoding pairings). Loaded twice, `latest` and `by_fingerprint` held different objects for the
    same version, so every Tick was decoded with a "different" reader schema: fastavro resolved writer against reader
    and core/codec.py parsed both schemas again on every call, ~20% of a busy worker's CPU."""
    global _catalogue
    catalogue = _catalogue
    if catalogue is None:
        with _catalogue_lock:
            catalogue = _catalogue
            if catalogue is None:
                versions = tuple(sorted((_load(p) for p in sorted(SCHEMA_DIR.glob("*/v*.avsc"))), key=lambda v: (v.type_name, v.version)))
                latest = {v.type_name: v for v in versions}  # sorted by version, so the last wins
                catalogue = _catalogue = _Catalogue(versions, latest, {v.fingerprint: v for v in versions})
    return catalogue


def reload() -> None:
    """Forget the loaded schemas: the next lookup reads SCHEMA_DIR again (tests that point it elsewhere)."""
    global _catalogue
    with _catalogue_lock:
        _catalogue = None


def all_versions() -> tuple[SchemaVersion, ...]:
    return _loaded().versions


def latest_versions() -> dict[str, SchemaVersion]:
    return _loaded().latest


def latest(type_name: str) -> SchemaVersion:
    try:
        return latest_versions()[type_name]
    except KeyError:
        raise KeyError(f"unknown schema {type_name!r}; known: {', '.join(sorted(latest_versions()))}") from None


def by_fingerprint() -> dict[bytes, SchemaVersion]:
    return _loaded().by_fingerprint
