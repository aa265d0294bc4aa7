"""The one answer classifier: what a venue's answer to an order means for the executor.

An order's HTTP exchange can end without telling whether the order executed. Each answer belongs to one
class, and the class, not the status code, decides what happens (design table "Ambiguous venue answers"):

| class     | answers                                                        | the executor            |
|-----------|----------------------------------------------------------------|-------------------------|
| FINAL     | Kalshi 201 with counts; Polymarket matched/unmatched + amounts | record result and fills |
| PENDING   | Polymarket `delayed` (accepted, matches later)                 | follow up by lookup     |
| REJECTED  | 400/404 with a venue error, errorMsg in a 200, 401/403         | REJECT with the text    |
| RETRY     | 429; 503 + Retry-After (cancel-only)                           | back off, re-send before the deadline |
| NOT_SENT  | connection refused / DNS / connect timeout                     | may re-send before the deadline |
| UNKNOWN   | other 5xx, timeout, reset after sending, unparsable or incomplete answer, any unexpected error | never re-send; look up until deadline + grace |
| EXISTS    | Kalshi 409 duplicate id; Polymarket INVALID_ORDER_DUPLICATED   | look up; never re-send  |

Kalshi answers 409 only while the first order is open; an IOC is never open, so a re-sent IOC that had
executed executes again: after any answer that may mean "sent", the order is never sent again.
"""

from __future__ import annotations

from enum import Enum

from executor.orders import LegResult
from venues import errors


class Answer(Enum):
    FINAL = "final"
    PENDING = "pending"
    REJECTED = "rejected"
    RETRY = "retry"
    NOT_SENT = "not_sent"
    UNKNOWN = "unknown"
    EXISTS = "exists"


POSSIBLY_SENT = frozenset({Answer.UNKNOWN, Answer.EXISTS})
# The venue did not get the order: it may be sent again before the deadline. Exactly the answers to the venue
# errors whose `retriable` (core.errors.ArbError) is true; tests/unit/test_venue_client.py keeps the two in step.
RESEND = frozenset({Answer.RETRY, Answer.NOT_SENT})
# Answers that say the venue is unhealthy (the circuit breaker counts them). A 429 is back-pressure and a
# 401 is our keys or clock: neither is the venue failing.
BREAKER_FAILURES = frozenset({Answer.UNKNOWN, Answer.NOT_SENT})


def classify_error(exc: BaseException) -> Answer:
    """The class of an exception raised while sending an order."""
    if isinstance(exc, errors.RateLimited):
        return Answer.RETRY
    if isinstance(exc, errors.NotSent):
        return Answer.NOT_SENT
    if isinstance(exc, errors.Duplicate):
        return Answer.EXISTS
    if isinstance(exc, (errors.Rejected, errors.AuthError)):
        return Answer.REJECTED
    # ServerError, Unknown, and anything unexpected after the request may have left: it may have executed.
    return Answer.UNKNOWN


def classify_result(res: LegResult) -> Answer:
    """The class of a result the venue (or a lookup) returned."""
    if res.type in ("FILL", "CANCELLED"):
        return Answer.FINAL
    if res.type == "REJECT":
        return Answer.REJECTED
    if res.type == "ACK":
        return Answer.PENDING  # accepted, not final yet (Polymarket `delayed`; an IOC seen resting)
    return Answer.UNKNOWN
