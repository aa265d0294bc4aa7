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
    silences: int = 0  # keep-alive lost: no Pong (Polymarket: no PONG) within ARB_FEED_KEEPALIVE_TIMEOUT_S
    coalesced: int = 0  # hand-off updates replaced by a newer state of the same market
    dropped: int = 0  # hand-off refusals (full)
    parse_errors: int = 0  # malformed frames, bad values (negative / non-numeric sizes)
    bad_input: int = 0  # well-formed but unusable: unknown tickers/assets/types, impossible levels
    venue_errors: int = 0  # error replies from the venue
    not_found: int = 0  # Kalshi markets left out of a subscription after error 16 ("Market not found") for them alone
    book_checks: int = 0  # books compared with the venue's REST book
    stale_books: int = 0  # books the check found wrong (RESYNCING, re-snapshotted)
    book_check_errors: int = 0  # REST book requests that failed (never a verdict)

    def as_dict(self) -> dict[str, int]:
        return asdict(self)
