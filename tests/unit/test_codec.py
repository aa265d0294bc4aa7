import json
from pathlib import Path

import avro.schema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import schemas
from core import codec
from schemas.records import Tick, from_dict
from tests.avro_strategies import for_schema

# Fingerprints of released schema versions. A released version must never change: records written with
# it live on in topics and in recordings. Add a line when you release a new version; never edit one.
RELEASED = {
    ("Control", 1): "74491bb67f33b607",
    ("Control", 2): "e44a007a14fb4253",
    ("DeadLetter", 1): "3a4ca76bd88a683e",
    ("Fill", 1): "fb0934f1c512646b",
    ("MarketPairing", 1): "fb0fe214bd74a022",
    ("OrderEvent", 1): "f73dd9f9bbe9eee7",
    ("OrderEvent", 2): "e9aab41c1894f1db",
    ("Outcome", 1): "ad3ae3f9a0cfed8b",
    ("Position", 1): "550dbe6184143c96",
    ("Settlement", 1): "276bd5be8027976c",
    ("Signal", 1): "23b04d4058a0ea3e",
    ("Tick", 1): "f31bbb10b9d1689e",
}

TYPES = sorted(schemas.latest_versions())


def test_every_released_version_is_present_and_unchanged() -> None:
    found = {(v.type_name, v.version): v.fingerprint.hex() for v in schemas.all_versions()}
    assert {k: found.get(k) for k in RELEASED} == RELEASED


def test_every_version_is_released() -> None:
    unreleased = {(v.type_name, v.version) for v in schemas.all_versions()} - set(RELEASED)
    assert not unreleased, f"pin these fingerprints in RELEASED: {unreleased}"


@pytest.mark.parametrize("sv", schemas.all_versions(), ids=lambda v: f"{v.type_name}-v{v.version}")
def test_fingerprint_agrees_with_avro_package(sv: schemas.SchemaVersion) -> None:
    # An independent implementation (the Apache `avro` package) computes the same CRC-64-AVRO. Parsing
    # Canonical Form drops logicalType; avro 1.12's Python PCF leaves {"type": "long"} unreduced when a
    # logicalType was present (Java's SchemaNormalization and fastavro reduce it to "long", per the spec's
    # [PRIMITIVES] rule), so compare on the schema without logical types.
    stripped = json.loads(json.dumps(sv.schema).replace(', "logicalType": "timestamp-micros"', ""))
    assert "logicalType" not in json.dumps(stripped)
    assert avro.schema.parse(json.dumps(stripped)).fingerprint("CRC-64-AVRO") == sv.fingerprint


@pytest.mark.parametrize("sv", schemas.all_versions(), ids=lambda v: f"{v.type_name}-v{v.version}")
def test_every_field_documents_itself(sv: schemas.SchemaVersion) -> None:
    missing = [f["name"] for f in sv.schema["fields"] if not f.get("doc")]
    assert not missing


@pytest.mark.parametrize("type_name", TYPES)
@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=st.data())
def test_roundtrip(type_name: str, data: st.DataObject) -> None:
    record = data.draw(for_schema(schemas.latest(type_name).schema))
    encoded = codec.encode(type_name, record)
    assert encoded[:2] == b"\xc3\x01"
    assert encoded[2:10] == schemas.latest(type_name).fingerprint
    assert codec.decode(encoded, type_name) == record


def _tick() -> dict:
    return {"tick_id": "K:T:1:2", "game_id": "nfl-20261129-buf-kc", "venue": "KALSHI", "market": "T", "status": "OK",
            "bids": [{"price": 5000, "size": 100}], "asks": [{"price": 5100, "size": 250}], "tick_size": 100,
            "venue_ts": None, "received_ts": 1, "produced_ts": 2}


@pytest.mark.parametrize(("mangle", "kind"), [
    (lambda b: b"", "empty"),
    (lambda b: b[:6], "truncated"),
    (lambda b: b"\x00\x01" + b[2:], "bad_magic"),
    (lambda b: b[:2] + b"\xff" * 8 + b[10:], "unknown_fingerprint"),
    (lambda b: b[:-3], "truncated"),
    (lambda b: b + b"\x00\x00", "corrupt"),
])
def test_bad_bytes_raise_one_typed_error(mangle, kind: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(codec.DecodeError) as ei:
        codec.decode(mangle(codec.encode("Tick", _tick())), "Tick")
    assert ei.value.kind == kind


def test_wrong_type_is_a_decode_error() -> None:
    with pytest.raises(codec.DecodeError) as ei:
        codec.decode(codec.encode("Tick", _tick()), "Signal")
    assert ei.value.kind == "wrong_type"


@given(st.binary(max_size=200))
def test_garbage_never_escapes_as_another_exception(blob: bytes) -> None:
    try:
        codec.decode(b"\xc3\x01" + schemas.latest("Tick").fingerprint + blob, "Tick")
    except codec.DecodeError:
        pass


def test_encode_rejects_record_not_matching_schema() -> None:
    bad = _tick()
    del bad["market"]
    with pytest.raises(codec.EncodeError):
        codec.encode("Tick", bad)


def test_old_records_project_onto_a_newer_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A reader with a newer schema decodes records of the older one, filling defaults."""
    v1 = json.loads((schemas.SCHEMA_DIR / "tick" / "v1.avsc").read_text())
    v2 = json.loads(json.dumps(v1))
    v2["fields"].append({"name": "sequence", "type": "long", "default": -1, "doc": "test-only field"})
    (tmp_path / "tick").mkdir()
    (tmp_path / "tick" / "v1.avsc").write_text(json.dumps(v1))
    (tmp_path / "tick" / "v2.avsc").write_text(json.dumps(v2))
    old_bytes = codec.encode("Tick", _tick())  # written with the real v1
    monkeypatch.setattr(schemas, "SCHEMA_DIR", tmp_path)
    schemas.reload()
    try:
        decoded = codec.decode(old_bytes, "Tick")
        assert decoded == {**_tick(), "sequence": -1}
        new_bytes = codec.encode("Tick", {**_tick(), "sequence": 7})
        assert new_bytes[2:10] != old_bytes[2:10]
        assert codec.decode(new_bytes, "Tick")["sequence"] == 7
    finally:
        monkeypatch.undo()
        schemas.reload()


async def test_processor_dead_letters_a_tick_with_a_non_utf8_key() -> None:
    """Issue 27: before, Faust raised KeyDecodeError for such a `ticks` record and threw it into the agent."""
    from faust.types import Message

    from processors.app import create_app
    from processors.triage import dead_letter_record, triage

    channel = next(iter(create_app().agents.values())).channel
    value = codec.encode("Tick", _tick())
    msg = Message(channel.get_topic_name(), 3, 42, 0.0, 0, [], b"\xff\xfe", value, None)
    event = await channel.decode(msg, propagate=True)
    tick, problem = await triage(event)
    assert tick is None and isinstance(problem, codec.DecodeError) and problem.kind == "bad_key"
    record = dead_letter_record(event, problem)
    assert (record.source_topic, record.partition, record.offset, record.key, record.value, record.error_kind) == \
        (channel.get_topic_name(), 3, 42, b"\xff\xfe", value, "bad_key")
    codec.encode_record(record)
    good = await channel.decode(Message(channel.get_topic_name(), 3, 43, 0.0, 0, [], b"g", value, None), propagate=True)
    assert await triage(good) == (from_dict(Tick, _tick()), None)  # the agent gets the typed record
