"""Optional Confluent Schema Registry framing (ARB_SCHEMA_REGISTRY_URL).

When configured, records are written in the Confluent wire format (magic byte 0, 4-byte big-endian
schema id, Avro binary body) so Kafka UIs and other teams' consumers can decode them; readers accept
both that and our single-object framing (C3 01 + fingerprint). Subjects use the record-name strategy
("arb.Tick"), set explicitly: the client's default topic-name strategy needs the topic at encode time
and its subject naming ("<topic>-value") is what fails against registries that expect record subjects.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import schemas

CONFLUENT_MAGIC = 0


def subject(sv: schemas.SchemaVersion) -> str:
    """Record-name strategy: the record's full name."""
    ns = sv.schema.get("namespace")
    return f"{ns}.{sv.type_name}" if ns else sv.type_name


class Registry:
    def __init__(self, url: str) -> None:
        from confluent_kafka.schema_registry import SchemaRegistryClient

        self.client = SchemaRegistryClient.new_client({"url": url})  # mock:// URLs give the in-memory registry (tests)
        self._ids: dict[bytes, int] = {}  # fingerprint -> schema id
        self._by_id: dict[int, schemas.SchemaVersion] = {}
        self._lock = threading.Lock()

    def schema_id(self, sv: schemas.SchemaVersion) -> int:
        sid = self._ids.get(sv.fingerprint)
        if sid is None:
            from confluent_kafka.schema_registry import Schema

            with self._lock:
                sid = int(self.client.register_schema(subject(sv), Schema(json.dumps(sv.schema), "AVRO")))
                self._ids[sv.fingerprint] = sid
                self._by_id[sid] = sv
        return sid

    def version_of(self, schema_id: int) -> schemas.SchemaVersion | None:
        """Our schema version registered under `schema_id` (matched by content), or None if it is not ours."""
        sv = self._by_id.get(schema_id)
        if sv is not None:
            return sv
        try:
            doc: Any = json.loads(self.client.get_schema(schema_id).schema_str or "null")
        except Exception:
            return None
        for cand in schemas.all_versions():
            if cand.schema == doc:
                with self._lock:
                    self._by_id[schema_id] = cand
                return cand
        return None
