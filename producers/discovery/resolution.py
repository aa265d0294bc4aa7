"""How a venue resolved one market, read from the venue's own market payload (pure).

Kalshi (KD api-reference/market/get-market.md, get-markets.md, openapi 3.5.0): a market's `status` runs
initialized -> active -> closed -> determined -> (disputed / amended) -> finalized; `result` is "yes", "no"
or "" and `settlement_value_dollars` is "the settlement value of the YES/LONG side of the contract in
dollars. Only filled after determination"; `settlement_ts` is filled "for settled markets". Only a
`finalized` market is final here (a determined one can still be disputed or amended within
`settlement_timer_seconds`); `settled` is GET /markets' filter word for the same state and is accepted too.
The payout is `settlement_value_dollars` (exact, 4 decimals), checked against `result`; a Kalshi NO pays
1 USD minus it.

Polymarket (Gamma, PD api-reference/markets/list-markets.md; tests/resources/polymarket/
gamma_market_sports_market_money_line.json): a resolved market has `closed: true`, `umaResolutionStatus:
"resolved"` and `outcomePrices` collapsed to the payout of each outcome ("1"/"0", "0.5"/"0.5" for a 50-50);
outcome i is token i of `clobTokenIds` (`positionIds` for version "v2"). A `proposed` or `disputed` UMA
status is not final (the proposal can still be challenged). When it was resolved: `closedTime`
("2026-04-05 19:37:33+00"), else `umaEndDate`.

Not final yet: None / []. Final but unreadable or contradictory: ValueError (the caller logs it and asks
again next round; nothing is published from a payload it cannot trust).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.units import ONE_DOLLAR
from producers.discovery.fields import json_list, parse_iso, token_ids
from producers.discovery.model import scaled

KALSHI_FINAL = frozenset({"finalized", "settled"})
GAMMA_RESOLVED = "resolved"


@dataclass(frozen=True)
class Resolution:
    venue: str  # "KALSHI" | "POLYMARKET"
    market: str  # Kalshi ticker, or Polymarket token id (Tick.market)
    book: str  # Kalshi ticker, or Polymarket condition id
    payout: int  # what one YES contract / the token pays, 1e-4 USD
    source: str  # the venue's own words
    resolved_ts: int | None  # microseconds; None: the venue gave no time


def parse_time_us(raw: Any) -> int | None:
    """An ISO time ("2026-04-05T19:37:33Z", Gamma's "2026-04-05 19:37:33+00") or epoch seconds -> microseconds."""
    if raw is None or raw == "" or isinstance(raw, bool):
        return None
    if isinstance(raw, int | float):
        return int(raw) * 1_000_000
    t = parse_iso(raw)
    return None if t is None else int(t.timestamp()) * 1_000_000 + t.microsecond


def _price(value: Any, what: str) -> int:
    try:
        p = scaled(value, 4)
    except ValueError as exc:
        raise ValueError(f"{what}: {exc}") from None
    if not 0 <= p <= ONE_DOLLAR:
        raise ValueError(f"{what}: {value!r} outside [0, 1]")
    return p


def kalshi_resolution(market: dict[str, Any]) -> Resolution | None:
    """A Kalshi market object -> its Resolution, or None while it is not finalized."""
    ticker = str(market.get("ticker") or "")
    status = str(market.get("status") or "")
    if status not in KALSHI_FINAL:
        return None
    result = str(market.get("result") or "").lower()
    value = market.get("settlement_value_dollars")
    if value is None and isinstance(market.get("settlement_value"), int):  # the deprecated field, in cents
        value = _cents(market["settlement_value"])
    if value is not None:
        payout = _price(value, f"Kalshi {ticker} settlement_value_dollars")
        if (result == "yes" and payout != ONE_DOLLAR) or (result == "no" and payout != 0):
            raise ValueError(f"Kalshi {ticker}: result {result!r} contradicts settlement_value_dollars {value!r}")
    elif result in ("yes", "no"):
        payout = ONE_DOLLAR if result == "yes" else 0
    else:
        raise ValueError(f"Kalshi {ticker} is {status} with neither a result nor a settlement value")
    words = f"status={status} result={result or '-'} settlement_value_dollars={value if value is not None else '-'}"
    return Resolution("KALSHI", ticker, ticker, payout, words, parse_time_us(market.get("settlement_ts")))


def _cents(value: Any) -> str:
    return f"{int(value) // 100}.{int(value) % 100:02d}"


def gamma_resolutions(market: dict[str, Any]) -> list[Resolution]:
    """A Gamma market object -> one Resolution per token, or [] while it is not resolved."""
    cid = str(market.get("conditionId") or "")
    status = str(market.get("umaResolutionStatus") or "")
    if market.get("closed") is not True or status != GAMMA_RESOLVED:
        return []
    tokens = token_ids(market)
    prices = json_list(market.get("outcomePrices"))
    if len(tokens) != 2 or len(prices) != len(tokens):
        raise ValueError(f"Gamma {cid}: {len(tokens)} tokens and {len(prices)} outcomePrices")
    payouts = [_price(p, f"Gamma {cid} outcomePrices") for p in prices]
    if sum(payouts) != ONE_DOLLAR:  # a resolved binary market pays out exactly 1 USD across its tokens
        raise ValueError(f"Gamma {cid}: outcomePrices {prices} do not add up to 1")
    when = parse_time_us(market.get("closedTime")) or parse_time_us(market.get("umaEndDate"))
    words = f"outcomePrices={market.get('outcomePrices')} umaResolutionStatus={status} closed=true"
    return [Resolution("POLYMARKET", tok, cid, p, words, when) for tok, p in zip(tokens, payouts, strict=True)]


def settlement_record(res: Resolution, game_id: str, *, seen_us: int, now_us: int) -> dict[str, Any]:
    """The Settlement record (schemas/avro/settlement/v1.avsc) of `res` for `game_id`; `seen_us`: when it was
    first seen resolved (its time when the venue gave none)."""
    return {"game_id": game_id, "venue": res.venue, "market": res.market, "book": res.book, "payout": res.payout,
            "source": res.source, "resolved_ts": res.resolved_ts if res.resolved_ts is not None else seen_us, "published_ts": now_us}


def settlement_key(venue: str, market: str) -> str:
    return f"{venue}:{market}"
