"""Optional Confluent Schema Registry framing (ARB_SCHEMA_REGISTRY_URL).

When configured, records are written in the Confluent wire format (magic byte 0, 4-byte big-endian
schema id, Avro binary body) so Kafka UIs and other teams' consumers can decode them; readers accept
both that and our single-object framing (C3 01 + fingerprint). core/codec.py holds the hook.

Subjects use the record-name strategy ("arb.Tick"), chosen explicitly. confluent-kafka's serializers
default (2.16: `subject.name.strategy.type` ASSOCIATED) to looking the subject up through the
registry's `/associations` API, which only Confluent's registry serves: any answer but 404 there
(auth error, 405, 5xx) fails every serialization, and with no association it falls back to
"<topic>-value", which needs the topic at encode time. We register through the client directly under
the record name; serde_conf() gives other consumers' AvroSerializer/AvroDeserializer the same choice.

A registry that cannot be reached is RegistryUnavailable, never a DecodeError: consumers dead-letter
DecodeErrors (and recovery readers skip them), and a valid record must not be lost to an outage.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from fastavro.schema import fingerprint, to_parsing_canonical_form

import schemas

CONFLUENT_MAGIC = 0
HEADER_LEN = 5  # magic byte + 4-byte big-endian schema id


class RegistryUnavailable(Exception):
    """The registry could not answer (network, 5xx, auth): retry later, never dead-letter."""


def _record_name_strategy() -> Any:
    from confluent_kafka.schema_registry import record_subject_name_strategy

    return record_subject_name_strategy


def serde_conf() -> dict[str, Any]:
    """Config for confluent-kafka's AvroSerializer/AvroDeserializer that matches our subjects."""
    return {"subject.name.strategy": _record_name_strategy()}


def subject(sv: schemas.SchemaVersion) -> str:
    """Record-name strategy: the record's full name (same as confluent's record_subject_name_strategy)."""
    ns = sv.schema.get("namespace")
    return f"{ns}.{sv.type_name}" if ns else sv.type_name


def is_confluent(data: bytes) -> bool:
    return bool(data) and data[0] == CONFLUENT_MAGIC


def schema_id_of(data: bytes) -> int:
    """The schema id of a Confluent-framed record (the caller checked the length)."""
    return int.from_bytes(data[1:HEADER_LEN], "big")


def _fingerprint_of(schema_str: str) -> bytes | None:
    try:
        canonical = to_parsing_canonical_form(json.loads(schema_str))
        return bytes.fromhex(fingerprint(canonical, "CRC-64-AVRO"))
    except Exception:  # not JSON / not Avro: not one of ours
        return None


class RegistryFraming:
    """Schema ids for our schema versions, and our versions for ids (matched by canonical fingerprint,
    so a schema registered by another writer, reformatted or normalised, still resolves)."""

    def __init__(self, url: str) -> None:
        from confluent_kafka.schema_registry import SchemaRegistryClient

        self.client: Any = SchemaRegistryClient.new_client({"url": url})  # mock:// gives the in-memory registry (tests)
        self._ids: dict[bytes, int] = {}  # fingerprint -> schema id
        self._by_id: dict[int, schemas.SchemaVersion] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str) -> RegistryFraming | None:
        """None when no registry is configured (our single-object framing)."""
        return cls(url) if url else None

    def schema_id(self, sv: schemas.SchemaVersion) -> int:
        sid = self._ids.get(sv.fingerprint)
        if sid is not None:
            return sid
        from confluent_kafka.schema_registry import Schema

        with self._lock:
            try:
                sid = int(self.client.register_schema(subject(sv), Schema(json.dumps(sv.schema), "AVRO")))
            except Exception as exc:
                raise RegistryUnavailable(f"registering {subject(sv)}: {_describe(exc)}") from exc
            self._ids[sv.fingerprint] = sid
            self._by_id[sid] = sv
        return sid

    def header(self, sv: schemas.SchemaVersion) -> bytes:
        return bytes([CONFLUENT_MAGIC]) + self.schema_id(sv).to_bytes(4, "big")

    def version_of(self, schema_id: int) -> schemas.SchemaVersion | None:
        """Our schema version behind `schema_id`, or None when the registry does not know the id or
        the schema is not one of schemas/. Raises RegistryUnavailable when the registry can't say."""
        sv = self._by_id.get(schema_id)
        if sv is not None:
            return sv
        from confluent_kafka.schema_registry.error import SchemaRegistryError

        try:
            schema = self.client.get_schema(schema_id)
        except SchemaRegistryError as exc:
            if exc.http_status_code == 404:
                return None
            raise RegistryUnavailable(f"looking up schema id {schema_id}: {_describe(exc)}") from exc
        except Exception as exc:
            raise RegistryUnavailable(f"looking up schema id {schema_id}: {_describe(exc)}") from exc
        fp = _fingerprint_of(schema.schema_str or "") if schema is not None else None
        sv = schemas.by_fingerprint().get(fp) if fp is not None else None
        if sv is not None:
            with self._lock:
                self._by_id[schema_id] = sv
        return sv


def _describe(exc: Exception) -> str:
    from confluent_kafka.schema_registry.error import SchemaRegistryError

    # Transport errors can quote the URL (which may carry user info); name only their type.
    return str(exc) if isinstance(exc, SchemaRegistryError) else type(exc).__name__
