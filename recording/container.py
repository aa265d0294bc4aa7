"""Avro object container files of Kafka records: each record keeps its topic, partition, offset,
timestamp, key and the original value bytes (single-object encoded, so any schema version survives);
the writer schemas of every arb record type are embedded in the file's metadata."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import fastavro

import schemas
from recording.exceptions import RecordingError

ENVELOPE = fastavro.parse_schema({
    "type": "record", "name": "RecordedRecord", "namespace": "arb.recording",
    "doc": "One Kafka record as recorded by `arb record`.",
    "fields": [
        {"name": "topic", "type": "string"},
        {"name": "partition", "type": "int"},
        {"name": "offset", "type": "long"},
        {"name": "timestamp_ms", "type": "long", "doc": "Kafka record timestamp, ms since the Unix epoch"},
        {"name": "key", "type": ["null", "bytes"], "default": None},
        {"name": "value", "type": ["null", "bytes"], "default": None, "doc": "Original bytes (Avro single-object encoding, or a tombstone)"},
        {"name": "type", "type": ["null", "string"], "default": None, "doc": "Record type name, when the topic has one"},
    ]})


def write(path: Path, records: Iterable[dict[str, Any]]) -> int:
    meta = {"arb.schemas": json.dumps({f"{v.type_name}/v{v.version}": v.schema for v in schemas.all_versions()})}
    rows = list(records)
    with path.open("wb") as f:
        fastavro.writer(f, ENVELOPE, rows, metadata=meta, codec="deflate")
    return len(rows)


def read(path: Path) -> Iterator[dict[str, Any]]:
    if not path.is_file():
        raise RecordingError(f"{path}: no such file")
    with path.open("rb") as f:
        try:
            reader = fastavro.reader(f)
        except (ValueError, EOFError) as exc:
            raise RecordingError(f"{path}: not an Avro container file ({exc})") from None
        ws = reader.writer_schema
        if not isinstance(ws, dict) or ws.get("name") not in ("arb.recording.RecordedRecord", "RecordedRecord"):
            raise RecordingError(f"{path}: not an arb recording")
        for row in reader:
            yield dict(row)  # type: ignore[arg-type]
