"""Our positions (folded from `fills`) against the venues' positions endpoints: drift per instrument."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal
from typing import Any

from core.units import parse_size
from positions.fold import Book


def ours_by_venue_key(book: Book, pairings: dict[str, dict[str, Any]]) -> dict[tuple[str, str], int]:
    """Net holdings in the venues' terms: Kalshi signed YES contracts per ticker (NO is negative);
    Polymarket shares per token."""
    out: dict[tuple[str, str], int] = {}
    for h in book.holdings.values():
        if h.venue == "KALSHI":
            k, q = ("KALSHI", h.market), h.contracts if h.side == "YES" else -h.contracts
        else:
            k, q = ("POLYMARKET", h.market), h.contracts
        out[k] = out.get(k, 0) + q
    return {k: v for k, v in out.items() if v}


def kalshi_positions(market_positions: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
    return {("KALSHI", p["ticker"]): parse_size(str(p.get("position_fp") or "0"), signed=True)
            for p in market_positions if parse_size(str(p.get("position_fp") or "0"), signed=True)}


def polymarket_positions(rows: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
    out: dict[tuple[str, str], int] = {}
    for r in rows:
        # The Data API writes sizes as JSON numbers: read them as decimals, never through float arithmetic.
        size = Decimal(str(r.get("size_fp") or r.get("current_size") or r.get("size") or "0")).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
        q = parse_size(format(size, "f"))
        if q:
            out[("POLYMARKET", str(r.get("token_id") or r.get("asset")))] = q
    return out


def drift(ours: dict[tuple[str, str], int], venue: dict[tuple[str, str], int]) -> list[dict[str, Any]]:
    return [{"venue": v, "market": m, "ours": ours.get((v, m), 0), "venue_reports": venue.get((v, m), 0)}
            for v, m in sorted(set(ours) | set(venue)) if ours.get((v, m), 0) != venue.get((v, m), 0)]
