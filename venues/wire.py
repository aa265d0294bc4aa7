"""Venue wire values both frame parsers (venues/kalshi/parse.py, venues/polymarket/parse.py) read the same way.

Every number is bounded when it is read, so that nothing a venue sends makes a book or a Tick outside its Avro
schema; every failure is a ParseError (venues/errors.py), whatever the input holds (deep nesting, numeric strings
too long for int(), lone surrogates).
"""

from __future__ import annotations

import reprlib
from collections.abc import Callable, Mapping
from typing import TypeVar

from core.units import ONE_DOLLAR, UnitError, parse_price
from venues.errors import ParseError

T = TypeVar("T")
Level = tuple[int, int]

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
MAX_TS_MS = INT64_MAX // 1000  # Tick.venue_ts = ms * 1000 µs is a long
MAX_NUMBER_CHARS = 40  # a decimal string longer than this is no price, size or timestamp (int() refuses > 4,300 digits)

_repr = reprlib.Repr()
_repr.maxlevel, _repr.maxstring, _repr.maxother = 3, 60, 60


def show(v: object) -> str:
    """A short repr for error messages: bounded in size and depth whatever the frame holds."""
    try:
        return _repr.repr(v)
    except Exception:  # RecursionError, ValueError (a >4,300-digit int), …
        return f"<{type(v).__name__}>"


def typed(obj: object, what: str, key: str) -> tuple[dict[str, object], str]:
    """A message (an object) and its type, the string at `key`."""
    if not isinstance(obj, dict):
        raise ParseError(f"{what} is not an object: {type(obj).__name__}")
    typ = obj.get(key)
    if not isinstance(typ, str):
        raise ParseError(f"missing {key}")
    return obj, typ


def valid_text(v: str, key: str) -> str:
    """`v`, if an Avro string can carry it."""
    try:
        v.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate ("\ud800" in JSON): no Avro string can carry it
        raise ParseError(f"{key} is not valid unicode: {show(v)}") from None
    return v


def text(obj: Mapping[str, object], key: str) -> str:
    """A required, non-empty string."""
    v = obj.get(key)
    if not isinstance(v, str) or not v:
        raise ParseError(f"missing or non-string {key}: {show(v)}")
    return valid_text(v, key)


def number(v: object, key: str, parse: Callable[[str], int], what: str) -> int:
    """A fixed-point number read by `parse` (core/units.py) into integer units; a text too long is none."""
    if not isinstance(v, str):  # parse_fixed's own first check, and its words
        raise ParseError(f"{key}: expected a decimal string, got {type(v).__name__}")
    if len(v) > MAX_NUMBER_CHARS:
        raise ParseError(f"{key}: not a {what}: {show(v)}")
    try:
        return parse(v)
    except (UnitError, ValueError) as exc:
        raise ParseError(f"{key}: {exc}") from None


def price(v: object, key: str, *, edges: bool = False) -> int:
    """A price in 1e-4 USD strictly between 0 and 1 USD (a book level: nobody rests an order at 0 or 1), or with
    `edges` from 0 to 1 USD (how a venue reports an empty side)."""
    p = number(v, key, parse_price, "price")
    if not (0 <= p <= ONE_DOLLAR if edges else 0 < p < ONE_DOLLAR):
        raise ParseError(f"{key}: price out of range {show(v)}")
    return p


def size(v: object, key: str, parse: Callable[[str], int], bound: int) -> int:
    """A size (or a signed change of one) read by `parse`, at most `bound` units either way."""
    n = number(v, key, parse, "size")
    if abs(n) > bound:
        raise ParseError(f"{key}: size out of range {show(v)}")
    return n


def levels(raw: object, key: str, level: Callable[[object], Level | None]) -> tuple[Level, ...]:
    """A side of a book: a list of levels, each read by `level` (None: not a level); an omitted side is empty."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ParseError(f"{key} is not a list")
    out: list[Level] = []
    for lvl in raw:
        read = level(lvl)
        if read is None:
            raise ParseError(f"{key}: bad level {show(lvl)}")
        out.append(read)
    return tuple(out)


def one_of(v: object, values: Mapping[str, T], what: str) -> T:
    """The value `v` names, of a closed set (a side)."""
    found = values.get(v) if isinstance(v, str) else None
    if found is None:
        raise ParseError(f"bad {what} {show(v)}")
    return found
