"""processors/delivery_guard.py: which ticks the agent may process, and when a partition is rewound."""

from __future__ import annotations

from processors.delivery_guard import DeliveryGuard


def test_contiguous_ticks_are_accepted_from_the_committed_offset() -> None:
    g = DeliveryGuard()
    g.assigned(now=0.0)
    g.started({3: 10})
    assert all(g.accept(3, o, now=1.0) for o in (10, 11, 12))
    assert g.expected(3) == 13
    assert g.accept(3, 11, now=1.0)  # a repeat (after a rewind or a crash): the state's offset skips it


def test_a_gap_is_refused_rewound_once_per_stall_and_caps_commits_until_filled() -> None:
    g = DeliveryGuard(stall_s=2.0)
    g.assigned(now=0.0)
    g.started({5: 20})
    assert g.accept(5, 20, now=0.0)
    assert not g.accept(5, 24, now=0.1)  # 21..23 never arrived: 24 must not be folded in before them
    assert g.gap_rewind(5, now=0.2) == 21
    g.rewound(5, 21, now=0.2)
    assert not g.accept(5, 25, now=0.3)  # fetched before the rewind, still on its way
    assert g.gap_rewind(5, now=0.4) is None  # just rewound: not again yet
    assert [g.accept(5, o, now=0.5) for o in (21, 22, 23, 24)] == [True] * 4
    assert g.gap_rewind(5, now=3.0) is None and g.expected(5) == 25


def test_a_gap_is_never_accepted_however_often_it_is_rewound() -> None:
    # Under load the rewound ticks took longer than three stall periods to arrive; accepting the gap after 3 rewinds
    # skipped them (123 lost signals in one processor-rebalance run). Only the worker's log-start check moves on.
    g = DeliveryGuard(stall_s=1.0)
    g.assigned(now=0.0)
    g.started({0: 7})
    assert g.accept(0, 7, now=0.0)
    t = 0.0
    for n in range(10):
        assert not g.accept(0, 9, now=t)
        assert g.gap_rewind(0, now=t) == 8 and g.rewound_to(0, 8) == (n > 0)
        g.rewound(0, 8, now=t)
        t += 1.0
    assert not g.accept(0, 9, now=t) and g.expected(0) == 8
    assert [g.accept(0, o, now=t) for o in (8, 9)] == [True, True] and g.gap_rewind(0, now=t + 5) is None


def test_first_tick_after_assignment_past_the_committed_offset_is_a_gap() -> None:
    g = DeliveryGuard()
    g.started({1: 40})
    g.accept(1, 50, now=0.0)
    g.assigned(now=10.0)  # what was seen before the rebalance says nothing now
    assert g.expected(1) is None and g.start == {}
    g.started({1: 55})
    assert not g.accept(1, 60, now=10.5)
    assert g.gap_rewind(1, now=10.6) == 55


def test_a_tick_before_the_start_is_known_is_refused_until_rewound_there() -> None:
    # The rebalance of the processor-rebalance scenario: Faust's table recovery had resumed the flow, the committed
    # offset was 343 and the agent's first tick of the partition was 347 before anything knew where it resumed.
    g = DeliveryGuard()
    g.assigned(now=0.0)
    assert not g.accept(1, 347, now=0.1)  # accepted, 343..346 would never be processed
    assert g.unplaced == {1}
    g.started({1: 343})
    g.rewound(1, 343, now=0.2)  # the worker's rewind timer: to the start, now known
    assert g.unplaced == set()
    assert [g.accept(1, o, now=0.3) for o in (343, 344, 345, 346, 347)] == [True] * 5
    assert g.expected(1) == 348


def test_a_partition_the_group_never_committed_starts_at_its_log_start() -> None:
    g = DeliveryGuard()
    g.assigned(now=0.0)
    g.started({2: None, 3: None})
    assert g.accept(2, 0, now=0.1) and g.accept(2, 1, now=0.1)
    assert not g.accept(2, 3, now=0.2)  # and gap-free from there
    # A first tick past 0 (a worker got the end of the log first: its first 453 ticks were lost when it was accepted)
    # is refused until the partition is rewound to its log start (0 here, or later if the broker deleted records).
    assert not g.accept(3, 453, now=0.2) and g.unplaced == {3}
    g.rewound(3, 0, now=0.3)
    assert not g.accept(3, 453, now=0.4) and [g.accept(3, o, now=0.4) for o in (0, 1)] == [True, True]


def test_silent_tail_is_a_drop_after_the_stall_time() -> None:
    g = DeliveryGuard(stall_s=2.0)
    g.assigned(now=100.0)
    g.started({3: 0})
    assert not g.accept(3, 4, now=100.5)  # 0..3 missing
    g2 = DeliveryGuard(stall_s=2.0)
    g2.assigned(now=100.0)
    g2.started({3: 4})
    assert g2.accept(3, 4, now=100.5)
    assert not g2.stalled(3, position=8, expected=5, now=102.4)  # 1.9 s: records may still be on their way
    assert g2.stalled(3, position=8, expected=5, now=102.5)
    assert not g2.stalled(3, position=5, expected=5, now=1000.0)  # everything fetched arrived
    assert not g2.stalled(3, position=None, expected=5, now=1000.0)
    g2.rewound(3, 5, now=102.5)
    assert not g2.stalled(3, position=8, expected=5, now=103.5)
    assert g2.stalled(3, position=8, expected=5, now=104.5)  # rewound and still nothing: again


def test_nothing_since_the_assignment_counts_from_the_assignment() -> None:
    g = DeliveryGuard(stall_s=2.0)
    g.assigned(now=50.0)
    assert not g.stalled(6, position=5, expected=0, now=51.0)
    assert g.stalled(6, position=5, expected=0, now=52.0)



def test_a_partition_refused_for_want_of_a_start_stays_refused_until_rewound() -> None:
    # Found by review: ticks 0 and 1 refused, then the start learnt (no commit: None); tick 2 accepted before the rewind
    # would have been folded in ahead of 0 and 1, which the rewind then replays below the game's state (skipped).
    g = DeliveryGuard()
    g.assigned(now=0.0)
    assert not g.accept(2, 0, now=0.1) and not g.accept(2, 1, now=0.1)
    g.started({2: None})
    assert not g.accept(2, 2, now=0.2)
    g.rewound(2, 0, now=0.3)
    assert [g.accept(2, o, now=0.4) for o in (0, 1, 2)] == [True] * 3
