"""Avro single-object encoding: C3 01 + 8-byte CRC-64-AVRO fingerprint (LE) + body.

Writers use the newest version of a schema; readers resolve the writer schema by
fingerprint from schemas/ and project the record onto the newest version of the
same type. Anything that cannot be decoded raises DecodeError, which consumers
route to the dead-letter topic with the original bytes: a bad record never crashes
a consumer.

With a schema registry configured, decoding a Confluent-framed record whose schema id
is not cached asks the registry (bounded: core/registry.py), and encoding a type for
the first time registers it. Both block: on an event loop use `decode_async` (the
lookup runs in a thread) and `warm` the types a role writes at start-up, in a thread.

Two ways to hold a record: a dict (encode/decode, as fastavro reads and writes it) or the typed record of
schemas/records.py (encode_record/decode_record: frozen dataclasses, so mypy checks every field). The typed
calls convert fastavro's dicts: for a Tick of 10 levels a side, decoding takes ~5 µs more than the dict's
~26 µs, encoding ~2 µs more than its ~33 µs (records.from_dict / to_dict).
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterable
from typing import Any, TypeVar

from fastavro import parse_schema, schemaless_reader, schemaless_writer

import schemas
from core.errors import ArbError
from schemas import records

R = TypeVar("R", bound=records.AvroRecord)

MAGIC = b"\xc3\x01"
CONFLUENT_HEADER_LEN = 5  # magic byte 0 + 4-byte schema id
HEADER_LEN = 10


class CodecError(ArbError):
    """Base of codec failures."""


class EncodeError(CodecError):
    """A record does not match its schema (a bug in the writer, never data to drop silently)."""


class DecodeError(CodecError):
    """Bytes that cannot be decoded. `kind` is machine-readable:
    empty, bad_magic, truncated, unknown_fingerprint, wrong_type, corrupt."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind


_registry: Any = None  # core.registry.RegistryFraming when ARB_SCHEMA_REGISTRY_URL is set (see configure)


def configure(registry_url: str, user_info: str = "") -> None:
    """Write Confluent-framed records through this registry ("" = our single-object framing); `user_info`:
    "user:password" for HTTP basic auth (KafkaSettings.schema_registry_user_info())."""
    global _registry
    from core.registry import RegistryFraming

    _registry = RegistryFraming.from_url(registry_url, user_info)


# fastavro re-parses a schema on every read and write unless it carries fastavro's "parsed" marker, which
# schemas/ leaves out of `SchemaVersion.runtime`: that parse was most of the cost of encoding or decoding a small
# record (~15-35 µs of a Tick's or a Signal's). Each version's runtime schema is parsed once here, with the marker:
# the same schema fastavro made of it on every call.
_parsed: dict[bytes, tuple[schemas.SchemaVersion, Any]] = {}  # fingerprint -> (the version, its parsed runtime schema)


def _runtime(sv: schemas.SchemaVersion) -> Any:
    """`sv.runtime` as fastavro parses it, with the marker that lets fastavro skip parsing it again."""
    cached = _parsed.get(sv.fingerprint)
    if cached is None or cached[0] is not sv:
        cached = (sv, parse_schema(sv.runtime, _write_hint=True))
        _parsed[sv.fingerprint] = cached
    return cached[1]


def encode(type_name: str, record: dict[str, Any]) -> bytes:
    sv = schemas.latest(type_name)
    buf = io.BytesIO()
    if _registry is not None:
        buf.write(_registry.header(sv))
    else:
        buf.write(MAGIC)
        buf.write(sv.fingerprint)
    try:
        schemaless_writer(buf, _runtime(sv), record)
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
        raise EncodeError(f"{type_name}: {exc}") from exc
    return buf.getvalue()


def writer_schema(data: bytes) -> schemas.SchemaVersion:
    """The schema version that wrote `data` (from its fingerprint)."""
    if not data:
        raise DecodeError("empty", "no bytes")
    if len(data) < HEADER_LEN:
        raise DecodeError("truncated", f"{len(data)} bytes is shorter than the 10-byte header")
    if data[:2] != MAGIC:
        raise DecodeError("bad_magic", f"starts with {data[:2].hex()}, not c301")
    sv = schemas.by_fingerprint().get(bytes(data[2:HEADER_LEN]))
    if sv is None:
        raise DecodeError("unknown_fingerprint", f"fingerprint {bytes(data[2:HEADER_LEN]).hex()} is not in schemas/ (deploy readers before writers)")
    return sv


def _confluent_writer(data: bytes) -> schemas.SchemaVersion:
    if len(data) < CONFLUENT_HEADER_LEN:
        raise DecodeError("truncated", f"{len(data)} bytes is shorter than the 5-byte Confluent header")
    if _registry is None:
        raise DecodeError("bad_magic", "Confluent-framed record, but no schema registry is configured (ARB_SCHEMA_REGISTRY_URL)")
    schema_id = int.from_bytes(data[1:CONFLUENT_HEADER_LEN], "big")
    sv = _registry.version_of(schema_id)
    if sv is None:
        raise DecodeError("unknown_fingerprint", f"registry schema id {schema_id} is not one of schemas/")
    return sv


def decode_with_type(data: bytes, expected: str | None = None) -> tuple[str, dict[str, Any]]:
    """Decode to (type name, record projected onto the newest version of that type). Accepts our
    single-object framing and, with a registry configured, the Confluent wire format."""
    confluent = bool(data) and data[0] == 0
    writer = _confluent_writer(data) if confluent else writer_schema(data)
    if expected is not None and writer.type_name != expected:
        raise DecodeError("wrong_type", f"expected {expected}, got {writer.type_name}")
    reader = schemas.latest(writer.type_name)
    buf = io.BytesIO(data)
    buf.seek(CONFLUENT_HEADER_LEN if confluent else HEADER_LEN)
    try:
        record = schemaless_reader(buf, _runtime(writer), _runtime(reader) if reader is not writer else None)
    except EOFError:
        raise DecodeError("truncated", f"{writer.type_name} body ends early") from None
    except Exception as exc:  # fastavro raises assorted errors on garbage
        raise DecodeError("corrupt", f"{writer.type_name}: {type(exc).__name__}: {exc}") from None
    if buf.tell() != len(data):
        raise DecodeError("corrupt", f"{writer.type_name}: {len(data) - buf.tell()} trailing bytes")
    if not isinstance(record, dict):
        raise DecodeError("corrupt", f"{writer.type_name}: not a record")
    return writer.type_name, record


def decode(data: bytes, expected: str | None = None) -> dict[str, Any]:
    return decode_with_type(data, expected)[1]


def encode_record(record: records.AvroRecord) -> bytes:
    """encode() of a typed record (its type is its class's)."""
    return encode(record.avro_name, records.to_dict(record))


def decode_record(data: bytes, cls: type[R]) -> R:
    """decode() into a typed record of class `cls` (DecodeError "wrong_type" when the bytes hold another type)."""
    return records.from_dict(cls, decode_with_type(data, cls.avro_name)[1])


def decode_any_record(data: bytes) -> records.TopLevel:
    """The typed record of whichever type wrote `data` (for topics that carry several types)."""
    type_name, record = decode_with_type(data)
    cls = records.BY_NAME.get(type_name)
    if cls is None:  # a schema in schemas/ without a record class: records.py is stale (test_records catches it)
        raise DecodeError("wrong_type", f"no record class for {type_name}")
    return records.from_dict(cls, record)


def needs_registry(data: bytes) -> bool:
    """Whether decoding `data` would ask the schema registry (a Confluent-framed record whose id is not cached)."""
    if _registry is None or len(data) < CONFLUENT_HEADER_LEN or data[0] != 0:
        return False
    return not _registry.cached(int.from_bytes(data[1:CONFLUENT_HEADER_LEN], "big"))


async def decode_async(data: bytes, expected: str | None = None) -> dict[str, Any]:
    """decode() for event loops: a registry lookup runs in a worker thread, never on the loop."""
    if needs_registry(data):
        return await asyncio.to_thread(decode, data, expected)
    return decode(data, expected)


async def decode_record_async(data: bytes, cls: type[R]) -> R:
    """decode_record() for event loops (as decode_async)."""
    if needs_registry(data):
        return await asyncio.to_thread(decode_record, data, cls)
    return decode_record(data, cls)


def warm(type_names: Iterable[str]) -> None:
    """Register the newest version of each type now, so that encoding them never asks the registry later
    (no-op without a registry). Blocks: call it in a thread from async code. Raises RegistryUnavailable."""
    if _registry is not None:
        for name in type_names:
            _registry.schema_id(schemas.latest(name))
