"""Every schema version must be backward compatible with EVERY earlier version (avro's checker)."""

import json
from itertools import combinations

import pytest
from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType
from avro.schema import parse

import schemas


def _compatible(reader: dict, writer: dict) -> bool:
    result = ReaderWriterCompatibilityChecker().get_compatibility(parse(json.dumps(reader)), parse(json.dumps(writer)))
    return result.compatibility is SchemaCompatibilityType.compatible


def _pairs() -> list[tuple[schemas.SchemaVersion, schemas.SchemaVersion]]:
    by_type: dict[str, list[schemas.SchemaVersion]] = {}
    for v in schemas.all_versions():
        by_type.setdefault(v.type_name, []).append(v)
    pairs = []
    for versions in by_type.values():
        pairs += [(v, v) for v in versions]  # a version reads itself
        pairs += list(combinations(versions, 2))  # (earlier, later)
    return pairs


@pytest.mark.parametrize(("writer", "reader"), _pairs(), ids=lambda v: f"{v.type_name}-v{v.version}")
def test_newer_reads_every_older(writer: schemas.SchemaVersion, reader: schemas.SchemaVersion) -> None:
    assert _compatible(reader.schema, writer.schema)


def test_checker_catches_a_breaking_change() -> None:
    """Guards the guard: adding a required field without a default must be flagged."""
    v1 = schemas.latest("Tick").schema
    broken = json.loads(json.dumps(v1))
    broken["fields"].append({"name": "new_required", "type": "long"})
    assert not _compatible(broken, v1)
    fixed = json.loads(json.dumps(v1))
    fixed["fields"].append({"name": "new_optional", "type": "long", "default": 0})
    assert _compatible(fixed, v1)


def test_folder_names_match_record_names() -> None:
    for v in schemas.all_versions():
        assert v.folder.replace("_", "") == v.type_name.lower(), v.path
