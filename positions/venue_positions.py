"""The venues' own positions: the I/O half of reconciliation, read the same way by `arb positions --reconcile`
and by the positions role (`arb positions serve`).

Kalshi: GET /portfolio/positions (signed, every page). Polymarket: the public Data API's GET /positions of the
funder (or, for an EOA wallet, the key's own address), every page. A venue whose credentials are not configured
is `not_configured` (with what it needs); one whose read fails (5xx, timeout, an answer that cannot be read) is
`failed`. Neither is ever read as "holds nothing": the caller judges only the venues in `read`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field
from typing import cast

from core.config import ConfigError, load
from positions.reconcile import JsonRow, VenueKey, kalshi_positions, polymarket_positions
from venues.kalshi.settings import KalshiSettings
from venues.polymarket.settings import PolymarketSettings

KALSHI, POLYMARKET = "KALSHI", "POLYMARKET"


@dataclass
class VenueSnapshot:
    positions: dict[VenueKey, int] = field(default_factory=dict)  # of the venues in `read` only
    read: list[str] = field(default_factory=list)  # venues read completely
    failed: dict[str, str] = field(default_factory=dict)  # venue -> why its read failed
    not_configured: dict[str, str] = field(default_factory=dict)  # venue -> the settings it needs


def polymarket_user(ps: PolymarketSettings) -> str:
    """Whose positions the Data API is asked for: ARB_POLY_FUNDER, else ARB_POLY_ADDRESS, else the key's address."""
    if ps.funder or ps.address:
        return str(ps.funder or ps.address).strip().lower()
    key = ps.private_key.reveal().strip() if ps.private_key else ""
    if not key:
        return ""
    from venues.polymarket.eip712 import address_of

    try:
        return address_of(bytes.fromhex(key.removeprefix("0x")))
    except ValueError:
        raise ConfigError("ARB_POLY_PRIVATE_KEY is not a hex private key") from None


class VenuePositions:
    """Reads both venues' positions; each venue's read is bounded by `timeout_s` (every page included)."""

    def __init__(self, kalshi: KalshiSettings, polymarket: PolymarketSettings, *, timeout_s: float = 30.0) -> None:
        self.kalshi = kalshi
        self.polymarket = polymarket
        self.timeout_s = timeout_s
        self.not_configured: dict[str, str] = {}
        # Credentials are checked once, here: a key file that cannot be read is a configuration error at start.
        self._kalshi_key = kalshi.load_private_key() if kalshi.key_id and kalshi.private_key_file else None
        if self._kalshi_key is None:
            self.not_configured[KALSHI] = "set ARB_KALSHI_KEY_ID and ARB_KALSHI_PRIVATE_KEY_FILE"
        self._poly_user = polymarket_user(polymarket)
        if not self._poly_user:
            self.not_configured[POLYMARKET] = "set ARB_POLY_FUNDER, ARB_POLY_ADDRESS or ARB_POLY_PRIVATE_KEY_FILE"

    @classmethod
    def from_env(cls, *, timeout_s: float = 30.0) -> VenuePositions:
        return cls(load(KalshiSettings), load(PolymarketSettings), timeout_s=timeout_s)

    @property
    def configured(self) -> list[str]:
        return [v for v in (KALSHI, POLYMARKET) if v not in self.not_configured]

    async def _kalshi(self) -> dict[VenueKey, int]:
        from venues.kalshi.rest import KalshiRest

        rest = KalshiRest(self.kalshi.rest_url, self.kalshi.key_id, self._kalshi_key)
        try:
            # The REST clients answer JSON as dict[str, Any]: read here as objects, each value checked where used.
            return kalshi_positions([p async for p in cast(AsyncIterator[JsonRow], rest.positions())])
        finally:
            await rest.aclose()

    async def _polymarket(self) -> dict[VenueKey, int]:
        from venues.polymarket.rest import PolymarketDataApi

        # Positions are on the public Data API host, not the CLOB (no credentials are sent to it).
        data_api = PolymarketDataApi(self.polymarket.data_api_url)
        try:
            return polymarket_positions(await cast(Awaitable[list[JsonRow]], data_api.positions(self._poly_user)))
        finally:
            await data_api.aclose()

    async def read(self) -> VenueSnapshot:
        """Every configured venue, concurrently; a venue that fails is in `failed`, never in `positions`."""
        snap = VenueSnapshot(not_configured=dict(self.not_configured))
        readers = {KALSHI: self._kalshi, POLYMARKET: self._polymarket}
        venues = self.configured
        results = await asyncio.gather(*(asyncio.wait_for(readers[v](), self.timeout_s) for v in venues), return_exceptions=True)
        for venue, result in zip(venues, results, strict=True):
            if isinstance(result, BaseException):
                if isinstance(result, asyncio.CancelledError):
                    raise result
                # Any failure, a parsing bug included, leaves the venue unjudged: it is reported, never taken as "nothing".
                snap.failed[venue] = (f"timed out after {self.timeout_s:g}s" if isinstance(result, TimeoutError)
                                      else f"{type(result).__name__}: {result}")
                continue
            snap.read.append(venue)
            snap.positions.update(result)
        return snap


def read_now(venues: VenuePositions) -> VenueSnapshot:
    """One read from a thread that has no event loop (the role's reconciliation thread)."""
    return asyncio.run(venues.read())


def describe(snap: VenueSnapshot) -> dict[str, object]:
    return {"read": snap.read, "failed": snap.failed, "not_configured": snap.not_configured}
