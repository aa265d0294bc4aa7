"""`arb notify` settings (ARB_NOTIFY_*)."""

from __future__ import annotations

from dataclasses import dataclass

from core.config import Secret, setting

FORMATS = ("slack", "discord", "telegram")


@dataclass(frozen=True)
class NotifySettings:
    host: str = setting("ARB_NOTIFY_HOST", "127.0.0.1", "`arb notify`: address the Alertmanager webhook receiver listens on (0.0.0.0 in compose).")
    port: int = setting("ARB_NOTIFY_PORT", 9095, "`arb notify`: port of the receiver; Alertmanager posts to http://<host>:<port>/alerts.")
    format: str = setting("ARB_NOTIFY_FORMAT", "slack",
                          "`arb notify`: body posted to ARB_NOTIFY_WEBHOOK_URL: slack ({\"text\"}), discord ({\"content\"}) or telegram "
                          "(Bot API sendMessage: the URL is https://api.telegram.org/bot<token>/sendMessage, with ARB_NOTIFY_TELEGRAM_CHAT_ID).",
                          choices=FORMATS)
    webhook_url: Secret = setting("ARB_NOTIFY_WEBHOOK_URL", Secret(""),
                                  "`arb notify`: the Slack / Discord webhook or Telegram sendMessage URL; it embeds a token, so it is a secret: "
                                  "use ARB_NOTIFY_WEBHOOK_URL_FILE. Unset: alerts are only logged.")
    telegram_chat_id: str = setting("ARB_NOTIFY_TELEGRAM_CHAT_ID", "", "`arb notify` with ARB_NOTIFY_FORMAT=telegram: the chat_id to send to.")
    queue: int = setting("ARB_NOTIFY_QUEUE", 100, "`arb notify`: notifications waiting to be posted; when full the receiver answers 503 and Alertmanager retries.")
    attempts: int = setting("ARB_NOTIFY_ATTEMPTS", 6, "`arb notify`: tries per notification (timeouts, 429, 5xx) before it is dropped (logged).")
    retry_base_s: float = setting("ARB_NOTIFY_RETRY_BASE_S", 1.0, "`arb notify`: first retry delay ceiling (exponential backoff with full jitter, capped at 60 s; a Retry-After is obeyed).")
    timeout_s: float = setting("ARB_NOTIFY_TIMEOUT_S", 10.0, "`arb notify`: timeout of one POST to the webhook.")
