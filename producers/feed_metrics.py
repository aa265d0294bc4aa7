"""Counters of one feed, a plain dataclass of ints (exported by whoever runs the feed)."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class FeedMetrics:
    frames: int = 0  # frames read off the socket (data and control)
    ticks: int = 0  # ticks handed off
    gaps: int = 0  # Kalshi seq gaps
    resyncs: int = 0  # re-snapshot / resubscribe requests sent
    reconnects: int = 0  # connection attempts after the first
    silences: int = 0  # silence bound exceeded
    coalesced: int = 0  # hand-off updates replaced by a newer state of the same market
    dropped: int = 0  # hand-off refusals (full)
    parse_errors: int = 0  # malformed frames, bad values (negative / non-numeric sizes)
    bad_input: int = 0  # well-formed but unusable: unknown tickers/assets/types, impossible levels
    venue_errors: int = 0  # error replies from the venue

    def as_dict(self) -> dict[str, int]:
        return asdict(self)
