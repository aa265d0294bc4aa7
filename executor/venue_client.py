"""What the executor needs from a venue, and the retry rules every venue shares.

`place()` sends one IOC/FAK order and returns what happened, applying design.md's rules:
- 429 (RateLimited): the request was not accepted; back off (jitter, Retry-After when given) and
  retry the same order, never past the signal's deadline; never counted by the breaker.
- timeout / connection error / 5xx (Unknown, ServerError): counted by the breaker; the order may exist,
  so look it up before any retry; retry only if the venue does not have it.
- Duplicate (Kalshi 409 while open, Polymarket INVALID_ORDER_DUPLICATED): resolved by lookup.
- Rejected: final.
While the venue's breaker is open, no call is made.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from core import metrics
from core.backoff import Backoff
from core.units import now_us
from executor.breaker import CircuitBreaker
from executor.orders import LegResult, OrderRequest
from venues import errors

log = logging.getLogger(__name__)


class VenueClient(Protocol):
    venue: str

    async def prepare(self, req: OrderRequest) -> OrderRequest:
        """Complete the request before its INTENT is written (Polymarket: sign it; its hash is its id)."""
        ...

    async def place(self, req: OrderRequest) -> LegResult: ...

    async def lookup(self, req: OrderRequest) -> LegResult | None:
        """What the venue knows of this order, or None if it has no such order."""
        ...


class VenueTransport(Protocol):
    """The venue-specific part: one raw attempt and one raw lookup, raising venues.errors."""

    venue: str

    async def sign(self, req: OrderRequest) -> OrderRequest: ...

    async def submit(self, req: OrderRequest, deadline_s: float) -> LegResult: ...

    async def find(self, req: OrderRequest) -> LegResult | None: ...


class RetryingVenueClient:
    def __init__(self, transport: VenueTransport, breaker: CircuitBreaker, *, backoff_base_s: float = 0.02, backoff_cap_s: float = 0.5) -> None:
        self.transport = transport
        self.venue = transport.venue
        self.breaker = breaker
        self.backoff_base_s = backoff_base_s
        self.backoff_cap_s = backoff_cap_s
        self.rate_limited = 0

    async def prepare(self, req: OrderRequest) -> OrderRequest:
        return await self.transport.sign(req)

    async def lookup(self, req: OrderRequest) -> LegResult | None:
        return await self.transport.find(req)

    async def place(self, req: OrderRequest) -> LegResult:
        backoff = Backoff(self.backoff_base_s, self.backoff_cap_s)
        sent_ts = now_us()
        while True:
            remaining_s = (req.deadline_us - now_us()) / 1e6
            if remaining_s <= 0:
                return LegResult("CANCELLED", reason="deadline passed before the venue accepted the order", sent_ts=sent_ts)
            if not self.breaker.allow():
                return LegResult("REJECT", reason=f"{self.venue} circuit breaker open", sent_ts=sent_ts)
            try:
                res = await self.transport.submit(req, remaining_s)
                self.breaker.record_success()
                return res
            except errors.RateLimited as exc:
                self.rate_limited += 1
                metrics.RATE_LIMITED.labels(self.venue).inc()
                self.breaker.record_neutral()
                delay = exc.retry_after_s if exc.retry_after_s is not None else backoff.next_delay()
                if (now_us() - req.deadline_us) / 1e6 + delay >= 0:
                    return LegResult("CANCELLED", reason="rate limited until the deadline", sent_ts=sent_ts)
                await asyncio.sleep(delay)
            except errors.Duplicate:
                self.breaker.record_neutral()
                found = await self._find_quietly(req)
                return found or LegResult("UNKNOWN", reason="venue reports a duplicate but the lookup found nothing", sent_ts=sent_ts)
            except (errors.Unknown, errors.ServerError) as exc:
                self.breaker.record_failure()
                log.warning("order outcome unknown (%s); looking it up", exc, extra={"client_order_id": req.client_order_id})
                found = await self._find_quietly(req)
                if found is not None:
                    return found
                await asyncio.sleep(backoff.next_delay())
            except errors.Rejected as exc:
                self.breaker.record_success()  # the venue answered: it is up
                return LegResult("REJECT", reason=str(exc), sent_ts=sent_ts, acked_ts=now_us())
            except Exception as exc:
                # Never resend after an unexplained failure (the same bug would repeat it): look it up once
                # and otherwise report UNKNOWN, which recovery and operators resolve.
                self.breaker.record_failure()
                log.exception("unexpected error placing an order; looking it up", extra={"client_order_id": req.client_order_id})
                found = await self._find_quietly(req)
                return found or LegResult("UNKNOWN", reason=f"unexpected {type(exc).__name__} while placing; not found by lookup",
                                          sent_ts=sent_ts, acked_ts=now_us())

    async def _find_quietly(self, req: OrderRequest) -> LegResult | None:
        try:
            return await self.transport.find(req)
        except Exception as exc:
            log.warning("lookup failed: %s", exc, extra={"client_order_id": req.client_order_id})
            return None
