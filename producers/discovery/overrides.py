"""The user's manual override file (ARB_DISCOVER_OVERRIDES_FILE, YAML): force or block pairs.

    force:                       # pair these even if league/names disagree (teams must still resolve)
      - kalshi_event: KXNFLGAME-26NOV29BUFKC
        polymarket_event: nfl-buf-kc-2026-11-29      # Gamma event slug or id
    block:                       # never publish these (any one key per entry)
      - game_id: nfl-20261129-buf-kc
      - kalshi_event: KXNBAGAME-26NOV30BOSLAL
      - polymarket_event: nba-bos-lal-2026-11-30

Overrides win over the matcher. The file is checked strictly, and a file with any error is refused as a
whole with an OverrideError naming the entry (a discovery round then publishes nothing: the pairings
published under the previous file stay): `force` and `block` are lists of mappings with only the keys
above; every value is non-empty text (a Gamma event id may be written as a number; `yes`, dates and
other YAML values that are not text are refused rather than converted); a Kalshi event is named at most
once in `force`. A forced pair is still one game on one date: the Kalshi event ticker must carry its date
(yyMMMdd), and a Polymarket slug that ends in a date (yyyy-mm-dd) must name the same one.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from producers.discovery.exceptions import OverrideError


@dataclass(frozen=True)
class Overrides:
    force: tuple[tuple[str, str], ...] = ()  # (kalshi event ticker, polymarket slug or id)
    block_games: frozenset[str] = field(default_factory=frozenset)
    block_kalshi: frozenset[str] = field(default_factory=frozenset)
    block_polymarket: frozenset[str] = field(default_factory=frozenset)


FORCE_KEYS = ("kalshi_event", "polymarket_event")
BLOCK_KEYS = ("game_id", "kalshi_event", "polymarket_event")
MAX_TEXT = 200  # longer than any ticker, slug or game id
_MONTHS = {m: i + 1 for i, m in enumerate(("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"))}
_KALSHI_DATE = re.compile(r"^[A-Z0-9]+-(?P<yy>\d{2})(?P<mon>[A-Z]{3})(?P<dd>\d{2})")
_SLUG_DATE = re.compile(r"(?:^|-)(?P<date>\d{4}-\d{2}-\d{2})$")


def _what(v: Any) -> str:
    if isinstance(v, bool):
        return f"a boolean ({'yes/true' if v else 'no/false'} in YAML; quote it if it is a name)"
    if v is None:
        return "nothing"
    if isinstance(v, (dt.date, dt.datetime)):
        return "a date (quote it)"
    return f"a {type(v).__name__}"


def _text(entry: dict[Any, Any], key: str, where: str, *, number_ok: bool = False) -> str:
    v = entry[key]
    if number_ok and isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 10**18:
        return str(v)  # a Gamma event id written without quotes
    if not isinstance(v, str):
        raise OverrideError(f"override file: {where}.{key} must be text, not {_what(v)}")
    text = v.strip()
    if not text or len(text) > MAX_TEXT or any(c.isspace() for c in text):
        raise OverrideError(f"override file: {where}.{key} must be one non-empty word of at most {MAX_TEXT} characters: {text[:MAX_TEXT]!r}")
    return text


def _entries(doc: dict[Any, Any], name: str) -> list[dict[Any, Any]]:
    raw = doc.get(name)
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise OverrideError(f"override file: {name} must be a list of entries (`- key: value`), not {_what(raw)}")
    for i, e in enumerate(raw):
        if not isinstance(e, dict):
            raise OverrideError(f"override file: {name}[{i}] must be a mapping (`- key: value`), not {_what(e)}")
        allowed = FORCE_KEYS if name == "force" else BLOCK_KEYS
        unknown = [k for k in e if k not in allowed]
        if unknown:
            raise OverrideError(f"override file: {name}[{i}] has an unknown key {str(unknown[0])[:40]!r} (allowed: {', '.join(allowed)})")
    return raw


def kalshi_event_date(event: str) -> dt.date | None:
    """The date an event ticker carries (KXNFLGAME-26NOV29BUFKC -> 2026-11-29), or None."""
    m = _KALSHI_DATE.match(event)
    if m is None or m["mon"] not in _MONTHS:
        return None
    try:
        return dt.date(2000 + int(m["yy"]), _MONTHS[m["mon"]], int(m["dd"]))
    except ValueError:
        return None


def slug_date(slug: str) -> dt.date | None:
    """The date a Gamma event slug ends with (nfl-buf-kc-2026-11-29 -> 2026-11-29), or None (an id, or no date)."""
    m = _SLUG_DATE.search(slug)
    if m is None:
        return None
    try:
        return dt.date.fromisoformat(m["date"])
    except ValueError:
        return None


def _check_forced_dates(kalshi: str, poly: str, where: str) -> None:
    day = kalshi_event_date(kalshi)
    if day is None:
        raise OverrideError(f"override file: {where}.kalshi_event {kalshi!r} carries no date (expected an event ticker like "
                            "KXNFLGAME-26NOV29BUFKC)")
    other = slug_date(poly)
    if other is not None and other != day:
        raise OverrideError(f"override file: {where} pairs two dates: Kalshi {kalshi} is on {day.isoformat()}, Polymarket {poly} "
                            f"on {other.isoformat()}")


def parse(doc: Any) -> Overrides:
    """A decoded override file -> Overrides; OverrideError names the first thing wrong."""
    if doc is None:
        return Overrides()
    if not isinstance(doc, dict) or any(k not in ("force", "block") for k in doc):
        raise OverrideError("override file: expected a mapping with 'force' and/or 'block' lists")
    force: list[tuple[str, str]] = []
    seen: set[str] = set()
    for i, e in enumerate(_entries(doc, "force")):
        where = f"force[{i}]"
        if any(k not in e for k in FORCE_KEYS):
            raise OverrideError(f"override file: {where} needs kalshi_event and polymarket_event")
        kalshi, poly = _text(e, "kalshi_event", where), _text(e, "polymarket_event", where, number_ok=True)
        if kalshi in seen:
            raise OverrideError(f"override file: {where}: {kalshi} is forced twice")
        seen.add(kalshi)
        _check_forced_dates(kalshi, poly, where)
        force.append((kalshi, poly))
    games, kalshi_events, poly_events = set(), set(), set()
    for i, e in enumerate(_entries(doc, "block")):
        where = f"block[{i}]"
        if not e:
            raise OverrideError(f"override file: {where} needs game_id, kalshi_event or polymarket_event")
        if "game_id" in e:
            games.add(_text(e, "game_id", where))
        if "kalshi_event" in e:
            kalshi_events.add(_text(e, "kalshi_event", where))
        if "polymarket_event" in e:
            poly_events.add(_text(e, "polymarket_event", where, number_ok=True))
    return Overrides(tuple(force), frozenset(games), frozenset(kalshi_events), frozenset(poly_events))


def load(path: str) -> Overrides:
    """Read and check the file; OverrideError (never another exception) when it cannot be used."""
    if not path:
        return Overrides()
    try:
        text = Path(path).read_text(encoding="utf-8")
        doc = yaml.safe_load(text)
    except OSError as exc:
        raise OverrideError(f"override file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise OverrideError(f"override file {path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except yaml.YAMLError as exc:
        raise OverrideError(f"override file {path}: not valid YAML ({exc})") from None
    except RecursionError:
        raise OverrideError(f"override file {path}: nested too deeply") from None
    except Exception as exc:  # PyYAML's constructors: "date: 2026-13-45" is a ValueError, a bad !!timestamp an AttributeError
        raise OverrideError(f"override file {path}: not valid YAML ({type(exc).__name__}: {exc})") from None
    try:
        return parse(doc)
    except OverrideError as exc:
        raise OverrideError(f"{exc} ({path})") from None
