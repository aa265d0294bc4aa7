"""Field parsers shared by the venue sources (kalshi_source, gamma_source) and the resolution parsers
(resolution): Gamma's JSON-encoded lists and token ids, and the venues' ISO times. A module of its own so that
the sources can import the resolution parsers and the resolution parsers these fields without a cycle."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any


def json_list(value: Any) -> list[str]:
    """A Gamma list field: a JSON-encoded string (the usual form) or already a list."""
    if isinstance(value, str):
        value = json.loads(value) if value else []
    if not isinstance(value, list):
        raise ValueError(f"expected a list, got {type(value).__name__}")
    return [str(v) for v in value]


def token_ids(market: dict[str, Any]) -> list[str]:
    """The market's tokens in outcome order: `positionIds` for version "v2" markets, else `clobTokenIds`."""
    if market.get("version") == "v2" and market.get("positionIds"):
        return json_list(market["positionIds"])
    return json_list(market.get("clobTokenIds"))


def parse_iso(raw: Any) -> dt.datetime | None:
    """An ISO time ("2026-04-05T19:37:33Z", Gamma's "2026-08-14 21:00:00+00") as an aware datetime (UTC when it
    names no zone); None when it is not one."""
    text = str(raw).strip().replace("Z", "+00:00")
    if re.search(r"[+-]\d{2}$", text):
        text += ":00"
    try:
        t = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)
