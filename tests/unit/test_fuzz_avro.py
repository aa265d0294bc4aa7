"""Fuzz: Avro records through core/codec.py, for every schema type.

Documented: decode raises DecodeError and nothing else (with a schema registry configured, also RegistryUnavailable
when it cannot answer); encode raises EncodeError and nothing else; a valid record round-trips exactly.
Short by default; ARB_FUZZ_SECONDS=60 for a one-minute run (tests/unit/test_fuzz_support.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import strategies as st

import schemas
from core import codec
from core.registry import RegistryFraming, RegistryUnavailable
from tests.avro_strategies import for_schema
from tests.unit.test_fuzz_support import fuzz

TYPES = sorted(schemas.latest_versions())
VALID = st.sampled_from(TYPES).flatmap(lambda t: st.tuples(st.just(t), for_schema(schemas.latest(t).schema)))


@st.composite
def mangled(draw: st.DrawFn) -> tuple[str, bytes]:
    """A valid record's bytes, then damaged: flipped bytes, cut, extended, spliced, or replaced by garbage."""
    type_name, record = draw(VALID)
    data = bytearray(codec.encode(type_name, record))
    for _ in range(draw(st.integers(0, 4))):
        how = draw(st.integers(0, 4))
        if how == 0 and data:
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        elif how == 1:
            del data[draw(st.integers(0, len(data))):]
        elif how == 2:
            data += draw(st.binary(max_size=12))
        elif how == 3:
            i = draw(st.integers(0, len(data)))
            data[i:i] = draw(st.sampled_from([b"\xff" * 9, b"\x80" * 10, b"\x01", b"\xfe\xff\xff\xff\x0f"]))  # huge varints
        else:
            data = bytearray(draw(st.binary(max_size=60)))
    return draw(st.sampled_from([type_name, *TYPES])), bytes(data)


@st.composite
def bad_records(draw: st.DrawFn) -> tuple[str, Any]:
    """A valid record with one field replaced by anything (wrong type, out-of-range number, missing)."""
    type_name, record = draw(VALID)
    if not record:
        return type_name, record
    field = draw(st.sampled_from(sorted(record)))
    junk = draw(st.one_of(st.none(), st.booleans(), st.integers(), st.integers(2**62, 2**70), st.floats(), st.text(max_size=5),
                          st.binary(max_size=5), st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
                          st.text(alphabet="\ud800\udfff", min_size=1, max_size=2)))
    out = dict(record)
    if draw(st.booleans()):
        out[field] = junk
    else:
        del out[field]
    return type_name, out


def _decode_prop(allowed: tuple[type[Exception], ...]) -> Any:
    def prop(case: tuple[str, bytes]) -> None:
        expected, data = case
        try:
            out = codec.decode(data, expected)
        except allowed:
            return
        assert isinstance(out, dict)

    return prop


def test_fuzz_valid_records_round_trip() -> None:
    def prop(case: tuple[str, Any]) -> None:
        type_name, record = case
        assert codec.decode(codec.encode(type_name, record), type_name) == record

    fuzz(prop, VALID, examples=300, name="avro round trip")


def test_fuzz_decode_raises_only_decode_error() -> None:
    fuzz(_decode_prop((codec.DecodeError,)), mangled(), examples=500, name="avro decode")


def test_fuzz_encode_raises_only_encode_error() -> None:
    def prop(case: tuple[str, Any]) -> None:
        type_name, record = case
        try:
            data = codec.encode(type_name, record)
        except codec.EncodeError:
            return
        codec.decode(data, type_name)  # what encodes, decodes

    fuzz(prop, bad_records(), examples=400, name="avro encode")


@pytest.fixture
def registry() -> Iterator[RegistryFraming]:
    codec.configure("mock://arb-fuzz")
    assert isinstance(codec._registry, RegistryFraming)
    yield codec._registry
    codec.configure("")


def test_fuzz_decode_with_a_registry(registry: RegistryFraming) -> None:
    """Confluent framing too: unknown ids, garbage after a known id, a registry that fails now and then."""

    class Flaky:
        def __init__(self, inner: Any) -> None:
            self.inner, self.calls = inner, 0

        def get_schema(self, *a: Any, **k: Any) -> Any:
            self.calls += 1
            if self.calls % 3 == 0:
                raise ConnectionError("registry blip")
            return self.inner.get_schema(*a, **k)

        def __getattr__(self, name: str) -> Any:
            return getattr(self.inner, name)

    registry.client = Flaky(registry.client)
    registry.outage_ttl_s = 0.0

    @st.composite
    def confluent(draw: st.DrawFn) -> tuple[str, bytes]:
        expected, data = draw(mangled())
        sid = draw(st.one_of(st.integers(0, 20), st.integers(0, 2**32 - 1)))
        if draw(st.booleans()):
            registry._by_id.clear()  # ask the registry again
        return expected, b"\x00" + sid.to_bytes(4, "big") + data[codec.HEADER_LEN:]

    for t in TYPES:
        codec.warm((t,))
    fuzz(_decode_prop((codec.DecodeError, RegistryUnavailable)), confluent(), examples=300, name="avro decode (registry)")
