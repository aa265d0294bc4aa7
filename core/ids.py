"""Deterministic identities (design.md "Identities"): a replay or a reprocess yields the same ids.

- game_id = {league}-{yyyymmdd}-{away}-{home}, lowercase; a later game of the same teams on the same day
  (a doubleheader's second game) adds "-g{n}", n its place by start time (producers/discovery/match.py)
- tick_id = venue:market:position of the change at the venue (Kalshi sid/seq; Polymarket frame ts/index)
- signal_id = hash of game_id, the legs (venue, market, side, limit price) and the input tick_ids
- client_order_id = signal_id:leg:step, <= 64 chars of [-\\w:+=/] (Kalshi's rule)
- Polymarket salt (< 2^53, it travels as a JSON number) derived from the client_order_id. The signed
  order's timestamp is the time of signing, as the official builders stamp it, so its hash (the orderID)
  is known once signed, not before: the executor keeps the signed order in the INTENT and never re-signs
  a leg whose INTENT was committed (executor/polymarket_transport.py).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from typing import Any

COID_RE = re.compile(r"^[-\w:+=/]{1,64}$")
SIGNAL_ID_HEX = 32  # 128 bits: "s" + 32 hex + ":leg:step" stays far below 64 chars


def game_id(league: str, yyyymmdd: str, away: str, home: str, game_no: int = 1) -> str:
    """The game's id; `game_no` > 1 numbers a later game of the same teams on the same day ("-g2").

    Game 1 keeps the plain id, so every single game's id is the same as before game numbers existed."""
    if not (len(yyyymmdd) == 8 and yyyymmdd.isdigit()):
        raise ValueError(f"game date must be yyyymmdd, got {yyyymmdd!r}")
    parts = [league, yyyymmdd, away, home]
    if any(not p or "-" in p or not re.fullmatch(r"[A-Za-z0-9_]+", p) for p in parts):
        raise ValueError(f"game_id parts must be non-empty alphanumerics without '-': {parts}")
    if isinstance(game_no, bool) or not isinstance(game_no, int) or game_no < 1:
        raise ValueError(f"game number must be an integer >= 1, got {game_no!r}")
    return "-".join(p.lower() for p in parts) + (f"-g{game_no}" if game_no > 1 else "")


def kalshi_tick_id(ticker: str, sid: int, seq: int) -> str:
    return f"KALSHI:{ticker}:{sid}:{seq}"


def polymarket_tick_id(asset_id: str, frame_ts_ms: int | str, index: int) -> str:
    return f"POLYMARKET:{asset_id}:{frame_ts_ms}:{index}"


def signal_id(game: str, legs: Iterable[Mapping[str, Any]], tick_ids: Iterable[str]) -> str:
    h = hashlib.sha256()
    h.update(game.encode())
    for leg in legs:
        h.update(f"|{leg['venue']}|{leg['market']}|{leg['side']}|{leg['limit_price']}".encode())
    h.update(b"#")
    for t in tick_ids:
        h.update(t.encode() + b"|")
    return "s" + h.hexdigest()[:SIGNAL_ID_HEX]


def client_order_id(signal: str, leg_index: int, step: int = 0) -> str:
    coid = f"{signal}:{leg_index}:{step}"
    if not COID_RE.match(coid):
        raise ValueError(f"client_order_id {coid!r} breaks Kalshi's rule (<= 64 chars of [-\\w:+=/])")
    return coid


def polymarket_salt(coid: str) -> int:
    """A salt < 2^53 (exact as a JSON number / JS double) derived from the client_order_id."""
    return int.from_bytes(hashlib.sha256(coid.encode()).digest()[:8], "big") >> 11
