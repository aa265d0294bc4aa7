"""Builders of Tick and MarketPairing dicts (schema-exact) for tests."""

from __future__ import annotations

from typing import Any

KALSHI_FEE = {"model": "KALSHI_QUADRATIC", "rate_ppm": 70_000, "multiplier_ppm": 1_000_000, "exponent": 1}
POLY_FEE = {"model": "POLYMARKET_POWER", "rate_ppm": 30_000, "multiplier_ppm": 1_000_000, "exponent": 1}
NO_FEE = {"model": "NONE", "rate_ppm": 0, "multiplier_ppm": 1_000_000, "exponent": 1}


def kalshi_book(ticker: str, code: str, outcomes: list[str], fee: dict[str, Any] = KALSHI_FEE) -> dict[str, Any]:
    return {"venue": "KALSHI", "market": ticker, "event": "EV", "tick_size": 100, "min_size": 100, "fee": fee, "seconds_delay": 0,
            "neg_risk": False, "exchange_version": 0, "exchange_index": -1,
            "instruments": [{"market": ticker, "side": "YES", "label": code, "pays_on": [code]},
                            {"market": ticker, "side": "NO", "label": f"not {code}", "pays_on": [o for o in outcomes if o != code]}]}


def poly_moneyline(cond: str, tokens: dict[str, str], fee: dict[str, Any] = POLY_FEE, delay: int = 0, min_size: int = 500) -> dict[str, Any]:
    return {"venue": "POLYMARKET", "market": cond, "event": "slug", "tick_size": 10, "min_size": min_size, "fee": fee, "seconds_delay": delay,
            "neg_risk": False, "exchange_version": 2, "exchange_index": 0,
            "instruments": [{"market": tok, "side": "YES", "label": code, "pays_on": [code]} for code, tok in tokens.items()]}


def poly_outcome(code: str, outcomes: list[str], fee: dict[str, Any] = POLY_FEE, min_size: int = 500) -> dict[str, Any]:
    """A draw league's Polymarket Yes/No market of one outcome (its own condition, so its own book)."""
    return {"venue": "POLYMARKET", "market": f"0xcond-{code}", "event": "slug", "tick_size": 10, "min_size": min_size, "fee": fee,
            "seconds_delay": 0, "neg_risk": True, "exchange_version": 2, "exchange_index": 1,
            "instruments": [{"market": f"TOK-{code.upper()}-YES", "side": "YES", "label": code, "pays_on": [code]},
                            {"market": f"TOK-{code.upper()}-NO", "side": "YES", "label": f"not {code}", "pays_on": [o for o in outcomes if o != code]}]}


def pairing(game_id: str = "nfl-20261129-buf-kc", *, draw: bool = False, poly: bool = True, poly_draw: bool = False, **kw: Any) -> dict[str, Any]:
    """Kalshi books of every outcome; Polymarket's moneyline (two-outcome games), or with `poly_draw` its
    Yes/No market per outcome (draw leagues)."""
    outcomes = ["buf", "kc"] + (["draw"] if draw else [])
    books = [kalshi_book(f"K-{c.upper()}", c, outcomes, kw.get("kalshi_fee", KALSHI_FEE)) for c in outcomes]
    if poly and not draw:
        books.append(poly_moneyline("0xcond", {"buf": "TOK-BUF", "kc": "TOK-KC"}, kw.get("poly_fee", POLY_FEE), kw.get("delay", 0)))
    if poly_draw:
        books += [poly_outcome(c, outcomes, kw.get("poly_fee", POLY_FEE)) for c in outcomes]
    return {"game_id": game_id, "league": "nfl", "game_date": "20261129", "start_ts": None, "away": "buf", "home": "kc",
            "outcomes": outcomes, "books": books, "updated_ts": 0}


def tick(market: str, *, bids: list[tuple[int, int]] = (), asks: list[tuple[int, int]] = (), venue: str = "KALSHI",  # type: ignore[assignment]
         game_id: str = "nfl-20261129-buf-kc", ts: int = 1_000_000, status: str = "OK", seq: int = 1) -> dict[str, Any]:
    return {"tick_id": f"{venue}:{market}:1:{seq}", "game_id": game_id, "venue": venue, "market": market, "status": status,
            "bids": [{"price": p, "size": s} for p, s in sorted(bids, key=lambda x: -x[0])],
            "asks": [{"price": p, "size": s} for p, s in sorted(asks, key=lambda x: x[0])],
            "tick_size": 100, "venue_ts": None, "received_ts": ts, "produced_ts": ts}
