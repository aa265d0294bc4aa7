"""schemas/records.py: one frozen, slotted dataclass per Avro record type, generated from schemas/avro and checked
against it field by field (name, order, type, default) by a second, independent reading of the schemas here; and the
codec's typed API (decode_record / encode_record) against its dict API."""

from __future__ import annotations

import copy
import dataclasses
import json
import types
import typing
from typing import Any, Literal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import schemas
from core import codec
from schemas import gen, records
from tests.avro_strategies import for_schema

TYPES = sorted(schemas.latest_versions())
PRIMITIVE = {"string": str, "int": int, "long": int, "boolean": bool, "bytes": bytes}


def _expected(t: Any, named: dict[str, Any]) -> Any:
    """The Python type a field of Avro type `t` must have (independent of schemas/gen.py)."""
    if isinstance(t, str):
        return PRIMITIVE[t] if t in PRIMITIVE else _expected(named[t.rsplit(".", 1)[-1]], named)
    if isinstance(t, list):
        (other,) = [b for b in t if b != "null"]
        assert "null" in t and len(t) == 2
        return _expected(other, named) | None
    kind = t["type"]
    if kind in PRIMITIVE:
        return PRIMITIVE[kind]
    if kind in ("enum", "record"):
        named[t["name"]] = t
    if kind == "enum":
        return Literal[tuple(t["symbols"])]
    if kind == "array":
        return list[_expected(t["items"], named)]  # type: ignore[misc]
    if kind == "record":
        return getattr(records, t["name"])
    raise AssertionError(f"unexpected Avro type {kind}")


def _same_type(got: Any, want: Any) -> bool:
    if typing.get_origin(want) is Literal:
        return typing.get_origin(got) is Literal and typing.get_args(got) == typing.get_args(want)  # symbols in order
    if isinstance(want, types.UnionType) or typing.get_origin(want) in (list, typing.Union):
        ga, wa = typing.get_args(got), typing.get_args(want)
        return (typing.get_origin(got) in (typing.get_origin(want), types.UnionType, typing.Union) and len(ga) == len(wa)
                and all(_same_type(g, w) for g, w in zip(ga, wa, strict=True)))
    return bool(got is want)


def mismatches(schema: dict[str, Any], named: dict[str, Any] | None = None) -> list[str]:
    """How records.<schema name> differs from the record schema (and its nested records): [] when it matches."""
    named = {} if named is None else named
    name = schema["name"]
    cls: Any = getattr(records, name, None)
    if cls is None or not dataclasses.is_dataclass(cls):
        return [f"{name}: no dataclass in schemas/records.py"]
    out = []
    params = getattr(cls, "__dataclass_params__")  # noqa: B009
    if not params.frozen or "__slots__" not in cls.__dict__ or getattr(cls, "avro_name", None) != name:
        out.append(f"{name}: not a frozen, slotted record class named {name}")
    fields = dataclasses.fields(cls)
    if [f.name for f in fields] != [f["name"] for f in schema["fields"]]:
        return [*out, f"{name}: fields {[f.name for f in fields]} != schema {[f['name'] for f in schema['fields']]}"]
    hints = typing.get_type_hints(cls)
    for f, sf in zip(fields, schema["fields"], strict=True):
        want = _expected(sf["type"], named)
        if not _same_type(hints[f.name], want):
            out.append(f"{name}.{f.name}: type {hints[f.name]} != schema's {want}")
        default = sf.get("default", dataclasses.MISSING)
        if f.default != default or f.default_factory is not dataclasses.MISSING:
            out.append(f"{name}.{f.name}: default {f.default!r} != schema's {default!r}")
        for t in _records_in(sf["type"]):
            out += mismatches(t, named)
    return out


def _records_in(t: Any) -> list[dict[str, Any]]:
    if isinstance(t, list):
        return [r for b in t for r in _records_in(b)]
    if isinstance(t, dict):
        if t["type"] == "record":
            return [t]
        if t["type"] == "array":
            return _records_in(t["items"])
    return []


def test_records_module_is_what_the_generator_makes_of_the_schemas() -> None:
    assert gen.TARGET.read_text() == gen.render(), "schemas/records.py is stale: run python -m schemas.gen"
    assert gen.main(["--check"]) == 0


@pytest.mark.parametrize("type_name", TYPES)
def test_every_record_class_matches_its_schema(type_name: str) -> None:
    assert mismatches(schemas.latest(type_name).schema) == []


def _mutated(mutate: Any) -> dict[str, Any]:
    schema = copy.deepcopy(schemas.latest("Tick").schema)
    mutate(schema)
    return schema


@pytest.mark.parametrize(("what", "mutate", "expect"), [
    ("a field added", lambda s: s["fields"].append({"name": "sequence", "type": "long", "default": -1, "doc": "x"}), "fields"),
    ("a field removed", lambda s: s["fields"].pop(3), "fields"),
    ("a type changed", lambda s: s["fields"][7].update(type="string"), "Tick.tick_size: type"),
    ("null added to a type", lambda s: s["fields"][7].update(type=["null", "int"], default=None), "Tick.tick_size: type"),
    ("null removed from a type", lambda s: s["fields"][8].update(type="long") or s["fields"][8].pop("default"), "Tick.venue_ts: type"),
    ("a default added", lambda s: s["fields"][0].update(default="x"), "Tick.tick_id: default"),
    ("an enum symbol added", lambda s: s["fields"][4]["type"]["symbols"].append("HALTED"), "Tick.status: type"),
    ("a nested field changed", lambda s: s["fields"][5]["type"]["items"]["fields"][1].update(type="string"), "Level.size: type"),
])
def test_the_check_and_the_generator_see_a_schema_change(what: str, mutate: Any, expect: str) -> None:
    """A schema edited without regenerating records.py fails both tests above."""
    schema = _mutated(mutate)
    problems = mismatches(schema)
    assert any(expect in p for p in problems), (what, problems)
    sv = schemas.latest("Tick")
    others = [v for v in schemas.latest_versions().values() if v.type_name != "Tick"]
    changed = dataclasses.replace(sv, schema=schema)
    assert gen.render(gen.build(sorted([*others, changed], key=lambda v: v.type_name))) != gen.TARGET.read_text(), what


def test_the_generator_refuses_what_it_does_not_map() -> None:
    for bad in ({"name": "m", "type": {"type": "map", "values": "long"}, "doc": "x"},
                {"name": "u", "type": ["null", "int", "string"], "default": None, "doc": "x"},
                {"name": "d", "type": {"type": "array", "items": "long"}, "default": [], "doc": "x"}):
        schema = _mutated(lambda s, f=bad: s["fields"].append(f))
        with pytest.raises(gen.SchemaNotSupported):
            gen.build([dataclasses.replace(schemas.latest("Tick"), schema=schema)])


def test_records_are_frozen_and_slotted() -> None:
    level = records.Level(price=5400, size=1000)
    with pytest.raises(dataclasses.FrozenInstanceError):
        level.price = 1  # type: ignore[misc]
    with pytest.raises((AttributeError, TypeError)):  # TypeError on 3.11 (dataclasses' frozen+slots __setattr__ bug, gh-90562)
        level.extra = 1  # type: ignore[attr-defined]
    assert not hasattr(level, "__dict__")
    with pytest.raises(TypeError):
        records.Level(5400, 1000)  # type: ignore[call-arg]  # keyword-only: a 23-field record is never built by position


def _tick() -> dict[str, Any]:
    return {"tick_id": "K:T:1:2", "game_id": "nfl-20261129-buf-kc", "venue": "KALSHI", "market": "T", "status": "OK",
            "bids": [{"price": 5000, "size": 100}, {"price": 4900, "size": 7}], "asks": [{"price": 5100, "size": 250}],
            "tick_size": 100, "venue_ts": None, "received_ts": 1, "produced_ts": 2}


def test_a_decoded_tick_is_typed_all_the_way_down() -> None:
    t = codec.decode_record(codec.encode("Tick", _tick()), records.Tick)
    assert isinstance(t, records.Tick) and t.bids == [records.Level(price=5000, size=100), records.Level(price=4900, size=7)]
    assert (t.venue, t.status, t.venue_ts, t.asks[0].size) == ("KALSHI", "OK", None, 250)
    assert codec.encode_record(t) == codec.encode("Tick", _tick())


@pytest.mark.parametrize("type_name", TYPES)
@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=st.data())
def test_typed_and_dict_apis_agree(type_name: str, data: st.DataObject) -> None:
    record = data.draw(for_schema(schemas.latest(type_name).schema))
    encoded = codec.encode(type_name, record)
    cls = records.BY_NAME[type_name]
    typed = codec.decode_record(encoded, cls)
    assert type(typed) is cls and records.to_dict(typed) == record == codec.decode(encoded)
    assert codec.encode_record(typed) == encoded
    assert codec.decode_any_record(encoded) == typed == records.from_dict(cls, record)


def test_a_record_made_from_a_dict_is_a_record_like_any_other() -> None:
    # from_dict builds through a builder class of the same layout, which then gives the object its record class.
    t = codec.decode_record(codec.encode("Tick", _tick()), records.Tick)
    level = t.bids[0]
    assert (type(t), type(level)) == (records.Tick, records.Level)
    assert not hasattr(t, "__dict__") and not hasattr(level, "__dict__")
    with pytest.raises(dataclasses.FrozenInstanceError):
        level.price = 1  # type: ignore[misc]
    assert level == records.Level(price=5000, size=100) and hash(level) == hash(records.Level(price=5000, size=100))
    assert dataclasses.replace(t, market="U").market == "U" and t.market == "T"
    assert copy.deepcopy(t) == t


def test_typed_decoding_keeps_the_dict_api_errors() -> None:
    with pytest.raises(codec.DecodeError) as ei:
        codec.decode_record(codec.encode("Tick", _tick()), records.Signal)
    assert ei.value.kind == "wrong_type"
    with pytest.raises(codec.DecodeError) as ei:
        codec.decode_record(codec.encode("Tick", _tick())[:-3], records.Tick)
    assert ei.value.kind == "truncated"
    bad = records.from_dict(records.Tick, {**_tick(), "bids": [{"price": "x", "size": 1}]})  # not checked here ...
    with pytest.raises(codec.EncodeError):
        codec.encode_record(bad)  # ... the writer refuses it, as it refuses the dict


def test_an_old_version_is_read_into_the_newest_record() -> None:
    """OrderEvent v1 (no deadline_ts) and Control v1 are projected onto v2, as the dict API does."""
    from io import BytesIO

    from fastavro import schemaless_writer

    v1 = next(v for v in schemas.all_versions() if (v.type_name, v.version) == ("Control", 1))
    buf = BytesIO()
    buf.write(codec.MAGIC + v1.fingerprint)
    schemaless_writer(buf, v1.runtime, {"name": "kill_switch", "kind": "KILL_SWITCH", "active": True, "reason": None, "value": None,
                                        "source": "cli", "ts": 5})
    rec = codec.decode_record(buf.getvalue(), records.Control)
    assert rec == records.Control(name="kill_switch", kind="KILL_SWITCH", active=True, source="cli", ts=5)


def test_from_dict_needs_every_field_without_a_default() -> None:
    t = _tick()
    del t["venue_ts"]
    assert records.from_dict(records.Tick, t).venue_ts is None  # the schema's default
    del t["market"]
    with pytest.raises(KeyError):
        records.from_dict(records.Tick, t)


def test_records_never_share_lists_with_dicts() -> None:
    d = {"market": "m", "side": "YES", "label": "buf", "pays_on": ["buf"]}
    inst = records.from_dict(records.Instrument, d)
    d["pays_on"].append("kc")  # type: ignore[attr-defined]
    out = records.to_dict(inst)
    out["pays_on"].append("draw")  # type: ignore[attr-defined]
    assert inst.pays_on == ["buf"]
    assert json.dumps(records.to_dict(inst)) == '{"market": "m", "side": "YES", "label": "buf", "pays_on": ["buf"]}'
