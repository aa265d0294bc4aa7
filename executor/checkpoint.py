"""Where recovery of partition p starts: its checkpoint, committed with every results transaction.

`orders` and `outcomes` are compacted and keep one record per key forever, so reading partition p from
the beginning on every assignment takes longer as history grows. Recovery only needs the records of
signals that can still be unresolved, plus those recent enough to recognise a signal delivered twice.
Each results transaction that moves the `signals` offset also stores, in that offset's commit metadata
(atomic with it), the positions in `orders` p and `outcomes` p before which every signal is resolved:
the ends known when the oldest still-unresolved signal wrote its first INTENT. A new owner starts there,
or at the dedup horizon (records younger than it, by the broker's time index), whichever is earlier.
No checkpoint (a new partition, or records from an older version): the beginning.
"""

from __future__ import annotations

PREFIX = "arb-recovery:v1"


def format_checkpoint(orders_from: int, outcomes_from: int) -> str:
    return f"{PREFIX};orders={orders_from};outcomes={outcomes_from}"


def parse_checkpoint(metadata: str | None) -> tuple[int, int] | None:
    """(orders_from, outcomes_from), or None when the metadata is not ours or not well formed."""
    if not metadata or not metadata.startswith(PREFIX + ";"):
        return None
    try:
        fields = dict(item.split("=", 1) for item in metadata.split(";")[1:])
        orders, outcomes = int(fields["orders"]), int(fields["outcomes"])
    except (KeyError, ValueError):
        return None
    if orders < 0 or outcomes < 0:
        return None
    return orders, outcomes


def start_offsets(checkpoint: tuple[int, int] | None, horizon: tuple[int, int] | None) -> tuple[int, int] | None:
    """The earlier of the checkpoint and the dedup horizon, per topic; None (read everything) without a
    checkpoint."""
    if checkpoint is None:
        return None
    if horizon is None:
        return checkpoint
    return min(checkpoint[0], horizon[0]), min(checkpoint[1], horizon[1])
