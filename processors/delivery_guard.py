"""Keeps the agent's view of each ticks partition gap-free: fetched records Faust dropped are fetched again.

Faust drops fetched records in a few places around a rebalance (a stream skips events of an older
generation or while flow control is suspended; the fetch loop drops records below its read offset),
assuming a later seek to the committed offsets fetches them again. When the drop comes after that
seek, nothing does: aiokafka's position is past the records and the agent never sees them (measured:
a survivor that took over a dead worker's partitions lost their next ticks and the signals they made;
a restarted worker sat idle after 'Worker ready'; `arb bench chaos --scenario processor-kill` counted
lost signals). Two shapes, both repaired by seeking the partition back to the first missing offset:

- a gap: the agent receives offset o of a partition while it needs e < o. The tick is not processed
  (folded in after the later one, a missing tick would be skipped as already seen); the partition is
  rewound to e. The worker commits the ticks offsets itself, up to what the agent processed (never
  past a missing tick); Faust's own commits, which follow its acks and stall on a dropped record's
  hole, are left out for that topic;
- a silent tail: the fetch position is past the next offset the agent needs and no tick of the
  partition arrived for `stall_s`.

What the agent needs first after an assignment is the partition's committed offset (with none, its log start),
read from the broker by the worker when the rebalance completes, before Faust resumes the partitions
(`started`). Not Faust's own record of it: Faust forgets that at the revocation and learns it
again only once its seek returns, while records already flow (its table recovery resumed the flow); the
agent took a partition's first tick 4 offsets past the committed one in that window, accepted it for want of
a committed offset, and those 4 ticks were never processed (the processor-rebalance scenario). A tick of a
partition whose start is not known is refused, and the partition rewound once it is (`unplaced`).

A partition without a committed offset accepts offset 0 at once; any other first tick is refused and the
partition rewound to its log start, looked up off the start-up path (that lookup waits behind the fetch in
flight, ~250 ms). Accepting whatever arrived first instead lost a partition's first 453 ticks: a worker that
took over a partition no worker had committed yet got its first tick at the end of the log, not the start
(processor-rebalance on a loaded machine; why the consumer started there is not known).

A rewind only repeats ticks: those already folded into a game's state are skipped by offset, and a
repeated signal carries the same signal_id. A gap is never accepted because it persists: the ticks topic has
no offset gaps (plain idempotent producers, no compaction, no transactions), and under load a rewind can take
several stall periods to show (ticks fetched before it keep arriving first). An earlier version accepted a gap
after 3 rewinds to the same offset; on a loaded machine that skipped 123 signals' worth of one partition's
ticks (processor-rebalance). The one way a tick can be missing for good is the broker deleting it (retention)
before it was processed: a partition rewound to the same offset again is checked against its log start, and
goes on from there if the offset was deleted (the worker's `rewind_dropped`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

STALL_S = 2.0  # far above the few ms a fetched tick takes to reach the agent, even behind a full buffer


@dataclass
class DeliveryGuard:
    stall_s: float = STALL_S
    next_offset: dict[int, int] = field(default_factory=dict)  # partition -> offset the agent needs next
    progress_at: dict[int, float] = field(default_factory=dict)  # partition -> when a tick of it was last accepted
    missing: dict[int, int] = field(default_factory=dict)  # partition -> first offset found missing (a gap)
    rewinds: dict[int, tuple[int, float]] = field(default_factory=dict)  # partition -> (offset, when) of its last rewind
    # partition -> the first offset needed in this assignment (None: the group has no committed offset, so its log start)
    start: dict[int, int | None] = field(default_factory=dict)
    unplaced: set[int] = field(default_factory=set)  # partitions with a tick refused for want of a start
    assigned_at: float = 0.0

    def assigned(self, now: float) -> None:
        """A new assignment: what was seen before says nothing about the positions seeked to now."""
        self.next_offset.clear()
        self.progress_at.clear()
        self.missing.clear()
        self.rewinds.clear()
        self.start.clear()
        self.unplaced.clear()
        self.assigned_at = now

    def started(self, starts: Mapping[int, int | None]) -> None:
        """The first offset the agent needs of each partition in this assignment: the committed one (None: none)."""
        self.start.update(starts)

    def accept(self, partition: int, offset: int, now: float) -> bool:
        """Whether the agent may process this tick: False when ticks before it never arrived, or when it is not
        known yet which tick is the first one needed (see `unplaced`)."""
        if partition in self.unplaced or (partition not in self.next_offset and partition not in self.start):
            self.unplaced.add(partition)  # refused until rewound to its start (`rewound`): what came before is missing
            return False
        needed = self.next_offset.get(partition, self.start.get(partition))
        if needed is None and offset != 0:
            # Never committed: the agent needs the partition's log start, which is 0 unless the broker deleted records.
            # A first tick past 0 is refused, and the rewind timer looks the log start up and rewinds there.
            self.unplaced.add(partition)
            return False
        if needed is not None and offset > needed:
            self.missing.setdefault(partition, needed)
            return False
        if offset + 1 > self.next_offset.get(partition, -1):
            self.next_offset[partition] = offset + 1
        if partition in self.missing and offset >= self.missing[partition]:
            del self.missing[partition]
        self.progress_at[partition] = now
        return True

    def expected(self, partition: int) -> int | None:
        return self.next_offset.get(partition)

    def stalled(self, partition: int, position: int | None, expected: int | None, now: float) -> bool:
        """Whether the fetch `position` ran ahead of `expected` (the next offset the agent needs) and no
        tick of the partition arrived for stall_s: the records between were dropped."""
        if position is None or expected is None or position <= expected:
            return False
        return now - self.progress_at.get(partition, self.assigned_at) >= self.stall_s

    def gap_rewind(self, partition: int, now: float) -> int | None:
        """The offset to rewind the partition to for a gap, if one is pending and not just rewound (ticks
        fetched before the last rewind are still on their way and show the same gap)."""
        offset = self.missing.get(partition)
        if offset is None:
            return None
        done = self.rewinds.get(partition)
        if done is not None and done[0] == offset and now - done[1] < self.stall_s:
            return None
        return offset

    def rewound_to(self, partition: int, offset: int) -> bool:
        """Whether the partition's last rewind was to this offset (and it is needed again: still missing)."""
        done = self.rewinds.get(partition)
        return done is not None and done[0] == offset

    def rewound(self, partition: int, offset: int, now: float) -> None:
        self.unplaced.discard(partition)
        self.rewinds[partition] = (offset, now)
        self.next_offset[partition] = offset
        self.progress_at[partition] = now
