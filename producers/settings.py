"""Feed settings (ARB_FEED_*). Venue URLs and credentials live in venues/<venue>/settings.py, not here."""

from __future__ import annotations

from dataclasses import dataclass

from core.config import setting


@dataclass(frozen=True)
class FeedSettings:
    silence_s: float = setting("ARB_FEED_SILENCE_S", 30.0,
                               "Seconds without a data frame after which a feed marks its books STALE and reconnects "
                               "(venue pings do not count: a socket can stay open and deliver nothing).")
    depth: int = setting("ARB_FEED_DEPTH", 10, "Price levels per side carried in each Tick.")
    backoff_base_s: float = setting("ARB_FEED_BACKOFF_BASE_S", 0.5, "Reconnect backoff: first delay ceiling (full jitter).")
    backoff_cap_s: float = setting("ARB_FEED_BACKOFF_CAP_S", 30.0, "Reconnect backoff: maximum delay.")
    connect_timeout_s: float = setting("ARB_FEED_CONNECT_TIMEOUT_S", 10.0, "Timeout of one WebSocket connect + handshake.")
    poly_ping_s: float = setting("ARB_FEED_POLY_PING_S", 10.0,
                                 "Interval of the text PING Polymarket requires (it drops silent clients after ~10 s).")
    linger_ms: int = setting("ARB_FEED_LINGER_MS", 2,
                             "linger.ms of the tick producer: the ticks of a burst of book updates that arrive within it "
                             "leave in one produce request (0: one request per tick), at the cost of up to this long "
                             "for the first of them.")
    handoff_capacity: int = setting("ARB_FEED_HANDOFF_CAPACITY", 10_000,
                                    "Most distinct markets waiting in the feed->Kafka hand-off; updates of a waiting "
                                    "market replace it (coalesced), so memory stays bounded under overload.")
