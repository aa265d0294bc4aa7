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

A registry that cannot be reached is RegistryUnavailable, never a DecodeError: recovery readers skip
DecodeErrors, and a valid record must not be mistaken for garbage. (Consumers that dead-letter it keep
its bytes with error_kind "RegistryUnavailable", to be re-driven.)

Lookups are bounded: every request has a timeout (TIMEOUT_S, one retry), an id the registry does not
know (or that is not one of our schemas) is remembered for MISS_TTL_S, and after a failure the registry
counts as down for OUTAGE_TTL_S, during which lookups fail at once instead of waiting again. They still
block their caller; from async code use codec.decode_async (the lookup runs in a thread) and warm the
writer ids at start-up (codec.warm, in a thread).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

from fastavro.schema import fingerprint, to_parsing_canonical_form

import schemas
from core.errors import ArbError

CONFLUENT_MAGIC = 0
HEADER_LEN = 5  # magic byte + 4-byte big-endian schema id
TIMEOUT_S = 2.0  # per request (connect, read, …); with one retry a lookup gives up within ~5 s
MISS_TTL_S = 60.0  # an unknown schema id is asked again after this (a writer may register it meanwhile)
OUTAGE_TTL_S = 5.0  # after a failed request, lookups fail at once for this long


class RegistryUnavailable(ArbError):
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

    def __init__(self, url: str, *, timeout_s: float = TIMEOUT_S, miss_ttl_s: float = MISS_TTL_S,
                 outage_ttl_s: float = OUTAGE_TTL_S, clock: Callable[[], float] = time.monotonic, user_info: str = "") -> None:
        from confluent_kafka.schema_registry import SchemaRegistryClient

        # mock:// gives the in-memory registry (tests). The client's defaults are no timeout at all and 3 retries
        # with waits of up to 20 s.
        conf: dict[str, Any] = {"url": url, "timeout": timeout_s, "max.retries": 1, "retries.wait.ms": 100, "retries.max.wait.ms": 500}
        if user_info:  # "user:password" (KafkaSettings.schema_registry_user_info), HTTP basic auth
            conf["basic.auth.user.info"] = user_info
        self.client: Any = SchemaRegistryClient.new_client(conf)
        self.miss_ttl_s = miss_ttl_s
        self.outage_ttl_s = outage_ttl_s
        self.clock = clock
        self._ids: dict[bytes, int] = {}  # fingerprint -> schema id
        self._by_id: dict[int, schemas.SchemaVersion] = {}
        self._misses: dict[int, float] = {}  # schema id -> until when it counts as unknown
        self._down_until = 0.0
        self._down_reason = ""
        self._lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str, user_info: str = "") -> RegistryFraming | None:
        """None when no registry is configured (our single-object framing)."""
        return cls(url, user_info=user_info) if url else None

    def _check_up(self, what: str) -> None:
        if self.clock() < self._down_until:
            raise RegistryUnavailable(f"{what}: registry unavailable ({self._down_reason}; not asked again for up to "
                                      f"{self.outage_ttl_s:g} s)")

    def _went_down(self, what: str, exc: Exception) -> RegistryUnavailable:
        self._down_reason = _describe(exc)
        self._down_until = self.clock() + self.outage_ttl_s
        return RegistryUnavailable(f"{what}: {self._down_reason}")

    def cached(self, schema_id: int) -> bool:
        """Whether version_of(schema_id) answers without a request (known, known to be unknown, or failing fast)."""
        return schema_id in self._by_id or self._misses.get(schema_id, 0.0) > self.clock() or self.clock() < self._down_until

    def schema_id(self, sv: schemas.SchemaVersion) -> int:
        sid = self._ids.get(sv.fingerprint)
        if sid is not None:
            return sid
        from confluent_kafka.schema_registry import Schema

        what = f"registering {subject(sv)}"
        with self._lock:
            self._check_up(what)
            try:
                sid = int(self.client.register_schema(subject(sv), Schema(json.dumps(sv.schema), "AVRO")))
            except Exception as exc:
                raise self._went_down(what, exc) from exc
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
        if self._misses.get(schema_id, 0.0) > self.clock():
            return None
        from confluent_kafka.schema_registry.error import SchemaRegistryError

        what = f"looking up schema id {schema_id}"
        self._check_up(what)
        try:
            schema = self.client.get_schema(schema_id)
        except SchemaRegistryError as exc:
            if exc.http_status_code == 404:
                schema = None
            else:
                raise self._went_down(what, exc) from exc
        except Exception as exc:
            raise self._went_down(what, exc) from exc
        fp = _fingerprint_of(schema.schema_str or "") if schema is not None else None
        sv = schemas.by_fingerprint().get(fp) if fp is not None else None
        with self._lock:
            if sv is not None:
                self._by_id[schema_id] = sv
            else:  # unknown to the registry, or not one of schemas/: do not ask again for a while
                if len(self._misses) > 10_000:  # ids come from the records: keep the memory bounded
                    now = self.clock()
                    self._misses = {k: v for k, v in self._misses.items() if v > now}
                    if len(self._misses) > 10_000:
                        self._misses.clear()
                self._misses[schema_id] = self.clock() + self.miss_ttl_s
        return sv


def _describe(exc: Exception) -> str:
    from confluent_kafka.schema_registry.error import SchemaRegistryError

    # Transport errors can quote the URL (which may carry user info); name only their type.
    return str(exc) if isinstance(exc, SchemaRegistryError) else type(exc).__name__
