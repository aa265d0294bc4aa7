"""Finds ticks partitions whose records were fetched but never reached the agent, so they can be rewound.

Faust drops fetched records in a few places around a rebalance (a stream skips events of an older
generation or while flow control is suspended; the fetch loop drops records below its read offset),
assuming a later seek to the committed offsets fetches them again. When the drop comes after that
seek, nothing does: aiokafka's position is past the records, the agent never sees them, and the
partition stays silent until new ticks arrive (measured: a survivor that took over a dead worker's
partitions lost their next ticks, and with them signals; `arb bench chaos --scenario processor-kill`
counted lost signals). The guard records, per partition, the offset after the last tick the agent
handled; a partition whose fetch position is ahead of that with no tick of it handled for `stall_s`
is rewound to it. A rewind only ever repeats ticks: those already folded into a game's state are
skipped by offset, and a repeated signal carries the same signal_id.
"""

from __future__ import annotations

from dataclasses import dataclass, field

STALL_S = 2.0  # far above the few ms a fetched tick takes to reach the agent, even behind a full buffer


@dataclass
class DeliveryGuard:
    stall_s: float = STALL_S
    next_offset: dict[int, int] = field(default_factory=dict)  # partition -> offset after the last handled tick
    progress_at: dict[int, float] = field(default_factory=dict)  # partition -> when a tick of it was last handled
    assigned_at: float = 0.0

    def assigned(self, now: float) -> None:
        """A new assignment: what was handled before says nothing about the positions seeked to now."""
        self.next_offset.clear()
        self.progress_at.clear()
        self.assigned_at = now

    def handled(self, partition: int, offset: int, now: float) -> None:
        if offset + 1 > self.next_offset.get(partition, -1):
            self.next_offset[partition] = offset + 1
        self.progress_at[partition] = now

    def expected(self, partition: int) -> int | None:
        return self.next_offset.get(partition)

    def stalled(self, partition: int, position: int | None, expected: int | None, now: float) -> bool:
        """Whether the fetch `position` ran ahead of `expected` (the next offset the agent needs) and no
        tick of the partition was handled for stall_s: the records between were dropped."""
        if position is None or expected is None or position <= expected:
            return False
        return now - self.progress_at.get(partition, self.assigned_at) >= self.stall_s

    def rewound(self, partition: int, offset: int, now: float) -> None:
        self.next_offset[partition] = offset
        self.progress_at[partition] = now
