"""`arb notify`: Alertmanager's webhook receiver, posting each alert group as a short text to Slack, Discord or Telegram."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("notify", help="post Alertmanager's alerts to a Slack / Discord / Telegram webhook",
                       description="Receives Alertmanager's webhook (POST /alerts, payload version 4) and posts each alert group as a "
                                   "short text to ARB_NOTIFY_WEBHOOK_URL(_FILE) in the ARB_NOTIFY_FORMAT form (slack, discord, telegram). "
                                   "Bad payloads are answered 400 and logged; a full queue 503 (Alertmanager retries); posts are retried "
                                   "with backoff. GET /health shows the counts. Settings: ARB_NOTIFY_*.")
    p.add_argument("--port", type=int, default=None, help="receiver port (default ARB_NOTIFY_PORT)")
    p.add_argument("--host", default=None, help="receiver address (default ARB_NOTIFY_HOST)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import asyncio
    import signal

    from core.config import ConfigError, load
    from core.logs import setup_logging
    from core.notify.service import serve
    from core.notify.settings import NotifySettings
    from core.settings import RuntimeSettings

    rt = load(RuntimeSettings)
    setup_logging(rt.log_format, rt.log_level)
    settings = load(NotifySettings, overrides={"port": args.port, "host": args.host})
    if settings.format == "telegram" and settings.webhook_url and not settings.telegram_chat_id:
        raise ConfigError("ARB_NOTIFY_FORMAT=telegram needs ARB_NOTIFY_TELEGRAM_CHAT_ID (sendMessage's chat_id)")

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve(settings, stop)

    asyncio.run(main())
    return 0
