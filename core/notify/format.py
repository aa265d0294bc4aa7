"""Alertmanager's webhook payload -> a short text -> the body one chat service takes. Pure functions.

The payload (Alertmanager notify/webhook/webhook.go `Message`: template.Data plus version "4", groupKey,
truncatedAlerts; documented under "webhook_config" in https://prometheus.io/docs/alerting/latest/configuration/):
  {"version": "4", "groupKey": ..., "truncatedAlerts": 0, "status": "firing"|"resolved", "receiver": ...,
   "groupLabels": {...}, "commonLabels": {...}, "commonAnnotations": {...}, "externalURL": ...,
   "alerts": [{"status": ..., "labels": {...}, "annotations": {...}, "startsAt": ..., "endsAt": ...,
               "generatorURL": ..., "fingerprint": ...}]}
The bodies:
  slack    {"text": ...}            Slack incoming webhooks (https://api.slack.com/messaging/webhooks); &, <, > escaped
                                    as Slack's "Escaping text" asks, since <...> is Slack's link/mention syntax.
  discord  {"content": ...}         Discord "Execute Webhook" (discord.com/developers/docs/resources/webhook): content
                                    up to 2000 characters; allowed_mentions empty so a label can never ping @everyone.
  telegram {"chat_id", "text"}      Bot API sendMessage (https://core.telegram.org/bots/api#sendmessage): text 1-4096
                                    characters; no parse_mode, so the text is shown as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.notify.exceptions import BadPayload

# Longest text each service takes (see above); Slack accepts far more, but a notification should stay short.
LIMITS = {"slack": 4000, "discord": 2000, "telegram": 4096}
STATUSES = ("firing", "resolved")


@dataclass(frozen=True)
class Alert:
    status: str
    name: str
    severity: str
    summary: str
    description: str


@dataclass(frozen=True)
class Notification:
    status: str
    alerts: tuple[Alert, ...]
    truncated: int  # alerts Alertmanager left out (webhook_config max_alerts)


def _str_map(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise BadPayload(f"{where}: expected an object of strings")
    return value


def parse(payload: Any) -> Notification:
    """Validate an Alertmanager webhook payload (version 4) into what the text needs."""
    if not isinstance(payload, dict):
        raise BadPayload("payload: expected a JSON object")
    version = payload.get("version")
    if version is not None and str(version) != "4":
        raise BadPayload(f"version {version!r}: only Alertmanager's webhook version 4 is known")
    status = payload.get("status")
    if status not in STATUSES:
        raise BadPayload(f"status: expected firing or resolved, got {status!r}")
    raw_alerts = payload.get("alerts")
    if not isinstance(raw_alerts, list) or not raw_alerts:
        raise BadPayload("alerts: expected a non-empty list")
    common = _str_map(payload.get("commonLabels"), "commonLabels")
    alerts = []
    for i, a in enumerate(raw_alerts):
        if not isinstance(a, dict):
            raise BadPayload(f"alerts[{i}]: expected an object")
        labels = {**common, **_str_map(a.get("labels"), f"alerts[{i}].labels")}
        annotations = _str_map(a.get("annotations"), f"alerts[{i}].annotations")
        a_status = a.get("status", status)
        if a_status not in STATUSES:
            raise BadPayload(f"alerts[{i}].status: expected firing or resolved, got {a_status!r}")
        name = labels.get("alertname")
        if not name:
            raise BadPayload(f"alerts[{i}].labels: no alertname")
        alerts.append(Alert(a_status, name, labels.get("severity", ""), annotations.get("summary", ""), annotations.get("description", "")))
    truncated = payload.get("truncatedAlerts", 0)
    if not isinstance(truncated, int) or isinstance(truncated, bool) or truncated < 0:
        raise BadPayload("truncatedAlerts: expected a non-negative integer")
    return Notification(status, tuple(alerts), truncated)


def _line(a: Alert) -> str:
    head = f"{a.status.upper()} {a.name}" + (f" [{a.severity}]" if a.severity else "")
    text = f"{head}: {a.summary}" if a.summary else head
    if a.description and a.status == "firing":  # a resolved alert needs no instructions
        text += "\n  " + " ".join(a.description.split())
    return text


def render(n: Notification, limit: int) -> str:
    """One line (plus its description) per alert, firing first; cut to `limit` characters with a count of what was cut."""
    alerts = sorted(n.alerts, key=lambda a: a.status != "firing")
    lines = [_line(a) for a in alerts]
    if len(alerts) > 1:
        firing = sum(a.status == "firing" for a in alerts)
        lines.insert(0, f"arb: {firing} firing, {len(alerts) - firing} resolved")
    keep = 2 if len(alerts) > 1 else 1  # the count line and at least one alert
    left_out = n.truncated
    while True:
        tail = f"\n(+{left_out} more alerts)" if left_out else ""
        text = "\n".join(lines) + tail
        if len(text) <= limit or len(lines) <= keep:
            break
        lines.pop()
        left_out += 1
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def body(fmt: str, text: str, *, chat_id: str = "") -> dict[str, Any]:
    """The JSON body of one post in format `fmt` (slack, discord, telegram)."""
    if fmt == "slack":
        return {"text": slack_escape(text)}
    if fmt == "discord":
        return {"content": text, "allowed_mentions": {"parse": []}}
    if fmt == "telegram":
        return {"chat_id": chat_id, "text": text}
    raise ValueError(f"unknown format {fmt!r}")

