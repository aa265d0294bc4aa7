"""WebSocket liveness of the feeds: the protocol keep-alive both venues answer (issue 25, defect 7).

Neither venue sends data while a book does not change, so data silence is no sign of a dead socket. What is:
- Kalshi sends Ping control frames every 10 s (body `heartbeat`) and "Clients may also send Ping frames to
  which Kalshi will respond with Pong" (docs.kalshi.com/websockets/connection-keep-alive.md). The
  `websockets` library answers the venue's Pings but does not report them, so liveness is our own Ping:
  no Pong within ARB_FEED_KEEPALIVE_TIMEOUT_S closes the socket (close code 1011) and the feed reconnects.
- Polymarket's market channel wants a text `PING` every 10 s and answers `PONG`
  (docs.polymarket.com market-data/websocket/overview.md, "Heartbeats"); its official SDK also keeps the
  library's protocol pings on (Polymarket/py-sdk `_internal/ws/connection.py` calls `websockets` `connect`
  with the default ping_interval) and calls the stream stale after 30 s without a PONG
  (`_internal/streams/clob/heartbeat.py`, CLOB_HEARTBEAT_STALE_S). The feed does both.
A socket that keeps answering pings but has stopped delivering changes is the book check's to catch
(producers/book_check.py).
"""

from __future__ import annotations

from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode

from producers.settings import FeedSettings

# The closing handshake of a socket found dead is not worth waiting for (the official Polymarket SDK waits
# 0.5 s); stop() uses it too.
CLOSE_TIMEOUT_S = 1.0


def keepalive_options(settings: FeedSettings) -> dict[str, Any]:
    """`websockets.asyncio.client.connect` keyword arguments of the protocol keep-alive."""
    return {"ping_interval": settings.ws_ping_s, "ping_timeout": settings.keepalive_timeout_s, "close_timeout": CLOSE_TIMEOUT_S}


def keepalive_lost(exc: BaseException) -> bool:
    """True if the connection ended because our Ping got no Pong in time (`websockets` fails it with 1011 and
    no close frame from the peer)."""
    return (isinstance(exc, ConnectionClosed) and exc.rcvd is None and exc.sent is not None
            and exc.sent.code == CloseCode.INTERNAL_ERROR)
