"""`arb notify` on real sockets (127.0.0.1): a fake Alertmanager posts its webhook payload into the receiver; a
local HTTP server stands in for Slack / Discord / Telegram and records what it got. Bad payloads get 400, the
service keeps working; 429 / 5xx are retried, another 4xx is not; a full queue answers 503 (Alertmanager retries
5xx); the webhook URL, which holds the token, is never logged."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from core.config import Secret
from core.notify.service import PATH, serve
from core.notify.settings import NotifySettings
from tests.integration.feed_support import wait_for

pytestmark = pytest.mark.integration
TIMEOUT = 5.0

TOKEN = "123456789:AAF-test-token-not-real"


@dataclasses.dataclass
class ChatService:
    """Records every POST; answers with the scripted statuses first, then 200. `hold` makes it hang until set."""

    port: int = 0
    got: list[tuple[str, Any]] = dataclasses.field(default_factory=list)
    script: list[tuple[int, dict[str, str]]] = dataclasses.field(default_factory=list)
    hold: asyncio.Event | None = None

    async def handle(self, request: web.Request) -> web.Response:
        self.got.append((request.path, await request.json()))
        if self.hold is not None:
            await self.hold.wait()
        status, headers = self.script.pop(0) if self.script else (200, {})
        return web.json_response({"ok": status == 200}, status=status, headers=headers)


@contextlib.asynccontextmanager
async def chat_service() -> AsyncIterator[ChatService]:
    chat = ChatService()
    app = web.Application()
    app.router.add_post("/{tail:.*}", chat.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    chat.port = int(runner.addresses[0][1])
    try:
        yield chat
    finally:
        if chat.hold is not None:
            chat.hold.set()
        await runner.cleanup()


@contextlib.asynccontextmanager
async def notify(url: str, **overrides: Any) -> AsyncIterator[str]:
    """`arb notify`'s serve() on a free port; yields the receiver URL; stops it (bounded) at the end."""
    settings = dataclasses.replace(NotifySettings(), host="127.0.0.1", port=0, webhook_url=Secret(url), retry_base_s=0.01, timeout_s=2.0,
                                   **overrides)
    stop = asyncio.Event()
    ready: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(serve(settings, stop, ready=ready))
    port = await asyncio.wait_for(asyncio.shield(ready), TIMEOUT)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop.set()
        await asyncio.wait_for(task, TIMEOUT)


def am_payload(name: str = "ArbBreakerOpen", status: str = "firing") -> dict[str, Any]:
    """Alertmanager's webhook body (notify/webhook/webhook.go Message, version 4)."""
    a = {"status": status, "labels": {"alertname": name, "severity": "critical", "venue": "KALSHI", "job": "executor"},
         "annotations": {"summary": "Circuit breaker open for KALSHI", "description": "No orders go to KALSHI."},
         "startsAt": "2026-12-06T16:00:00Z", "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://prometheus:9090/graph",
         "fingerprint": "c6eadffa33fcdf37"}
    return {"receiver": "arb-notify", "status": status, "alerts": [a], "groupLabels": {"alertname": name}, "commonLabels": a["labels"],
            "commonAnnotations": a["annotations"], "externalURL": "http://alertmanager:9093", "version": "4",
            "groupKey": f'{{}}:{{alertname="{name}"}}', "truncatedAlerts": 0}


async def post(session: aiohttp.ClientSession, base: str, data: Any = None, raw: bytes | None = None) -> int:
    kwargs: dict[str, Any] = {"data": raw, "headers": {"Content-Type": "application/json"}} if raw is not None else {"json": data}
    async with session.post(base + PATH, timeout=aiohttp.ClientTimeout(total=TIMEOUT), **kwargs) as resp:
        return resp.status


async def health(session: aiohttp.ClientSession, base: str) -> dict[str, Any]:
    async with session.get(base + "/health", timeout=aiohttp.ClientTimeout(total=TIMEOUT)) as resp:
        out: dict[str, Any] = await resp.json()
        return out


async def wait_health(session: aiohttp.ClientSession, base: str, cond: Callable[[dict[str, Any]], bool], what: str) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TIMEOUT
    while not cond(h := await health(session, base)):
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}: {h}")
        await asyncio.sleep(0.01)
    return h


@pytest.mark.parametrize(("fmt", "path", "key"), [
    ("slack", "/services/T000/B000/" + TOKEN, "text"),
    ("discord", "/api/webhooks/1/" + TOKEN, "content"),
    ("telegram", f"/bot{TOKEN}/sendMessage", "text"),  # Bot API: https://api.telegram.org/bot<token>/sendMessage
])
async def test_an_alertmanager_post_reaches_the_chat_service(fmt: str, path: str, key: str) -> None:
    async with chat_service() as chat, aiohttp.ClientSession() as session:
        async with notify(f"http://127.0.0.1:{chat.port}{path}", format=fmt, telegram_chat_id="-1001") as base:
            assert await post(session, base, am_payload()) == 200
            await wait_for(lambda: len(chat.got) == 1, "the chat post")
            got_path, got = chat.got[0]
            assert got_path == path
            assert got[key].startswith("FIRING ArbBreakerOpen [critical]: Circuit breaker open for KALSHI")
            if fmt == "telegram":
                assert got["chat_id"] == "-1001"
            assert await post(session, base, am_payload(status="resolved")) == 200
            await wait_for(lambda: len(chat.got) == 2, "the resolved post")
            assert chat.got[1][1][key].startswith("RESOLVED ArbBreakerOpen")


async def test_bad_payloads_get_400_and_the_receiver_keeps_working(caplog: pytest.LogCaptureFixture) -> None:
    async with chat_service() as chat, aiohttp.ClientSession() as session, notify(f"http://127.0.0.1:{chat.port}/hook") as base:
        with caplog.at_level(logging.WARNING, logger="core.notify.service"):
            assert await post(session, base, raw=b"{not json") == 400
            assert await post(session, base, raw=b"\xff\xfe") == 400
            assert await post(session, base, {"status": "firing", "alerts": "x"}) == 400
            assert await post(session, base, {**am_payload(), "version": "3"}) == 400
        assert sum("refused a webhook post" in r.getMessage() for r in caplog.records) == 4
        assert await post(session, base, am_payload()) == 200
        await wait_for(lambda: len(chat.got) == 1, "the good post after the bad ones")
        assert (await health(session, base))["sent"] == 1


async def test_429_and_5xx_are_retried_other_4xx_dropped() -> None:
    async with chat_service() as chat, aiohttp.ClientSession() as session, notify(f"http://127.0.0.1:{chat.port}/hook") as base:
        chat.script = [(503, {}), (429, {"Retry-After": "0"}), (500, {})]
        assert await post(session, base, am_payload()) == 200
        await wait_for(lambda: len(chat.got) == 4, "three retries then success")
        await wait_for(lambda: chat.script == [], "the script consumed")
        chat.script = [(403, {})]  # a revoked webhook: retrying cannot help
        assert await post(session, base, am_payload("ArbDeadLetters")) == 200
        await wait_for(lambda: len(chat.got) == 5, "the refused post")
        h = await wait_health(session, base, lambda h: h["sent"] + h["dropped"] == 2, "both texts handled")
        assert (h["sent"], h["dropped"]) == (1, 1) and len(chat.got) == 5  # no retry of the 403


async def test_gives_up_after_the_attempts_without_logging_the_url(caplog: pytest.LogCaptureFixture) -> None:
    with socket_closed_port() as port:
        url = f"http://127.0.0.1:{port}/bot{TOKEN}/sendMessage"
        async with aiohttp.ClientSession() as session, notify(url, attempts=3, format="telegram", telegram_chat_id="1") as base:
            with caplog.at_level(logging.DEBUG):
                assert await post(session, base, am_payload()) == 200
                await wait_health(session, base, lambda h: h["dropped"] == 1, "the text dropped")
    assert any("after 3 attempts" in r.getMessage() for r in caplog.records)
    assert not any(TOKEN in r.getMessage() or TOKEN in str(r.args) for r in caplog.records)


async def test_a_full_queue_answers_503_so_alertmanager_retries() -> None:
    async with chat_service() as chat, aiohttp.ClientSession() as session:
        chat.hold = asyncio.Event()  # the chat service hangs: the sender is stuck on the first text
        async with notify(f"http://127.0.0.1:{chat.port}/hook", queue=1) as base:
            assert await post(session, base, am_payload("A")) == 200
            await wait_for(lambda: len(chat.got) == 1, "the sender to take the first text")
            assert await post(session, base, am_payload("B")) == 200  # waits in the queue
            assert await post(session, base, am_payload("C")) == 503  # no room
            chat.hold.set()
            await wait_for(lambda: len(chat.got) == 2, "the queued text")
            assert "FIRING B" in chat.got[1][1]["text"]


@contextlib.contextmanager
def socket_closed_port() -> Any:
    """A port on 127.0.0.1 nothing listens on (bound, then closed)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    yield port


async def test_the_arb_notify_command_end_to_end(tmp_path: Any) -> None:
    """`arb notify` as the compose service runs it: URL from a secret file, SIGTERM stops it with exit 0."""
    import os
    import signal
    import sys

    from tests.conftest import REPO

    async with chat_service() as chat, aiohttp.ClientSession() as session:
        secret = tmp_path / "webhook-url"
        secret.write_text(f"http://127.0.0.1:{chat.port}/api/webhooks/1/{TOKEN}\n")
        secret.chmod(0o400)
        with socket_closed_port() as port:
            env = {**os.environ, "ARB_NOTIFY_WEBHOOK_URL_FILE": str(secret), "ARB_NOTIFY_FORMAT": "discord", "ARB_LOG_FORMAT": "json"}
            proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "cli", "notify", "--host", "127.0.0.1", "--port", str(port),
                                                        cwd=REPO, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        try:
            base = f"http://127.0.0.1:{port}"
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 30  # interpreter start and imports
            while True:
                with contextlib.suppress(aiohttp.ClientError):
                    await health(session, base)
                    break
                assert proc.returncode is None and loop.time() < deadline, "arb notify did not start"
                await asyncio.sleep(0.05)
            assert await post(session, base, am_payload()) == 200
            await wait_for(lambda: len(chat.got) == 1, "the chat post")
            assert chat.got[0][1]["content"].startswith("FIRING ArbBreakerOpen")
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
            _out, err = await asyncio.wait_for(proc.communicate(), 15)
        assert proc.returncode == 0, err.decode()[-2000:]
        assert TOKEN not in err.decode()


async def test_a_sender_that_dies_stops_notify_as_a_role_failure(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """The sender survives every post's failure; if it ends anyway (a bug), serve() stops with TaskDied, a RoleFailed:
    `arb notify` exits 1 with one line and the traceback is in the log, never a bare RuntimeError."""
    from core.notify.service import Notifier
    from core.supervise import RoleFailed, TaskDied

    async def broken(self: Notifier) -> None:
        raise KeyError("bug")

    monkeypatch.setattr(Notifier, "send_loop", broken)
    settings = dataclasses.replace(NotifySettings(), host="127.0.0.1", port=0, webhook_url=Secret("http://127.0.0.1:9/x"))
    with caplog.at_level(logging.CRITICAL, logger="core.notify.service"), pytest.raises(TaskDied) as died:
        await asyncio.wait_for(serve(settings, asyncio.Event()), TIMEOUT)
    assert isinstance(died.value, RoleFailed) and isinstance(died.value.error, KeyError)
    assert "notify-sender" in str(died.value) and any(r.exc_info for r in caplog.records)
