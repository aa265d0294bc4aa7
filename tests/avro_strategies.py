"""Hypothesis strategies that generate valid records for any Avro schema (used by codec tests)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)


def for_schema(schema: Any, named: dict[str, Any] | None = None, namespace: str = "") -> st.SearchStrategy[Any]:
    named = {} if named is None else named
    if isinstance(schema, str):
        prim = {
            "null": st.none(), "boolean": st.booleans(), "int": st.integers(*INT32), "long": st.integers(*INT64),
            "string": st.text(max_size=20), "bytes": st.binary(max_size=20),
        }
        if schema in prim:
            return prim[schema]
        full = schema if "." in schema else f"{namespace}.{schema}"
        return st.deferred(lambda: named[full] if full in named else named[schema])
    if isinstance(schema, list):
        return st.one_of([for_schema(s, named, namespace) for s in schema])
    t = schema["type"]
    if t in ("record", "enum"):
        ns = schema.get("namespace", namespace)
        full = f"{ns}.{schema['name']}" if ns else schema["name"]
        if t == "enum":
            strat: st.SearchStrategy[Any] = st.sampled_from(schema["symbols"])
        else:
            fields = {}
            strat = st.deferred(lambda: st.fixed_dictionaries(fields))
            named[full] = strat
            for f in schema["fields"]:
                fields[f["name"]] = for_schema(f["type"], named, ns)
        named[full] = strat
        return strat
    if t == "array":
        return st.lists(for_schema(schema["items"], named, namespace), max_size=4)
    if t == "map":
        return st.dictionaries(st.text(max_size=8), for_schema(schema["values"], named, namespace), max_size=3)
    return for_schema(t, named, namespace)
