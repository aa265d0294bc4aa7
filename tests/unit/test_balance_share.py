"""Issue 26: executors of one group share each venue's balance and the account's order rate by the `signals`
partitions they own (executor/balances.py `share`/`budget`, executor/admission.py `order_rate`/`OrderRate`)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from executor.admission import MAX_LEGS, OrderRate, order_rate
from executor.balances import Balances, budget, insufficient, share

USD = 1_000_000


def test_share_of_nothing_all_and_a_balance_the_partitions_do_not_divide() -> None:
    assert share(100 * USD, 0, 12) == 0
    assert share(100 * USD, 12, 12) == 100 * USD
    assert share(100, 1, 3) == 33 and share(100, 2, 3) == 66  # floored: 99 of 100 used by the three thirds
    assert share(7, 5, 12) == 2  # 2.91...
    assert share(100, 13, 12) == 100 and share(100, -1, 12) == 0  # clamped to what exists
    assert share(-10, 1, 3) == -4  # a negative figure (fees charged after the read) floors further down
    with pytest.raises(ValueError):
        share(1, 0, 0)


@given(st.integers(0, 10**15), st.lists(st.integers(0, 12), min_size=1, max_size=12), st.integers(0, 10**12))
def test_the_parts_never_add_up_to_more_than_the_balance(balance: int, cuts: list[int], spent: int) -> None:
    # Any split of 12 partitions between executors: their parts, each computed alone, add up to at most the balance.
    owned, left = [], 12
    for c in cuts:
        take = min(c, left)
        owned.append(take)
        left -= take
    assert sum(share(balance, o, 12) for o in owned) <= balance
    assert share(balance, 12, 12) == balance
    assert budget(balance, spent, 12, 12) == balance  # one executor owning everything: its own spending cancels out
    assert budget(balance, spent, 0, 12) == -spent


def test_the_reason_names_this_executors_share() -> None:
    assert insufficient({"KALSHI": 30 * USD}, {"KALSHI": 100 * USD}, {}, owned=(12, 12)) is None
    assert insufficient({"KALSHI": 30 * USD}, {"KALSHI": 100 * USD}, {}, owned=(4, 12)) is None  # 33.333333 covers 30
    assert insufficient({"KALSHI": 30 * USD}, {"KALSHI": 100 * USD}, {"KALSHI": 4 * USD}, owned=(4, 12)) == \
        "insufficient KALSHI balance: need 30.000000 USD, have 29.333333 USD (this executor's share: 4 of 12 signals partitions)"
    # Recent spending counts in full against this executor's part: 4/12 of (70 + 30) - 30 = 3.33 USD left.
    assert insufficient({"KALSHI": 4 * USD}, {"KALSHI": 70 * USD}, {}, {"KALSHI": 30 * USD}, owned=(4, 12)) == \
        "insufficient KALSHI balance: need 4.000000 USD, have 3.333333 USD (this executor's share: 4 of 12 signals partitions)"


class Venue:
    """One venue account the executors share: what it still holds, and a figure any executor may read."""

    def __init__(self, balance: int) -> None:
        self.balance = balance

    async def read(self) -> int:
        return self.balance


async def test_an_executor_that_spent_and_read_again_cannot_take_the_others_part() -> None:
    # P = 2, one partition each, 100 USD. A holds 50 (a signal in flight, nothing drawn yet); B spends its 50 and
    # reads 50. Without counting its own spending in full, B would get floor(50 / 2) = 25 more: 75 promised
    # against 50 at the venue.
    venue = Venue(100 * USD)
    a = Balances({"KALSHI": venue.read}, refresh_s=3600, owned=lambda: (1, 2))
    b = Balances({"KALSHI": venue.read}, refresh_s=3600, owned=lambda: (1, 2))
    await a.refresh()
    await b.refresh()
    assert a.reserve("a1", {"KALSHI": 50 * USD}) is None
    assert b.reserve("b1", {"KALSHI": 50 * USD}) is None
    assert b.reserve("b2", {"KALSHI": 1}) is not None  # its part is used up
    venue.balance -= 50 * USD  # b1 filled
    b.release("b1")
    await b.refresh()
    assert b.in_flight() == {} and b.recent_spent() == {"KALSHI": 50 * USD}
    assert b.reserve("b3", {"KALSHI": 1}) is not None
    assert a.in_flight()["KALSHI"] <= venue.balance  # what may still be drawn fits what is there


async def test_recent_spending_stops_counting_after_its_window() -> None:
    now = [0.0]
    venue = Venue(100 * USD)
    b = Balances({"KALSHI": venue.read}, refresh_s=3600, max_age_s=1e9, owned=lambda: (1, 2), spent_window_s=200, clock=lambda: now[0])
    await b.refresh()
    assert b.reserve("b1", {"KALSHI": 50 * USD}) is None
    venue.balance -= 40 * USD  # filled for less than its worst case
    b.release("b1")
    await b.refresh()
    assert b.recent_spent() == {"KALSHI": 50 * USD}  # held at the worst case: never less than what was spent
    assert b.check({"KALSHI": 5 * USD}) is None and b.check({"KALSHI": 6 * USD}) is not None  # (60 + 50) / 2 - 50 = 5
    now[0] = 201.0  # every signal admitted on a figure from before that spending is over: rebased on the figure alone
    assert b.recent_spent() == {} and b.check({"KALSHI": 30 * USD}) is None and b.check({"KALSHI": 31 * USD}) is not None


async def test_a_signal_that_moved_no_money_is_not_recent_spending() -> None:
    venue = Venue(100 * USD)
    b = Balances({"KALSHI": venue.read}, refresh_s=3600, owned=lambda: (1, 2))
    await b.refresh()
    assert b.reserve("b1", {"KALSHI": 50 * USD}) is None
    b.release("b1", spent=False)  # NOT_FILLED: its IOC legs filled nothing
    await b.refresh()
    assert b.in_flight() == {} and b.recent_spent() == {}
    assert b.check({"KALSHI": 50 * USD}) is None


@pytest.mark.parametrize("seed", range(40))
async def test_executors_sharing_a_venue_never_promise_more_than_it_holds(seed: int) -> None:
    """A model of the group: executors with fixed partition counts admit signals, their orders draw at the venue
    some time later (any amount up to the worst case; some executors' orders are slow to draw, like a delayed
    Polymarket leg), outcomes land and balance reads happen in any order. At every step what admitted signals
    may still draw fits the venue's balance: the venue never refuses an order for want of funds. (The window of
    recent spending covers the whole run: no read here is older than it.)"""
    rnd = random.Random(seed)
    venue = Venue(rnd.randrange(50, 300) * USD)
    splits = rnd.choice([(6, 6), (11, 1), (4, 4, 4), (5, 3, 4), (1, 1, 10), (7, 5)])
    execs = [Balances({"KALSHI": venue.read}, refresh_s=3600, owned=lambda o=o: (o, 12)) for o in splits]  # type: ignore[misc]
    slow = [rnd.choice([0.05, 1.0]) for _ in splits]  # chance that one of its signals draws when picked
    for e in execs:
        await e.refresh()
    undrawn: dict[str, tuple[int, int]] = {}  # signal -> (executor, worst case): admitted, nothing drawn yet
    drawn: list[tuple[int, str]] = []  # drawn, outcome not released yet
    n = 0
    for _ in range(300):
        step = rnd.random()
        if step < 0.35:
            k, n = rnd.randrange(len(execs)), n + 1
            need = rnd.randrange(1, 30) * USD
            if execs[k].reserve(f"s{n}", {"KALSHI": need}) is None:
                undrawn[f"s{n}"] = (k, need)
        elif step < 0.6 and undrawn:
            sid = rnd.choice(sorted(undrawn))
            k, need = undrawn[sid]
            if rnd.random() > slow[k]:
                continue
            del undrawn[sid]
            amount = rnd.choice([need, need, rnd.randrange(0, need + 1)])
            assert amount <= venue.balance, f"the venue would refuse {sid}: {amount} > {venue.balance}"
            venue.balance -= amount
            drawn.append((k, sid))
        elif step < 0.8 and drawn:
            k, sid = drawn.pop(rnd.randrange(len(drawn)))
            execs[k].release(sid)
        else:
            await execs[rnd.randrange(len(execs))].refresh()
        assert sum(need for _, need in undrawn.values()) <= venue.balance


def test_order_rate_is_the_partitions_share_with_a_burst_of_one_signal() -> None:
    assert order_rate(20, 12, 12) == (20.0, 20.0)
    assert order_rate(20, 6, 12) == (10.0, 10.0)
    rate, burst = order_rate(20, 1, 12)
    assert rate == pytest.approx(20 / 12) and burst == MAX_LEGS  # one partition: a three-leg signal still fits
    assert order_rate(20, 0, 12) == (0.0, float(MAX_LEGS))


def test_executors_together_send_no_more_than_the_accounts_rate() -> None:
    # Three executors owning 1, 5 and 6 of 12 partitions try to send an order every millisecond for 10 s, and the
    # partitions move (1/5/6 -> 6/6/0) half-way: together at most 20 orders/s plus each one's first burst.
    now = [0.0]
    owned = [1, 5, 6]
    rates = [OrderRate(20, lambda i=i: (owned[i], 12), clock=lambda: now[0]) for i in range(3)]  # type: ignore[misc]
    sent = 0
    for ms in range(10_000):
        now[0] = ms / 1000
        if ms == 5000:
            owned[:] = [6, 6, 0]
        sent += sum(r.take(1) is None for r in rates)
    bursts = MAX_LEGS + 5 * 20 / 12 + 6 * 20 / 12  # each one's burst at the start (the move finds the buckets empty)
    assert 20 * 10 <= sent <= 20 * 10 + bursts + 1
    assert rates[2].take(1) == "max orders per second (20; this executor's share 0.00/s: 0 of 12 signals partitions)"
