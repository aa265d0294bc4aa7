"""Polymarket per-market fee parameters from the CLOB: `GET /clob-markets/{condition_id}` (issue 29 item 5).

The exchange applies the taker fee at match time from each market's own parameters, which the official V2
client reads from this endpoint: py-clob-client-v2 `ClobClient.get_clob_market_info`
(Polymarket/py-clob-client-v2, py_clob_client_v2/client.py; path `GET_CLOB_MARKET = "/clob-markets/"` in
endpoints.py) takes `fd.r` as the rate and `fd.e` as the exponent of every token in `t`. The documented answer
(docs.polymarket.com/api-reference/markets/get-clob-market-info) is compact-keyed:

    {"gst": "...", "r": {...}, "t": [{"t": "<token id>", "o": "Yes"}, ...], "mos": 5, "mts": 0.01, "mbf": 0, "tbf": 0,
     "rfqe": true, "itode": true, "ibce": true, "fd": {"r": 0.02, "e": 2, "to": true}, "oas": 123}

`fd` is the "fee curve parameters for a market": fee = C x r x (p(1 - p))^e, `to` = taker only. Gamma's
`feeSchedule` mirrors it, but is absent on some markets; the discovery default that filled the gap (0.03)
under-charged real `sports_fees_v2` markets, which carry 0.05. Here a market's fee parameters are what the
CLOB says, or the market is refused: never a default.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from producers.discovery.exceptions import UnknownFee
from producers.discovery.model import scaled

NO_FEE: dict[str, Any] = {"model": "NONE", "rate_ppm": 0, "multiplier_ppm": 1_000_000, "exponent": 1}
MAX_EXPONENT = 8  # the documented curves use 1 and 2; anything far beyond is a misreading, refused


def power_fee(rate: Any, exponent: Any, source: str) -> dict[str, Any]:
    """FeeParams of C x rate x (p(1-p))^exponent from a venue's rate and exponent (numbers or numeric strings)."""
    if rate is None or exponent is None:
        raise UnknownFee(f"{source}: rate or exponent missing ({rate!r}, {exponent!r})")
    try:
        rate_ppm = scaled(rate, 6)
        exp = Decimal(str(exponent).strip())
    except (ValueError, InvalidOperation):
        raise UnknownFee(f"{source}: rate {rate!r} / exponent {exponent!r} not usable") from None
    if not 0 <= rate_ppm <= 1_000_000:
        raise UnknownFee(f"{source}: rate {rate!r} out of range")
    if not exp.is_finite() or exp != exp.to_integral_value() or not 0 <= exp <= MAX_EXPONENT:
        raise UnknownFee(f"{source}: exponent {exponent!r} is not a whole number in 0..{MAX_EXPONENT}")
    if rate_ppm == 0:
        return dict(NO_FEE)
    return {"model": "POLYMARKET_POWER", "rate_ppm": rate_ppm, "multiplier_ppm": 1_000_000, "exponent": int(exp)}


def clob_fee_params(info: Mapping[str, Any] | None, condition_id: str, tokens: Iterable[str], fees_enabled: Any = None) -> dict[str, Any]:
    """FeeParams of one market from its /clob-markets answer (None: the CLOB does not know the market).

    Raises UnknownFee when they cannot be established. A missing `fd` means no fee only where Gamma also says
    `feesEnabled: false` (the official client reads a missing `fd` as rate 0; we do not guess it)."""
    where = f"CLOB /clob-markets/{condition_id}"
    if info is None:
        raise UnknownFee(f"{where}: market not found, fee parameters unknown")
    listed = {str(t.get("t")) for t in info.get("t") or [] if isinstance(t, Mapping) and t.get("t") is not None}
    if not listed:  # the official client refuses such an answer too ("failed to fetch market info")
        raise UnknownFee(f"{where}: no tokens (t) in the answer")
    if listed != {str(t) for t in tokens}:
        raise UnknownFee(f"{where}: tokens {sorted(listed)} differ from Gamma's {sorted(map(str, tokens))}")
    fd = info.get("fd")
    if fd is None:
        if fees_enabled is False:
            return dict(NO_FEE)
        raise UnknownFee(f"{where}: no fee details (fd) and Gamma feesEnabled={fees_enabled!r}: fee parameters unknown")
    if not isinstance(fd, Mapping):
        raise UnknownFee(f"{where}: fd is not an object")
    return power_fee(fd.get("r"), fd.get("e"), f"{where} fd")


async def fetch_clob_info(client: Any, condition_ids: Iterable[str], *, bucket: Any = None, concurrency: int = 8) -> dict[str, dict[str, Any] | None]:
    """condition_id -> its /clob-markets answer, or None where the CLOB answers 404. Any other failure (network,
    5xx, a body that is not an object) raises: the round is then incomplete and publishes nothing, rather than
    dropping every game whose fee it could not read this time."""
    sem = asyncio.Semaphore(concurrency)

    async def one(cid: str) -> tuple[str, dict[str, Any] | None]:
        async with sem:
            if bucket is not None:
                await bucket.take(1)
            resp = await client.get(f"/clob-markets/{cid}")
        if resp.status_code == 404:
            return cid, None
        resp.raise_for_status()
        body = resp.json()
        if not isinstance(body, dict):
            raise ValueError(f"CLOB /clob-markets/{cid}: expected a JSON object")
        return cid, body

    return dict(await asyncio.gather(*(one(c) for c in sorted(set(condition_ids)))))
