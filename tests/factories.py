"""Builders of Tick and MarketPairing dicts (schema-exact) for tests."""

from __future__ import annotations

from typing import Any

from schemas import records

KALSHI_FEE = {"model": "KALSHI_QUADRATIC", "rate_ppm": 70_000, "multiplier_ppm": 1_000_000, "exponent": 1}
POLY_FEE = {"model": "POLYMARKET_POWER", "rate_ppm": 30_000, "multiplier_ppm": 1_000_000, "exponent": 1}
NO_FEE = {"model": "NONE", "rate_ppm": 0, "multiplier_ppm": 1_000_000, "exponent": 1}
# The same fee parameters as FeeParams records (what core/fees.py and a BookRef hold).
KALSHI_FEE_RECORD = records.from_dict(records.FeeParams, KALSHI_FEE)
POLY_FEE_RECORD = records.from_dict(records.FeeParams, POLY_FEE)
NO_FEE_RECORD = records.from_dict(records.FeeParams, NO_FEE)


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


# Typed variants (schemas/records.py), for modules that take records.

def tick_record(market: str, **kw: Any) -> records.Tick:
    """tick(...) as a Tick record."""
    return records.from_dict(records.Tick, tick(market, **kw))


def pairing_record(game_id: str = "nfl-20261129-buf-kc", **kw: Any) -> records.MarketPairing:
    """pairing(...) as a MarketPairing record."""
    return records.from_dict(records.MarketPairing, pairing(game_id, **kw))


def order_event_record(client_order_id: str, type_: str = "INTENT", *, signal_id: str = "s1", leg_index: int = 0, step: int = 0,
                       **kw: Any) -> records.OrderEvent:
    """An OrderEvent of a Kalshi BUY (every field set; `kw` sets any other field)."""
    return records.from_dict(records.OrderEvent, {
        "client_order_id": client_order_id, "signal_id": signal_id, "game_id": "nfl-20261129-buf-kc", "leg_index": leg_index,
        "step": step, "type": type_, "venue": "KALSHI", "market": "K-BUF", "side": "YES", "action": "BUY", "limit_price": 5000,
        "size": 100, "filled_size": 0, "fill_cost": 0, "fee": 0, "venue_order_id": None, "signed_order": None, "reason": None,
        "paper": False, "intent_ts": 0, "sent_ts": None, "acked_ts": None, "deadline_ts": None, **kw})


def outcome_rec(signal_id: str, state: str, **kw: Any) -> records.Outcome:
    """An Outcome of `signal_id` (every field set; `kw` sets any other field)."""
    return records.from_dict(records.Outcome, {
        "signal_id": signal_id, "game_id": "nfl-20261129-buf-kc", "state": state, "reason": None, "matched_size": 0, "cost": 0,
        "fees": 0, "locked_profit": 0, "paper": False, "ts": 0, **kw})


def poly_book_record(tick_size: int = 100, *, neg_risk: bool = False, exchange_version: int = 2, fee: dict[str, Any] = NO_FEE,
                     seconds_delay: int = 0, condition: str = "0xcond", tokens: dict[str, str] | None = None) -> records.BookRef:
    """A Polymarket BookRef (poly_moneyline's shape, no fee by default): the book the executor's Polymarket transport
    signs against (tick, exchange, fee)."""
    book = poly_moneyline(condition, tokens or {"buf": "TOK-BUF", "kc": "TOK-KC"}, fee, seconds_delay)
    return records.from_dict(records.BookRef, book | {"tick_size": tick_size, "neg_risk": neg_risk, "exchange_version": exchange_version})
