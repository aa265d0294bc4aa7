from executor.breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_opens_after_threshold_rejects_then_half_opens_one_probe_and_closes() -> None:
    clock = Clock()
    b = CircuitBreaker("KALSHI", threshold=3, cooldown_s=5, now=clock)
    for _ in range(2):
        b.record_failure()
    assert b.state == CLOSED and b.allow()
    b.record_failure()
    assert b.state == OPEN and not b.allow() and b.is_open()
    clock.t = 5.0
    assert b.allow() and b.state == HALF_OPEN
    assert not b.allow(), "exactly one probe while half-open"
    b.record_success()
    assert b.state == CLOSED and b.allow() and b.trips == 1


def test_probe_failure_reopens() -> None:
    clock = Clock()
    b = CircuitBreaker("KALSHI", threshold=1, cooldown_s=1, now=clock)
    b.record_failure()
    clock.t = 1.0
    assert b.allow()
    b.record_failure()
    assert b.state == OPEN and not b.allow() and b.trips == 2
    clock.t = 2.0
    assert b.allow()


def test_rate_limit_is_neutral_never_a_failure() -> None:
    clock = Clock()
    b = CircuitBreaker("KALSHI", threshold=1, cooldown_s=1, now=clock)
    for _ in range(50):
        b.record_neutral()
    assert b.state == CLOSED and b.failures == 0
    b.record_failure()
    clock.t = 1.0
    assert b.allow()
    b.record_neutral()  # a 429 on the probe releases it without deciding
    assert b.state == HALF_OPEN and b.allow()


def test_success_resets_consecutive_count() -> None:
    b = CircuitBreaker("X", threshold=2, cooldown_s=1, now=Clock())
    b.record_failure()
    b.record_success()
    b.record_failure()
    assert b.state == CLOSED
