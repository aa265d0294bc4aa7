"""Confluent Schema Registry framing with confluent-kafka's built-in mock:// registry (no server)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from confluent_kafka.schema_registry import Schema
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext

from core import codec
from core.registry import RegistryFraming, RegistryUnavailable, schema_id_of, serde_conf, subject
from schemas import latest
from tests.factories import tick

CTX = SerializationContext("arb.ticks", MessageField.VALUE)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@pytest.fixture
def registry() -> Iterator[RegistryFraming]:
    codec.configure("mock://arb-test")
    assert isinstance(codec._registry, RegistryFraming)
    yield codec._registry
    codec.configure("")


def _signal() -> dict[str, Any]:
    return {"signal_id": "s", "game_id": "g", "legs": [], "size": 0, "cost": 0, "edge": 0, "event_ts": 0, "deadline_ts": 0,
            "input_tick_ids": [], "input_received_ts": [], "detected_ts": 0}


def _micros(v: Any) -> int:
    """Confluent's deserializer turns timestamp-micros into datetimes; ours keep int microseconds."""
    return (v - EPOCH) // timedelta(microseconds=1) if isinstance(v, datetime) else int(v)


def test_confluent_framing_round_trip_and_both_framings_decode(registry: RegistryFraming) -> None:
    t = tick("K-BUF", asks=[(4500, 1000)])
    framed = codec.encode("Tick", t)
    assert framed[0] == 0 and len(framed) > 5  # magic 0 + 4-byte schema id
    assert registry.version_of(schema_id_of(framed)) is latest("Tick")
    assert codec.decode(framed, "Tick") == t
    codec.configure("")
    ours = codec.encode("Tick", t)
    assert ours[:2] == codec.MAGIC
    codec.configure("mock://arb-test")
    assert codec.decode(ours, "Tick") == t  # readers accept both framings


def test_subject_name_strategy_is_record_name(registry: RegistryFraming) -> None:
    codec.encode("Signal", _signal())
    subjects = registry.client.get_subjects()
    assert subject(latest("Signal")) == "arb.Signal" and "arb.Signal" in subjects
    assert not any(s.endswith("-value") for s in subjects)  # not the topic-name fallback


def test_confluent_record_without_registry_is_a_typed_error() -> None:
    with pytest.raises(codec.DecodeError) as exc:
        codec.decode(b"\x00\x00\x00\x00\x01abc", "Tick")
    assert exc.value.kind == "bad_magic"


def test_unknown_schema_id_is_a_decode_error(registry: RegistryFraming) -> None:
    with pytest.raises(codec.DecodeError) as exc:
        codec.decode(b"\x00\x00\x00\x03\xe7" + b"\x00" * 8, "Tick")
    assert exc.value.kind == "unknown_fingerprint"


def test_foreign_schema_under_an_id_is_a_decode_error(registry: RegistryFraming) -> None:
    foreign = {"type": "record", "name": "Other", "namespace": "x", "fields": [{"name": "a", "type": "long"}]}
    sid = registry.client.register_schema("x.Other", Schema(json.dumps(foreign), "AVRO"))
    with pytest.raises(codec.DecodeError) as exc:
        codec.decode(b"\x00" + sid.to_bytes(4, "big") + b"\x02")
    assert exc.value.kind == "unknown_fingerprint"


class _Down:
    """A registry client whose every call fails with `error`."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def __getattr__(self, name: str) -> Any:
        def fail(*_a: Any, **_k: Any) -> Any:
            raise self.error
        return fail


@pytest.mark.parametrize("error", [ConnectionError("registry unreachable"), SchemaRegistryError(503, -1, "Service Unavailable")])
def test_unreachable_registry_is_not_a_decode_error(registry: RegistryFraming, error: Exception) -> None:
    """Consumers dead-letter DecodeErrors and recovery readers skip them: an outage must not look like bad data."""
    framed = codec.encode("Tick", tick("K-BUF"))
    fresh = RegistryFraming("mock://arb-down")
    fresh.client = _Down(error)
    codec._registry = fresh
    with pytest.raises(RegistryUnavailable) as exc:
        codec.decode(framed, "Tick")
    assert not isinstance(exc.value, codec.DecodeError)
    with pytest.raises(RegistryUnavailable):
        codec.encode("Tick", tick("K-BUF"))


class _NoAssociations:
    """A non-Confluent registry (Karapace, Apicurio, Redpanda): no /associations API."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.association_lookups = 0

    def get_associations_by_resource_name(self, *_a: Any, **_k: Any) -> Any:
        self.association_lookups += 1
        raise SchemaRegistryError(405, -1, "HTTP 405 Method Not Allowed")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_writer_never_needs_the_associations_api(registry: RegistryFraming) -> None:
    spy = _NoAssociations(registry.client)
    registry.client = spy
    framed = codec.encode("Signal", _signal())
    assert codec.decode(framed, "Signal") == _signal() and spy.association_lookups == 0


def test_client_default_strategy_fails_without_associations_and_ours_is_explicit(registry: RegistryFraming) -> None:
    """The pitfall, pinned: confluent-kafka's serializer default asks the associations API."""
    spy = _NoAssociations(registry.client)
    schema_str = json.dumps(latest("Signal").schema)
    with pytest.raises(Exception):  # noqa: B017 - wrapped differently across client versions
        AvroSerializer(spy, schema_str)(_signal(), CTX)
    assert spy.association_lookups == 1
    framed = AvroSerializer(spy, schema_str, conf=serde_conf())(_signal(), CTX)
    assert spy.association_lookups == 1 and framed is not None
    assert "arb.Signal" in registry.client.get_subjects()


def test_interop_with_confluent_serializers(registry: RegistryFraming) -> None:
    """Other teams' Confluent clients read our records, and we read theirs."""
    t = tick("K-BUF", bids=[(4400, 200)], asks=[(4500, 1000)], ts=1_796_000_000_123_456)
    ours = codec.encode("Tick", t)
    theirs_read = AvroDeserializer(registry.client, conf=serde_conf())(ours, CTX)
    assert theirs_read is not None
    assert {k: v for k, v in theirs_read.items() if not k.endswith("_ts")} == {k: v for k, v in t.items() if not k.endswith("_ts")}
    assert _micros(theirs_read["received_ts"]) == t["received_ts"]
    # Their writer, with a reformatted copy of the schema (no docs, other whitespace): resolved by fingerprint.
    reformatted = json.dumps(_strip_docs(latest("Tick").schema), indent=1)
    theirs = AvroSerializer(registry.client, reformatted, conf={**serde_conf(), "auto.register.schemas": True})(t, CTX)
    assert theirs is not None and theirs[0] == 0 and theirs != ours
    assert codec.decode(theirs, "Tick") == t


def _strip_docs(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip_docs(v) for k, v in node.items() if k != "doc"}
    if isinstance(node, list):
        return [_strip_docs(v) for v in node]
    return node


# --- issue 27: lookups are bounded, misses cached, kept off event loops; the processor dead-letters what it cannot read

class _Counting:
    """Wraps a registry client: counts get_schema calls, optionally slow or failing."""

    def __init__(self, inner: Any, *, delay_s: float = 0.0, error: Exception | None = None) -> None:
        self.inner, self.delay_s, self.error = inner, delay_s, error
        self.lookups = 0
        self.threads: list[str] = []

    def get_schema(self, *a: Any, **k: Any) -> Any:
        import threading
        import time

        self.lookups += 1
        self.threads.append(threading.current_thread().name)
        if self.delay_s:
            time.sleep(self.delay_s)
        if self.error is not None:
            raise self.error
        return self.inner.get_schema(*a, **k)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _framed_with_unknown_id(schema_id: int = 999) -> bytes:
    return b"\x00" + schema_id.to_bytes(4, "big") + b"\x00" * 8


def test_lookups_have_a_timeout() -> None:
    """Before: the client had no timeout (httpx timeout=None) and 3 retries: a registry that accepts connections
    and never answers blocked the caller (an event loop, in the processor) for good."""
    import socket
    import threading
    import time

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)  # accepts (in the backlog), never answers
    port = server.getsockname()[1]
    framing = RegistryFraming(f"http://127.0.0.1:{port}")
    outcome: list[BaseException | None] = []

    def lookup() -> None:
        try:
            framing.version_of(12345)
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    started = time.monotonic()
    t = threading.Thread(target=lookup, daemon=True)
    t.start()
    t.join(20)
    try:
        assert not t.is_alive(), "the lookup is still blocked after 20 s"
        assert isinstance(outcome[0], RegistryUnavailable)
        assert time.monotonic() - started < 15
        started = time.monotonic()  # while the outage lasts, further lookups fail at once
        with pytest.raises(RegistryUnavailable):
            framing.version_of(12346)
        assert time.monotonic() - started < 0.5
    finally:
        server.close()


def test_unknown_ids_are_cached_for_a_while(registry: RegistryFraming) -> None:
    """Before: every record with an unknown schema id asked the registry again (a 404 each time)."""
    now = [1000.0]
    registry.clock = lambda: now[0]
    spy = _Counting(registry.client)
    registry.client = spy
    for _ in range(3):
        with pytest.raises(codec.DecodeError):
            codec.decode(_framed_with_unknown_id(), "Tick")
    assert spy.lookups == 1
    now[0] += registry.miss_ttl_s + 1  # a schema registered since is found after the TTL
    with pytest.raises(codec.DecodeError):
        codec.decode(_framed_with_unknown_id(), "Tick")
    assert spy.lookups == 2


def test_an_outage_fails_fast_for_a_while_then_asks_again(registry: RegistryFraming) -> None:
    framed = codec.encode("Tick", tick("K-BUF"))
    fresh = RegistryFraming("mock://arb-outage")
    now = [1000.0]
    fresh.clock = lambda: now[0]
    spy = _Counting(registry.client, error=ConnectionError("down"))
    fresh.client = spy
    codec._registry = fresh
    for _ in range(3):
        with pytest.raises(RegistryUnavailable):
            codec.decode(framed, "Tick")
    assert spy.lookups == 1
    now[0] += fresh.outage_ttl_s + 1
    spy.error = None
    assert codec.decode(framed, "Tick") == tick("K-BUF")
    assert spy.lookups == 2


async def test_decode_async_looks_up_off_the_event_loop(registry: RegistryFraming) -> None:
    import asyncio
    import threading

    framed = codec.encode("Tick", tick("K-BUF"))
    registry._by_id.clear()  # as in a reader that never saw the id
    spy = _Counting(registry.client, delay_s=0.3)
    registry.client = spy
    assert codec.needs_registry(framed)
    beats = 0

    async def heartbeat() -> None:
        nonlocal beats
        while True:
            beats += 1
            await asyncio.sleep(0.01)

    hb = asyncio.create_task(heartbeat())
    try:
        assert await codec.decode_async(framed, "Tick") == tick("K-BUF")
    finally:
        hb.cancel()
    assert beats >= 10  # the loop kept running while the registry took 0.3 s
    assert spy.threads and threading.main_thread().name not in spy.threads
    assert not codec.needs_registry(framed)
    assert await codec.decode_async(framed, "Tick") == tick("K-BUF") and spy.lookups == 1


def test_processor_codec_never_waits_for_the_registry(registry: RegistryFraming) -> None:
    """Before: Faust's value deserializer (on the worker's event loop) called the registry synchronously."""
    import time

    from processors.faust_codec import AvroCodec, Pending

    framed = codec.encode("Tick", tick("K-BUF"))
    registry._by_id.clear()
    spy = _Counting(registry.client, delay_s=1.0)
    registry.client = spy
    started = time.monotonic()
    value = AvroCodec("Tick")._loads(framed)
    assert time.monotonic() - started < 0.5 and spy.lookups == 0
    assert isinstance(value, Pending)


async def test_processor_dead_letters_a_registry_outage_instead_of_crashing(registry: RegistryFraming) -> None:
    """Before: RegistryUnavailable escaped the Faust codec as a ValueDecodeError thrown into the agent."""
    from faust.types import Message

    from processors.app import create_app
    from processors.faust_codec import Pending
    from processors.triage import dead_letter_record, triage

    app = create_app()  # configures the codec from the environment: after it,
    codec._registry = registry  # the registry again
    framed = codec.encode("Tick", tick("K-BUF"))
    assert framed[0] == 0
    fresh = RegistryFraming("mock://arb-down")
    fresh.client = _Down(ConnectionError("registry unreachable"))
    codec._registry = fresh
    channel = next(iter(app.agents.values())).channel
    msg = Message(channel.get_topic_name(), 0, 7, 0.0, 0, [], b"nfl-20261129-buf-kc", framed, None)
    event = await channel.decode(msg, propagate=True)
    tick_value, problem = await triage(event)
    assert tick_value is None and isinstance(problem, RegistryUnavailable)
    assert isinstance(event.value, Pending)  # decoded by triage, in a thread
    record = dead_letter_record(event, problem)
    assert (record.error_kind, record.value, record.offset) == ("RegistryUnavailable", framed, 7)
