"""`arb notify`: receives Alertmanager's webhook (POST /alerts), queues a short text, posts it to the chat webhook.

The receiver answers at once: 200 queued; 400 not an Alertmanager payload (logged; Alertmanager does not retry a
4xx); 503 queue full (Alertmanager retries 5xx: notify/webhook/webhook.go, "5xx response codes are assumed to be
recoverable"). One sender task posts in order, retrying timeouts, 429 and 5xx with core/backoff.py (a Retry-After
is obeyed); another 4xx (a revoked webhook) is logged and the text dropped. The webhook URL embeds a token: it is
never logged, nor are the exceptions that could quote it.
"""

from __future__ import annotations

import asyncio
import json
import logging

import aiohttp
from aiohttp import web

from core.backoff import Backoff, retry_after_seconds
from core.notify.exceptions import BadPayload
from core.notify.format import LIMITS, body, parse, render
from core.notify.settings import NotifySettings
from core.progress import StatusLine, status_interval_s
from core.supervise import TaskDied

log = logging.getLogger(__name__)

RETRY_CAP_S = 60.0
PATH = "/alerts"


class Notifier:
    def __init__(self, settings: NotifySettings) -> None:
        self.settings = settings
        self.queue: asyncio.Queue[str] = asyncio.Queue(maxsize=max(1, settings.queue))
        self.received = 0  # alert groups queued
        self.refused = 0  # posts answered 400 (not a payload) or 503 (queue full)
        self.sent = 0
        self.dropped = 0

    # --- receiver -------------------------------------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.Response:
        try:
            payload = json.loads(await request.read())
            text = render(parse(payload), LIMITS[self.settings.format])
        except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError and BadPayload are ValueErrors
            why = str(exc) if isinstance(exc, BadPayload) else f"not JSON: {type(exc).__name__}"
            log.warning("notify: refused a webhook post from %s: %s", request.remote, why)
            self.refused += 1
            return web.json_response({"error": why}, status=400)
        try:
            self.queue.put_nowait(text)
        except asyncio.QueueFull:
            log.error("notify: queue full (%d texts waiting): answered 503, Alertmanager retries", self.queue.qsize())
            self.refused += 1
            return web.json_response({"error": "queue full"}, status=503)
        self.received += 1
        return web.json_response({"queued": self.queue.qsize()})

    async def health(self, _request: web.Request) -> web.Response:
        return web.json_response({"queued": self.queue.qsize(), "sent": self.sent, "dropped": self.dropped})

    def status(self) -> dict[str, int]:
        """The status line's fields (core/progress.py): alerts received, posted, failed (dropped), refused, waiting."""
        return {"received": self.received, "posted": self.sent, "failed": self.dropped, "refused": self.refused, "queued": self.queue.qsize()}

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post(PATH, self.handle)
        app.router.add_get("/health", self.health)
        return app

    # --- sender ---------------------------------------------------------------------------------------------------
    async def post(self, session: aiohttp.ClientSession, text: str) -> bool:
        """Post one text; True when the service took it."""
        url = self.settings.webhook_url.reveal()
        if not url:
            log.warning("notify: no ARB_NOTIFY_WEBHOOK_URL: alert only logged:\n%s", text)
            return False
        data = body(self.settings.format, text, chat_id=self.settings.telegram_chat_id)
        backoff = Backoff(self.settings.retry_base_s, max(self.settings.retry_base_s, RETRY_CAP_S))
        timeout = aiohttp.ClientTimeout(total=self.settings.timeout_s)
        attempts = max(1, self.settings.attempts)
        for attempt in range(1, attempts + 1):
            wait: float | None = None
            try:
                async with session.post(url, json=data, timeout=timeout) as resp:
                    if 200 <= resp.status < 300:
                        return True
                    if resp.status != 429 and resp.status < 500:
                        log.error("notify: webhook refused the text with HTTP %d (wrong URL, revoked token, bad chat id?): dropped",
                                  resp.status)
                        return False
                    wait = retry_after_seconds(resp.headers)
                    why = f"HTTP {resp.status}"
            except (TimeoutError, aiohttp.ClientError) as exc:
                why = type(exc).__name__  # never str(exc): it may quote the URL, which holds the token
            if attempt == attempts:
                log.error("notify: %s after %d attempts: text dropped", why, attempt)
                return False
            delay = min(RETRY_CAP_S, wait) if wait is not None else backoff.next_delay()
            log.warning("notify: %s (attempt %d of %d): retrying in %.1f s", why, attempt, attempts, delay)
            await asyncio.sleep(delay)
        return False

    async def send_loop(self) -> None:
        async with aiohttp.ClientSession() as session:
            while True:
                text = await self.queue.get()
                try:
                    ok = await self.post(session, text)
                except Exception:  # never let one text stop the sender
                    log.exception("notify: posting failed")
                    ok = False
                if ok:
                    self.sent += 1
                else:
                    self.dropped += 1
                self.queue.task_done()


async def serve(settings: NotifySettings, stop: asyncio.Event, *, ready: asyncio.Future[int] | None = None) -> None:
    """Run the receiver and the sender until `stop` is set. `ready` gets the bound port (port 0 = any free one)."""
    notifier = Notifier(settings)
    runner = web.AppRunner(notifier.app(), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.host, settings.port)
        await site.start()
        port = int(runner.addresses[0][1])  # the bound port (settings.port may be 0: any free one)
        log.info("notify: Alertmanager webhook receiver on %s:%d%s, posting %s", settings.host, port, PATH, settings.format)
        if not settings.webhook_url:
            log.warning("notify: ARB_NOTIFY_WEBHOOK_URL(_FILE) is not set: alerts are only logged")
        if ready is not None and not ready.done():
            ready.set_result(port)
        sender = asyncio.create_task(notifier.send_loop(), name="notify-sender")
        stopped = asyncio.create_task(stop.wait())
        status = asyncio.create_task(StatusLine("notify", status_interval_s(), notifier.status).task(), name="status-line")
        done, _ = await asyncio.wait({sender, stopped}, return_when=asyncio.FIRST_COMPLETED)
        for t in (sender, stopped, status):
            t.cancel()
        if sender in done and not sender.cancelled() and sender.exception() is not None:
            error = sender.exception()  # send_loop survives every post's failure: this one is a bug, kept with its traceback
            log.critical("notify: the sender task failed; stopping", exc_info=error)
            raise TaskDied(sender.get_name(), error) from error
    finally:
        await runner.cleanup()

