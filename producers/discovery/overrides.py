"""The user's manual override file (ARB_DISCOVER_OVERRIDES_FILE, YAML): force or block pairs.

    force:                       # pair these even if league/date/names disagree (teams must still resolve)
      - kalshi_event: KXNFLGAME-26NOV29BUFKC
        polymarket_event: nfl-buf-kc-2026-11-29      # Gamma event slug or id
    block:                       # never publish these (any one key per entry)
      - game_id: nfl-20261129-buf-kc
      - kalshi_event: KXNBAGAME-26NOV30BOSLAL
      - polymarket_event: nba-bos-lal-2026-11-30

Overrides win over the matcher.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class OverrideError(ValueError):
    """The override file is malformed."""


@dataclass(frozen=True)
class Overrides:
    force: tuple[tuple[str, str], ...] = ()  # (kalshi event ticker, polymarket slug or id)
    block_games: frozenset[str] = field(default_factory=frozenset)
    block_kalshi: frozenset[str] = field(default_factory=frozenset)
    block_polymarket: frozenset[str] = field(default_factory=frozenset)


def parse(doc: Any) -> Overrides:
    if doc is None:
        return Overrides()
    if not isinstance(doc, dict) or set(doc) - {"force", "block"}:
        raise OverrideError("override file: expected a mapping with 'force' and/or 'block' lists")
    force: list[tuple[str, str]] = []
    for i, e in enumerate(doc.get("force") or []):
        if not isinstance(e, dict) or not e.get("kalshi_event") or not e.get("polymarket_event"):
            raise OverrideError(f"override file: force[{i}] needs kalshi_event and polymarket_event")
        force.append((str(e["kalshi_event"]), str(e["polymarket_event"])))
    games, kalshi, poly = set(), set(), set()
    for i, e in enumerate(doc.get("block") or []):
        if not isinstance(e, dict) or not ({"game_id", "kalshi_event", "polymarket_event"} & set(e)):
            raise OverrideError(f"override file: block[{i}] needs game_id, kalshi_event or polymarket_event")
        if e.get("game_id"):
            games.add(str(e["game_id"]))
        if e.get("kalshi_event"):
            kalshi.add(str(e["kalshi_event"]))
        if e.get("polymarket_event"):
            poly.add(str(e["polymarket_event"]))
    return Overrides(tuple(force), frozenset(games), frozenset(kalshi), frozenset(poly))


def load(path: str) -> Overrides:
    if not path:
        return Overrides()
    try:
        return parse(yaml.safe_load(Path(path).read_text()))
    except OSError as exc:
        raise OverrideError(f"override file {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise OverrideError(f"override file {path}: not valid YAML ({exc})") from None
