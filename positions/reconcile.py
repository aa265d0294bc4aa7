"""Our positions (folded from `fills`) against the venues' positions endpoints: drift per instrument."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal, InvalidOperation
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
    """Shares per token from Data API `GET /positions` rows (venues/polymarket/rest.py PolymarketDataApi):
    the documented shape (`asset`, `size`), the recorded one (`token_id`, `current_size`;
    tests/resources/polymarket/data_api_positions_response.json) or the simulator's (`size_fp`). Sizes
    are floored to our 0.01-share unit (dust below it is no position for us). A row without a token or
    with an unreadable size raises ValueError: a position is never dropped silently."""
    out: dict[tuple[str, str], int] = {}
    for r in rows:
        token = r.get("asset") or r.get("token_id")
        raw = next((r[k] for k in ("size_fp", "size", "current_size") if r.get(k) is not None), None)
        if not token or raw is None or isinstance(raw, bool):
            raise ValueError(f"Data API position without a token or a size: {str(r)[:200]!r}")
        # The Data API writes sizes as JSON numbers: read them as decimals, never through float arithmetic.
        try:
            size = Decimal(str(raw)).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
            q = parse_size(format(size, "f"))
        except (InvalidOperation, ValueError):
            raise ValueError(f"Data API position {token} with an unreadable size {raw!r}") from None
        if q:
            key = ("POLYMARKET", str(token))
            out[key] = out.get(key, 0) + q
    return out


def drift(ours: dict[tuple[str, str], int], venue: dict[tuple[str, str], int]) -> list[dict[str, Any]]:
    return [{"venue": v, "market": m, "ours": ours.get((v, m), 0), "venue_reports": venue.get((v, m), 0)}
            for v, m in sorted(set(ours) | set(venue)) if ours.get((v, m), 0) != venue.get((v, m), 0)]
