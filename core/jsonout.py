"""JSON rendering of decoded records for CLI output (bytes as base64, stable key order), and the records'
fixed-point integers as the decimal numbers people read (`human`)."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

from core.units import format_fixed

# A field's unit, from its schema doc ("Price in 1e-4 USD ...", "Size in 1e-2 contracts", "Fee in 1e-6 USD"):
# the schemas say their units, so no list of field names here goes stale when a schema gains a field.
_UNIT = re.compile(r"\b1e-([1-9])\b")
_MIN_DP = {4: 2, 6: 2, 2: 0}  # dollars keep cents; sizes drop trailing zeros


def _default(obj: Any) -> Any:
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return {"base64": base64.b64encode(bytes(obj)).decode()}
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def dumps(obj: Any) -> str:
    return json.dumps(obj, default=_default, separators=(",", ":"))


def unit_dp(doc: str) -> int | None:
    """Decimal places of a fixed-point field from its schema doc, or None when the doc names no 1e-N unit."""
    m = _UNIT.search(doc or "")
    return int(m.group(1)) if m else None


def human(value: Any, schema: Any) -> Any:
    """`value` (decoded with Avro `schema`) with every fixed-point integer field as a decimal string:
    4600 (1e-4 USD) -> "0.46", 48516300 (1e-6 USD) -> "48.5163", 1250 (1e-2 contracts) -> "12.5". Exact: integer
    arithmetic only (core.units.format_fixed)."""
    return _walk(value, schema, None, {})


def _walk(value: Any, schema: Any, dp: int | None, names: dict[str, Any]) -> Any:
    if isinstance(schema, str):
        schema = names.get(schema, names.get(schema.rsplit(".", 1)[-1], schema))
    if isinstance(schema, list):  # a union: the branch that fits the value
        if value is None:
            return None
        for branch in schema:
            b = names.get(branch, branch) if isinstance(branch, str) else branch
            if b != "null" and _fits(value, b):
                return _walk(value, b, dp, names)
        return value
    if isinstance(schema, dict):
        kind = schema.get("type")
        if kind in ("record", "enum", "fixed") and "name" in schema:
            names[schema["name"]] = schema
            if "namespace" in schema:
                names[f"{schema['namespace']}.{schema['name']}"] = schema
        if kind == "record" and isinstance(value, dict):
            for f in schema.get("fields", []):  # register nested named types in declaration order
                _register(f["type"], names)
            return {k: _walk(v, _field(schema, k), unit_dp(_doc(schema, k)), names) for k, v in value.items()}
        if kind == "array" and isinstance(value, list):
            return [_walk(v, schema["items"], dp, names) for v in value]
        if kind == "map" and isinstance(value, dict):
            return {k: _walk(v, schema["values"], dp, names) for k, v in value.items()}
        if kind in ("int", "long"):
            schema = kind
    if dp is not None and isinstance(value, int) and not isinstance(value, bool):
        return format_fixed(value, dp, min_dp=_MIN_DP.get(dp, 0))
    return value


def _register(schema: Any, names: dict[str, Any]) -> None:
    if isinstance(schema, list):
        for s in schema:
            _register(s, names)
    elif isinstance(schema, dict):
        if "name" in schema and schema.get("type") in ("record", "enum", "fixed"):
            names.setdefault(schema["name"], schema)
            if "namespace" in schema:
                names.setdefault(f"{schema['namespace']}.{schema['name']}", schema)
        for f in schema.get("fields", []):
            _register(f["type"], names)
        for key in ("items", "values"):
            if key in schema:
                _register(schema[key], names)


def _field(record: dict[str, Any], name: str) -> Any:
    return next((f["type"] for f in record.get("fields", []) if f["name"] == name), None)


def _doc(record: dict[str, Any], name: str) -> str:
    return next((f.get("doc", "") for f in record.get("fields", []) if f["name"] == name), "")


def _fits(value: Any, schema: Any) -> bool:
    kind = schema.get("type") if isinstance(schema, dict) else schema
    if kind in ("int", "long"):
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "record" or kind == "map":
        return isinstance(value, dict)
    if kind == "array":
        return isinstance(value, list)
    if kind in ("string", "enum"):
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind in ("bytes", "fixed"):
        return isinstance(value, (bytes, bytearray))
    if kind in ("float", "double"):
        return isinstance(value, float)
    return True
