"""Kalshi venue constants as data (venue-protocols.md K1, K3, K4, K7)."""

from __future__ import annotations

from dataclasses import dataclass

REST_PREFIX = "/trade-api/v2"
WS_PATH = "/trade-api/ws/v2"

PROD_REST_URL = "https://external-api.kalshi.com/trade-api/v2"
PROD_WS_URL = "wss://external-api-ws.kalshi.com/trade-api/ws/v2"
DEMO_REST_URL = "https://external-api.demo.kalshi.co/trade-api/v2"
DEMO_WS_URL = "wss://external-api-ws.demo.kalshi.co/trade-api/ws/v2"

# Server Ping control frames every 10 s with this body; the client must Pong (K3 keep-alive).
WS_PING_INTERVAL_S = 10.0
WS_PING_BODY = b"heartbeat"

TIME_IN_FORCE = ("fill_or_kill", "good_till_canceled", "immediate_or_cancel")
SELF_TRADE_PREVENTION = ("taker_at_cross", "maker")
BOOK_SIDES = ("bid", "ask")  # V2: bid buys YES, ask sells YES
CLIENT_ORDER_ID_MAX = 64
CLIENT_ORDER_ID_PATTERN = r"^[\-\w:+=/]*$"
ORDER_STATUSES = ("resting", "canceled", "executed")

# WS error codes (asyncapi.yaml). 10, 17 and 25 are terminal: the subscription is gone, resubscribe.
WS_ERRORS: dict[int, str] = {
    1: "Unable to process message",
    2: "Params required",
    3: "Channels required",
    4: "Subscription IDs required",
    5: "Unknown command",
    6: "Already subscribed",
    7: "Unknown subscription ID",
    8: "Unknown channel name",
    9: "Authentication required",
    10: "Channel error",
    11: "Invalid parameter",
    12: "Exactly one subscription ID is required",
    13: "Unsupported action",
    14: "Market Ticker required",
    15: "Action required",
    16: "Market not found",
    17: "Internal error",
    18: "Command timeout",
    25: "Buffer overflow",
    26: "Market limit reached",
    27: "Too many requests",
}
WS_TERMINAL_ERRORS = frozenset({10, 17, 25})

# Channels: all names the venue knows, and which of them need a market filter.
WS_CHANNELS = ("orderbook_delta", "ticker", "trade", "fill", "market_positions", "market_lifecycle_v2",
               "multivariate_market_lifecycle", "communications", "order_group_updates", "user_orders",
               "cfbenchmarks_value", "pyth_value")
WS_CHANNELS_NEED_MARKET = frozenset({"orderbook_delta"})

# REST token buckets (K7): most calls cost 10 tokens; batch items are billed one by one (cancel items 2).
CALL_COST = 10
BATCH_CANCEL_ITEM_COST = 2


@dataclass(frozen=True)
class Tier:
    name: str
    read_per_s: int  # tokens per second
    write_per_s: int
    write_burst_s: float  # the write bucket holds this many seconds of budget


# Budgets in tokens/s since 2026-04-23 (K7). Write buckets above Basic hold 2 s of budget.
TIERS: dict[str, Tier] = {t.name: t for t in (
    Tier("basic", 200, 100, 1.0),
    Tier("advanced", 300, 300, 2.0),
    Tier("expert", 600, 600, 2.0),
    Tier("premier", 1000, 1000, 2.0),
    Tier("paragon", 2000, 2000, 2.0),
    Tier("prime", 4000, 4000, 2.0),
    Tier("prestige", 10000, 8000, 2.0),
)}

RATE_LIMIT_BODY = {"error": "too many requests"}  # 429, no Retry-After header (K7)
