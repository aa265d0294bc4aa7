"""processors/delivery_guard.py: when a ticks partition counts as having dropped fetched records."""

from __future__ import annotations

from processors.delivery_guard import DeliveryGuard


def test_position_ahead_with_no_progress_for_the_stall_time_is_a_drop() -> None:
    g = DeliveryGuard(stall_s=2.0)
    g.assigned(now=100.0)
    g.handled(3, 4, now=100.5)  # offsets 0..4 reached the agent
    assert g.expected(3) == 5
    assert not g.stalled(3, position=8, expected=5, now=102.4)  # 1.9 s: records may still be on their way
    assert g.stalled(3, position=8, expected=5, now=102.5)


def test_position_not_ahead_is_never_a_drop() -> None:
    g = DeliveryGuard(stall_s=2.0)
    g.assigned(now=0.0)
    g.handled(1, 9, now=0.0)
    assert not g.stalled(1, position=10, expected=10, now=1000.0)  # everything fetched was handled
    assert not g.stalled(1, position=None, expected=10, now=1000.0)
    assert not g.stalled(1, position=12, expected=None, now=1000.0)


def test_a_partition_nothing_reached_since_the_assignment_counts_from_the_assignment() -> None:
    g = DeliveryGuard(stall_s=2.0)
    g.handled(6, 40, now=10.0)
    g.assigned(now=50.0)  # what was handled before the rebalance says nothing about positions now
    assert g.expected(6) is None
    assert not g.stalled(6, position=5, expected=0, now=51.0)
    assert g.stalled(6, position=5, expected=0, now=52.0)


def test_handling_older_offsets_again_keeps_the_furthest_and_counts_as_progress() -> None:
    g = DeliveryGuard(stall_s=2.0)
    g.assigned(now=0.0)
    g.handled(2, 7, now=1.0)
    g.handled(2, 3, now=5.0)  # a repeat after a rewind
    assert g.expected(2) == 8
    assert not g.stalled(2, position=9, expected=8, now=6.0)


def test_a_rewind_restarts_the_clock_at_the_rewound_offset() -> None:
    g = DeliveryGuard(stall_s=2.0)
    g.assigned(now=0.0)
    g.handled(8, 3, now=0.0)
    assert g.stalled(8, position=8, expected=4, now=3.0)
    g.rewound(8, 4, now=3.0)
    assert g.expected(8) == 4
    assert not g.stalled(8, position=8, expected=4, now=4.0)
    assert g.stalled(8, position=8, expected=4, now=5.0)  # rewound and still nothing arrived: again
