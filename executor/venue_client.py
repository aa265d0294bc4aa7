"""What the executor needs from a venue, and the rules every venue shares (executor/answers.py).

`place()` sends one IOC/FAK order and returns what happened:
- RETRY (429, 503 + Retry-After) and NOT_SENT (could not connect): the venue did not get the order;
  back off (Retry-After first) and send it again, never past the signal's deadline.
- REJECTED: final, with the venue's text; a 401/403 is alerted (keys or clock), not a breaker failure.
- UNKNOWN (timeout, other 5xx, reset after sending, unparsable or incomplete answer) and EXISTS
  (duplicate id): the order may have executed. It is NEVER sent again; `resolve()` looks it up until the
  deadline + grace. Found: its result. Not found by a lookup made after the grace: it never executed (both
  venues list every accepted order, executed or cancelled, within seconds). Lookups still failing then:
  UNKNOWN, for the operator.
- A PENDING answer (Polymarket `delayed`) is returned as an ACK result; the executor follows it up.
While the venue's breaker is open, no call is made.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import Protocol

from core import metrics
from core.backoff import Backoff
from core.units import now_us
from executor.answers import BREAKER_FAILURES, RESEND, Answer, classify_error, classify_result
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

    async def resolve(self, req: OrderRequest, *, why: str, until_us: int | None = None) -> LegResult:
        """What became of an order that may have been sent, by lookups only (never re-sent)."""
        ...


class VenueTransport(Protocol):
    """The venue-specific part: one raw attempt and one raw lookup, raising venues.errors."""

    venue: str

    async def sign(self, req: OrderRequest) -> OrderRequest: ...

    async def submit(self, req: OrderRequest, deadline_s: float) -> LegResult: ...

    async def find(self, req: OrderRequest) -> LegResult | None: ...


class RetryingVenueClient:
    def __init__(self, transport: VenueTransport, breaker: CircuitBreaker, *, backoff_base_s: float = 0.02, backoff_cap_s: float = 0.5,
                 lookup_grace_s: float = 3.0, lookup_interval_s: float = 0.1, send_timeout_s: float = 3.0) -> None:
        self.transport = transport
        self.venue = transport.venue
        self.breaker = breaker
        self.backoff_base_s = backoff_base_s
        self.backoff_cap_s = backoff_cap_s
        self.lookup_grace_us = int(lookup_grace_s * 1_000_000)
        # A request sent just before the deadline can reach the venue up to the HTTP timeout later: "not found"
        # only counts after deadline + send timeout + grace.
        self.send_timeout_us = int(send_timeout_s * 1_000_000)
        self.lookup_interval_s = lookup_interval_s
        self.rate_limited = 0

    async def prepare(self, req: OrderRequest) -> OrderRequest:
        return await self.transport.sign(req)

    async def lookup(self, req: OrderRequest) -> LegResult | None:
        return await self.transport.find(req)

    async def place(self, req: OrderRequest) -> LegResult:
        backoff = Backoff(self.backoff_base_s, self.backoff_cap_s)
        first_ts: int | None = None
        while True:
            remaining_s = (req.deadline_us - now_us()) / 1e6
            if remaining_s <= 0:
                return LegResult("CANCELLED", reason="not sent: the deadline passed before the venue accepted the order", sent_ts=first_ts)
            if not self.breaker.allow():
                return LegResult("REJECT", reason=f"not sent: {self.venue} circuit breaker open", sent_ts=first_ts)
            sent_ts = now_us()
            first_ts = first_ts or sent_ts
            try:
                res = await self.transport.submit(req, remaining_s)
            except Exception as exc:
                answer = classify_error(exc)
                label = answer.value  # read before the checks below narrow `answer` (mypy types .value of a narrowed union as Any)
                if answer in BREAKER_FAILURES:
                    self.breaker.record_failure()
                else:
                    self.breaker.record_neutral()
                if answer is Answer.REJECTED:
                    if isinstance(exc, errors.AuthError):
                        metrics.AUTH_ERRORS.labels(self.venue).inc()
                        log.error("%s refused our credentials (keys or clock skew): %s", self.venue, exc,
                                  extra={"client_order_id": req.client_order_id})
                    return LegResult("REJECT", reason=str(exc), sent_ts=sent_ts, acked_ts=now_us())
                if answer in RESEND:
                    if answer is Answer.RETRY:
                        self.rate_limited += 1
                        metrics.RATE_LIMITED.labels(self.venue).inc()
                    retry_after = exc.retry_after_s if isinstance(exc, errors.RateLimited) else None
                    delay = retry_after if retry_after is not None else backoff.next_delay()
                    if now_us() + int(delay * 1_000_000) >= req.deadline_us:
                        return LegResult("CANCELLED", reason=f"not sent before the deadline: {exc}", sent_ts=first_ts)
                    await asyncio.sleep(delay)
                    continue
                # UNKNOWN or EXISTS: it may have executed. Never send it again: look it up.
                if not isinstance(exc, errors.VenueError):
                    log.exception("unexpected error placing an order; looking it up", extra={"client_order_id": req.client_order_id})
                else:
                    log.warning("order answer %s (%s); looking it up", label, exc, extra={"client_order_id": req.client_order_id})
                metrics.AMBIGUOUS_ANSWERS.labels(self.venue, label).inc()
                found = await self.resolve(req, why=f"{label} answer: {exc}")
                return replace(found, sent_ts=sent_ts)
            self.breaker.record_success()
            return res

    async def resolve(self, req: OrderRequest, *, why: str, until_us: int | None = None) -> LegResult:
        """What became of an order that may have been sent: look it up until `until_us` (default: its deadline +
        the send timeout + grace). A final result as soon as one is found; ACK when it is still pending at the end; CANCELLED when
        a lookup made after the grace does not find it (never executed); UNKNOWN when the lookups fail."""
        until = req.deadline_us + self.send_timeout_us + self.lookup_grace_us if until_us is None else until_us
        pending: LegResult | None = None
        while True:
            asked_at = now_us()
            failed: Exception | None = None
            found: LegResult | None = None
            try:
                found = await self.transport.find(req)
            except Exception as exc:
                failed = exc
                log.warning("lookup failed: %s", exc, extra={"client_order_id": req.client_order_id})
            if found is not None:
                if classify_result(found) is not Answer.PENDING:
                    return found
                pending = found
            if asked_at >= until:
                if failed is None and found is None and pending is None:
                    return LegResult("CANCELLED", reason=f"never executed: not at the venue {self.lookup_grace_us / 1e6:g} s after "
                                     f"its deadline ({why})", acked_ts=now_us())
                if pending is not None and failed is None:
                    return pending
                metrics.UNKNOWN_LEGS.labels(self.venue).inc()
                log.error("order state unknown after lookups until deadline + grace", extra={"client_order_id": req.client_order_id})
                return LegResult("UNKNOWN", reason=f"{why}; lookups failed until deadline + grace: {failed}",
                                 venue_order_id=req.venue_order_id, acked_ts=now_us())
            await asyncio.sleep(max(0.0, min(self.lookup_interval_s, (until - now_us()) / 1e6)))
