"""Feed settings (ARB_FEED_*). Venue URLs and credentials live in venues/<venue>/settings.py, not here."""

from __future__ import annotations

from dataclasses import dataclass

from core.config import setting


@dataclass(frozen=True)
class FeedSettings:
    depth: int = setting("ARB_FEED_DEPTH", 10, "Price levels per side carried in each Tick.")
    backoff_base_s: float = setting("ARB_FEED_BACKOFF_BASE_S", 0.5, "Reconnect backoff: first delay ceiling (full jitter).")
    backoff_cap_s: float = setting("ARB_FEED_BACKOFF_CAP_S", 30.0, "Reconnect backoff: maximum delay.")
    connect_timeout_s: float = setting("ARB_FEED_CONNECT_TIMEOUT_S", 10.0, "Timeout of one WebSocket connect + handshake.")
    ws_ping_s: float = setting("ARB_FEED_WS_PING_S", 10.0,
                               "Interval of the WebSocket Ping control frames the feeds send (Kalshi answers them with "
                               "Pong; so does Polymarket, whose official SDK relies on them).")
    poly_ping_s: float = setting("ARB_FEED_POLY_PING_S", 10.0,
                                 "Interval of the text PING Polymarket requires (it drops silent clients after ~10 s).")
    keepalive_timeout_s: float = setting("ARB_FEED_KEEPALIVE_TIMEOUT_S", 30.0,
                                         "Liveness: a feed whose Ping gets no Pong (and, on Polymarket, whose text PING "
                                         "gets no PONG) for this long reconnects. Data silence never counts: quiet "
                                         "markets send nothing.")
    snapshot_timeout_s: float = setting("ARB_FEED_SNAPSHOT_TIMEOUT_S", 30.0,
                                        "Seconds a book may wait for the snapshot it needs (Kalshi snapshot, Polymarket "
                                        "initial dump) before the feed asks again (Kalshi get_snapshot) or reconnects "
                                        "(Polymarket; Kalshi when a book the book check found wrong gets none).")
    book_check_s: float = setting("ARB_FEED_BOOK_CHECK_S", 30.0,
                                  "A book unchanged on the socket for this long is compared with the venue's REST book "
                                  "(top ARB_FEED_DEPTH levels), and again every this long while it stays quiet: catches "
                                  "a socket that answers pings but has stopped delivering changes.")
    book_checks_per_s: float = setting("ARB_FEED_BOOK_CHECKS_PER_S", 2.0,
                                       "Most REST book requests per second of one feed (the book checked longest ago first).")
    book_check_confirm_s: float = setting("ARB_FEED_BOOK_CHECK_CONFIRM_S", 2.0,
                                          "A book that differs from the REST book is fetched again this much later; only "
                                          "if it still differs and did not change on the socket since the first request "
                                          "is it stale (RESYNCING and re-snapshotted): socket lag is not staleness.")
    book_check_timeout_s: float = setting("ARB_FEED_BOOK_CHECK_TIMEOUT_S", 5.0,
                                          "Timeout of one REST book request. A failed request never marks a book "
                                          "stale (logged, counted, retried later).")
    linger_ms: int = setting("ARB_FEED_LINGER_MS", 2,
                             "linger.ms of the tick producer: the ticks of a burst of book updates that arrive within it "
                             "leave in one produce request (0: one request per tick), at the cost of up to this long "
                             "for the first of them.")
    handoff_capacity: int = setting("ARB_FEED_HANDOFF_CAPACITY", 10_000,
                                    "Most distinct markets waiting in the feed->Kafka hand-off; updates of a waiting "
                                    "market replace it (coalesced), so memory stays bounded under overload.")
