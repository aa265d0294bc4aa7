"""`arb produce kalshi|polymarket|all`: venue feeds -> `ticks`."""

from __future__ import annotations

import argparse
from typing import Any

from cli.common import add_kafka_args, kafka_settings
from core.errors import CommandError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("produce", help="run venue feeds and write Tick records to `ticks`",
                       description="Keeps exact order books from the venues' WebSocket feeds for every market paired on the "
                                   "`markets` topic (following it live), and writes a Tick after every book change, keyed by "
                                   "game_id. Gaps, terminal errors and books found to differ from the venue's REST book mark "
                                   "books RESYNCING until re-snapshotted; a socket that stops answering its keep-alive is "
                                   "reconnected. Settings: ARB_FEED_*, ARB_KALSHI_*, ARB_POLY_WS_URL, ARB_POLY_CLOB_URL.")
    p.add_argument("venue", choices=("kalshi", "polymarket", "all"), help="which feed(s) to run")
    add_kafka_args(p)
    p.set_defaults(handler=run)


def feed_status(service: Any) -> dict[str, Any]:
    """The status line's fields: ticks written, and per feed its connection, books synced of subscribed, books
    resyncing and reconnects, read from the feeds' own counters (producers/feed_metrics.py) and books."""
    out: dict[str, Any] = {"ticks_out": service.writer.produced, "delivery_errors": service.writer.errors or None,
                           "pairings": len(service.markets.pairings)}
    for venue, feed in service.feeds.items():
        v = venue.lower()
        books = list(feed.books.books.values())
        synced = sum(1 for b in books if b.synced)
        out[v] = "connected" if feed.connected.is_set() else "disconnected"
        out[f"{v}_ticks"] = feed.metrics.ticks
        out[f"{v}_synced"] = f"{synced}/{len(books)}"
        out[f"{v}_resyncing"] = len(books) - synced
        out[f"{v}_reconnects"] = feed.metrics.reconnects
    return out


def run(args: argparse.Namespace) -> int:
    import asyncio
    import signal

    from core.config import load
    from core.logs import setup_logging
    from core.settings import RuntimeSettings
    from producers import kalshi_feed as kf
    from producers import polymarket_feed as pf
    from producers.handoff import Handoff
    from producers.service import ProducerService, build_feeds
    from producers.settings import FeedSettings
    from venues.kalshi.rest import KalshiRest
    from venues.kalshi.settings import KalshiSettings

    rt = load(RuntimeSettings)
    setup_logging(rt.log_format, rt.log_level)
    feed_settings = load(FeedSettings)
    handoff: Handoff = Handoff(feed_settings.handoff_capacity)
    kalshi = load(KalshiSettings)

    def kalshi_feed() -> kf.KalshiFeed:
        key = kalshi.load_private_key()
        # The book check's REST books (GET /markets/{t}/orderbook), paced by ARB_FEED_BOOK_CHECKS_PER_S.
        rest = KalshiRest(kalshi.rest_url, kalshi.key_id, key, timeout_s=feed_settings.book_check_timeout_s)
        return kf.KalshiFeed(url=kalshi.ws_url, key_id=kalshi.key_id, private_key=key, markets={}, handoff=handoff,
                             settings=feed_settings, book_fetcher=kf.rest_books(rest))

    def poly_feed() -> pf.PolymarketFeed:
        try:
            from venues.polymarket.rest import PolymarketBookApi
            from venues.polymarket.settings import PolymarketSettings
        except ImportError:
            raise CommandError("Polymarket settings are not available in this build", code=2) from None
        ps = load(PolymarketSettings)
        books = PolymarketBookApi(ps.clob_url, timeout_s=feed_settings.book_check_timeout_s)  # public GET /book
        return pf.PolymarketFeed(url=ps.ws_url, markets={}, handoff=handoff, settings=feed_settings, book_fetcher=pf.rest_books(books))

    service = ProducerService(kafka_settings(args), build_feeds(args.venue, handoff, kalshi_factory=kalshi_feed, poly_factory=poly_feed), handoff,
                              linger_ms=feed_settings.linger_ms)
    from core import metrics

    metrics.register_feeds(lambda: [(v, getattr(f, "metrics", None)) for v, f in service.feeds.items() if hasattr(f, "metrics")],
                           books=lambda: [(v, f.books.books.values()) for v, f in service.feeds.items() if hasattr(f, "books")])
    metrics.serve(rt.metrics_port, "produce")

    from core.progress import StatusLine, status_interval_s

    status = StatusLine("produce", status_interval_s(), lambda: feed_status(service), rates=("ticks_out",))

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, service.stop)
        status_task = asyncio.create_task(status.task(), name="status-line")
        try:
            await service.run()
        finally:
            status_task.cancel()

    from core.heap import freeze_startup_objects

    freeze_startup_objects()
    asyncio.run(main())
    return 0
