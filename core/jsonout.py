"""JSON rendering of decoded records for CLI output (bytes as base64, stable key order)."""

from __future__ import annotations

import base64
import json
from typing import Any


def _default(obj: Any) -> Any:
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return {"base64": base64.b64encode(bytes(obj)).decode()}
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def dumps(obj: Any) -> str:
    return json.dumps(obj, default=_default, separators=(",", ":"))
