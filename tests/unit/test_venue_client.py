"""RetryingVenueClient: each class of venue answer (executor/answers.py) leads to the one action design.md's
table "Ambiguous venue answers" prescribes. The transport is scripted: each test says what the venue answers
to each send and each lookup, and counts the sends (a re-sent IOC can execute twice at Kalshi)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from core.units import now_us
from executor.answers import RESEND, Answer, classify_error, classify_result
from executor.breaker import CircuitBreaker
from executor.orders import LegResult, OrderRequest
from executor.venue_client import RetryingVenueClient
from venues import errors

FILL = LegResult("FILL", filled=1000, fill_cost=4_500_000, venue_order_id="o1")


class Scripted:
    """submit() answers from `sends` (an exception is raised), find() from `finds` (the last one repeats)."""

    venue = "KALSHI"

    def __init__(self, sends: list[Any], finds: list[Any] | None = None) -> None:
        self.sends = list(sends)
        self.finds = list(finds or [None])
        self.submitted = 0
        self.looked_up = 0

    async def sign(self, req: OrderRequest) -> OrderRequest:
        return req

    async def submit(self, req: OrderRequest, deadline_s: float) -> LegResult:
        self.submitted += 1
        answer = self.sends.pop(0) if len(self.sends) > 1 else self.sends[0]
        if isinstance(answer, BaseException):
            raise answer
        assert isinstance(answer, LegResult)
        return answer

    async def find(self, req: OrderRequest) -> LegResult | None:
        self.looked_up += 1
        answer = self.finds.pop(0) if len(self.finds) > 1 else self.finds[0]
        if isinstance(answer, BaseException):
            raise answer
        return answer


def _req(deadline_ms: int = 150) -> OrderRequest:
    return OrderRequest("sig:0:0", "sig", "g", 0, 0, "KALSHI", "T", "T", "YES", "BUY", 4500, 1000, now_us() + deadline_ms * 1000)


def _client(t: Scripted, grace_s: float = 0.2, breaker: CircuitBreaker | None = None) -> RetryingVenueClient:
    return RetryingVenueClient(t, breaker or CircuitBreaker("KALSHI", threshold=100), backoff_base_s=0.005, backoff_cap_s=0.01,
                               lookup_grace_s=grace_s, lookup_interval_s=0.01)


def _run(coro_fn: Callable[[], Any]) -> Any:
    return asyncio.run(coro_fn())


@pytest.mark.parametrize("error", [errors.Unknown("KALSHI", "timeout"), errors.ServerError("KALSHI", "HTTP 500", status=500),
                                   RuntimeError("unparsable answer"), errors.Duplicate("KALSHI", "409", status=409)])
def test_a_possibly_sent_order_is_never_sent_again_and_a_late_lookup_finds_its_fill(error: Exception) -> None:
    """Defect 1: the order executed, the answer was lost, the venue lists it only after a lag. It must be
    sent exactly once and its fill reported (never CANCELLED, never a second execution)."""
    t = Scripted([error, FILL], finds=[None, None, None, FILL])
    res = _run(lambda: _client(t).place(_req()))
    assert (res.type, res.filled, t.submitted) == ("FILL", 1000, 1)
    assert t.looked_up == 4


def test_a_possibly_sent_order_still_looked_up_after_its_deadline() -> None:
    """The lag outlasts the signal's deadline: lookups go on until deadline + grace."""
    t = Scripted([errors.Unknown("KALSHI", "timeout")], finds=[None] * 15 + [FILL])
    res = _run(lambda: _client(t, grace_s=1.0).place(_req(deadline_ms=20)))
    assert (res.type, res.filled, t.submitted) == ("FILL", 1000, 1)


def test_not_found_after_the_grace_means_never_executed() -> None:
    t = Scripted([errors.Unknown("KALSHI", "timeout")], finds=[None])
    started = now_us()
    req = _req(deadline_ms=30)
    res = _run(lambda: _client(t, grace_s=0.1).place(req))
    assert (res.type, res.filled, t.submitted) == ("CANCELLED", 0, 1)
    assert "never executed" in (res.reason or "")
    assert now_us() >= req.deadline_us + 100_000 > started  # the deciding lookup was made after deadline + grace


def test_lookups_failing_until_the_grace_make_it_unknown() -> None:
    t = Scripted([errors.ServerError("KALSHI", "HTTP 502", status=502)], finds=[errors.Unknown("KALSHI", "lookup timeout")])
    res = _run(lambda: _client(t, grace_s=0.05).place(_req(deadline_ms=20)))
    assert (res.type, t.submitted) == ("UNKNOWN", 1)


def test_one_good_lookup_before_the_grace_does_not_decide_if_the_last_fails() -> None:
    """'Not found' only counts from a lookup made after the grace; a failing last lookup leaves UNKNOWN."""
    t = Scripted([errors.Unknown("KALSHI", "timeout")], finds=[None, None] + [errors.Unknown("KALSHI", "down")])
    res = _run(lambda: _client(t, grace_s=0.1).place(_req(deadline_ms=20)))
    assert res.type == "UNKNOWN"


@pytest.mark.parametrize("error", [errors.RateLimited("KALSHI", "429"), errors.NotSent("KALSHI", "connection refused")])
def test_not_accepted_answers_are_sent_again_before_the_deadline(error: Exception) -> None:
    t = Scripted([error, error, FILL])
    res = _run(lambda: _client(t).place(_req(deadline_ms=500)))
    assert (res.type, t.submitted, t.looked_up) == ("FILL", 3, 0)


def test_not_accepted_until_the_deadline_is_cancelled_without_lookup() -> None:
    t = Scripted([errors.RateLimited("KALSHI", "429", retry_after_s=1.0)])
    res = _run(lambda: _client(t).place(_req(deadline_ms=100)))
    assert (res.type, t.submitted, t.looked_up) == ("CANCELLED", 1, 0)  # Retry-After past the deadline: not sent again


def test_a_401_is_a_rejection_and_not_a_breaker_failure() -> None:
    """Defect 5: a 401 (keys, or a skewed clock in the signature) is a definite "not accepted"."""
    breaker = CircuitBreaker("KALSHI", threshold=1)
    t = Scripted([errors.AuthError("KALSHI", "HTTP 401 timestamp outside window", status=401)])
    res = _run(lambda: _client(t, breaker=breaker).place(_req()))
    assert (res.type, t.submitted, t.looked_up) == ("REJECT", 1, 0)
    assert "401" in (res.reason or "")
    assert breaker.state == "closed"


def test_unknown_answers_count_toward_the_breaker_and_rejections_do_not() -> None:
    breaker = CircuitBreaker("KALSHI", threshold=2)
    _run(lambda: _client(Scripted([errors.Rejected("KALSHI", "400")]), breaker=breaker).place(_req()))
    _run(lambda: _client(Scripted([errors.RateLimited("KALSHI", "429"), FILL]), breaker=breaker).place(_req()))
    assert breaker.failures == 0
    _run(lambda: _client(Scripted([errors.Unknown("KALSHI", "t")], finds=[FILL]), breaker=breaker).place(_req()))
    assert breaker.failures == 1


def test_a_pending_answer_is_returned_as_pending() -> None:
    ack = LegResult("ACK", venue_order_id="0xabc")
    t = Scripted([ack])
    res = _run(lambda: _client(t).place(_req()))
    assert res.type == "ACK" and classify_result(res) is Answer.PENDING


def test_resolve_follows_a_pending_order_until_it_is_final() -> None:
    t = Scripted([FILL], finds=[LegResult("ACK")] * 5 + [FILL])
    res = _run(lambda: _client(t).resolve(_req(), why="pending", until_us=now_us() + 2_000_000))
    assert (res.type, res.filled, t.submitted) == ("FILL", 1000, 0)


def test_resolve_of_an_order_still_pending_at_the_end_stays_pending() -> None:
    t = Scripted([FILL], finds=[LegResult("ACK")])
    res = _run(lambda: _client(t).resolve(_req(), why="pending", until_us=now_us() + 50_000))
    assert res.type == "ACK"


@pytest.mark.parametrize(("error", "answer"), [
    (errors.RateLimited("V", "429"), Answer.RETRY), (errors.RateLimited("V", "503", status=503, retry_after_s=5), Answer.RETRY),
    (errors.NotSent("V", "refused"), Answer.NOT_SENT), (errors.Duplicate("V", "409"), Answer.EXISTS),
    (errors.Rejected("V", "400"), Answer.REJECTED), (errors.AuthError("V", "401", status=401), Answer.REJECTED),
    (errors.ServerError("V", "500"), Answer.UNKNOWN), (errors.Unknown("V", "timeout"), Answer.UNKNOWN),
    (KeyError("fill_count"), Answer.UNKNOWN),
])
def test_classify_error(error: Exception, answer: Answer) -> None:
    assert classify_error(error) is answer


def _subclasses(cls: type[errors.VenueError]) -> list[type[errors.VenueError]]:
    return [cls, *(c for sub in cls.__subclasses__() for c in _subclasses(sub))]


def test_retriable_venue_errors_are_exactly_those_sent_again() -> None:
    """`retriable` (core.errors.ArbError) on a venue error says what executor/answers.py decides: the order may be sent
    again (RateLimited, NotSent) or never (any answer after which the venue may have it). A caller reading the flag
    instead of the classifier must not re-send an order the executor would only look up."""
    import executor.exceptions  # noqa: F401  (its venue errors are subclasses too)

    disagree = {c.__name__: getattr(c, "retriable", None) for c in _subclasses(errors.VenueError)
                if getattr(c("V", "m"), "retriable", None) is not (classify_error(c("V", "m")) in RESEND)}
    assert disagree == {}


def test_a_request_sent_just_before_its_deadline_is_looked_up_for_its_whole_send_timeout() -> None:
    """Review finding: a timed-out POST sent just before the deadline can reach the venue up to the HTTP timeout
    later; "not found" must only count after deadline + send timeout + grace, or its fill is lost."""
    t = Scripted([errors.Unknown("KALSHI", "timeout")], finds=[None] * 25 + [FILL])  # listed ~0.25 s after the deadline
    client = RetryingVenueClient(t, CircuitBreaker("KALSHI", threshold=100), backoff_base_s=0.005, backoff_cap_s=0.01,
                                 lookup_grace_s=0.05, lookup_interval_s=0.01, send_timeout_s=0.5)
    res = _run(lambda: client.place(_req(deadline_ms=5)))
    assert (res.type, res.filled, t.submitted) == ("FILL", 1000, 1)
