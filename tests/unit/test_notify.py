"""`arb notify` formatting: Alertmanager's webhook payload -> a short text -> the Slack / Discord / Telegram body."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from core.config import ConfigError, load
from core.notify.exceptions import BadPayload
from core.notify.format import LIMITS, body, parse, render
from core.notify.settings import NotifySettings


def payload(*alerts: dict[str, Any], status: str = "firing", truncated: int = 0) -> dict[str, Any]:
    """An Alertmanager webhook post as notify/webhook/webhook.go `Message` encodes it (template.Data + version,
    groupKey, truncatedAlerts), every field present."""
    return {"receiver": "arb-notify", "status": status, "alerts": list(alerts), "groupLabels": {"alertname": alerts[0]["labels"]["alertname"]},
            "commonLabels": {"alertname": alerts[0]["labels"]["alertname"]}, "commonAnnotations": {},
            "externalURL": "http://alertmanager:9093", "version": "4", "groupKey": '{}:{alertname="X"}', "truncatedAlerts": truncated}


def alert(name: str, *, status: str = "firing", severity: str = "critical", summary: str = "", description: str = "",
          **labels: str) -> dict[str, Any]:
    return {"status": status, "labels": {"alertname": name, "severity": severity, **labels},
            "annotations": {"summary": summary, "description": description}, "startsAt": "2026-12-06T16:00:00.000Z",
            "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://prometheus:9090/graph?g0.expr=x", "fingerprint": "1a30ba71cca2921f"}


BREAKER = alert("ArbBreakerOpen", summary="Circuit breaker open for KALSHI", description="No orders go\n   to KALSHI.", venue="KALSHI")


def test_one_firing_alert_is_one_short_text() -> None:
    text = render(parse(payload(BREAKER)), LIMITS["slack"])
    assert text == "FIRING ArbBreakerOpen [critical]: Circuit breaker open for KALSHI\n  No orders go to KALSHI."


def test_a_group_counts_and_lists_firing_first_and_resolved_without_instructions() -> None:
    resolved = alert("ArbDeadLetters", status="resolved", severity="warning", summary="Records dead-lettered", description="look at dlq")
    text = render(parse(payload(resolved, BREAKER)), LIMITS["discord"])
    lines = text.splitlines()
    assert lines[0] == "arb: 1 firing, 1 resolved"
    assert lines[1].startswith("FIRING ArbBreakerOpen") and lines[-1] == "RESOLVED ArbDeadLetters [warning]: Records dead-lettered"
    assert "look at dlq" not in text


def test_alert_without_annotations_or_severity_still_reads() -> None:
    a = {"labels": {"alertname": "ArbRoleDown"}}
    assert render(parse({"status": "firing", "alerts": [a]}), 100) == "FIRING ArbRoleDown"  # status from the group


@pytest.mark.parametrize("fmt", sorted(LIMITS))
def test_long_groups_are_cut_to_the_service_limit_and_say_how_many_were_left_out(fmt: str) -> None:
    many = [alert(f"ArbAlert{chr(65 + i % 26)}", summary="s" * 150, description="d" * 300, venue=str(i)) for i in range(40)]
    text = render(parse(payload(*many, truncated=5)), LIMITS[fmt])
    assert len(text) <= LIMITS[fmt]
    shown = sum(line.startswith("FIRING ") for line in text.splitlines())
    assert 1 <= shown < 40 and text.endswith(f"(+{40 - shown + 5} more alerts)")
    assert text.splitlines()[0] == "arb: 40 firing, 0 resolved"


def test_one_huge_alert_is_cut_with_an_ellipsis() -> None:
    text = render(parse(payload(alert("ArbHuge", description="x" * 10_000))), LIMITS["discord"])
    assert len(text) == LIMITS["discord"] and text.endswith("…")


def test_truncated_alerts_from_alertmanager_are_counted() -> None:
    assert render(parse(payload(BREAKER, truncated=3)), LIMITS["slack"]).endswith("\n(+3 more alerts)")


def test_bodies() -> None:
    assert body("slack", "a <b> & c") == {"text": "a &lt;b&gt; &amp; c"}  # <...> is Slack's link syntax
    assert body("discord", "@everyone x") == {"content": "@everyone x", "allowed_mentions": {"parse": []}}  # never pings
    assert body("telegram", "x", chat_id="-100123") == {"chat_id": "-100123", "text": "x"}
    with pytest.raises(ValueError):
        body("teams", "x")


def _broken(mutate: Any) -> Any:
    p = copy.deepcopy(payload(BREAKER))
    return mutate(p) or p


@pytest.mark.parametrize("bad", [
    None, [], "firing", 3,
    _broken(lambda p: p.pop("alerts") and None),
    _broken(lambda p: p.update(alerts=[])),
    _broken(lambda p: p.update(alerts={"a": 1})),
    _broken(lambda p: p.update(alerts=["x"])),
    _broken(lambda p: p.update(status="pending")),
    _broken(lambda p: p.update(version="3")),
    _broken(lambda p: p.update(truncatedAlerts=-1)),
    _broken(lambda p: p.update(truncatedAlerts=True)),
    _broken(lambda p: p.update(commonLabels=["x"])),
    _broken(lambda p: p["alerts"][0].update(status="weird")),
    _broken(lambda p: p["alerts"][0].update(labels={"alertname": 5})),
    _broken(lambda p: p["alerts"][0].update(annotations="x")),
    _broken(lambda p: p["alerts"][0]["labels"].pop("alertname") and p.update(commonLabels={})),
], ids=lambda b: repr(b)[:40])
def test_bad_payloads_are_refused_with_a_reason(bad: Any) -> None:
    with pytest.raises(BadPayload):
        parse(bad)


def test_settings_read_the_webhook_url_from_a_secret_file(tmp_path: Path) -> None:
    url = "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXX"
    f = tmp_path / "webhook-url"
    f.write_text(url + "\n")
    f.chmod(0o400)
    s = load(NotifySettings, env={"ARB_NOTIFY_WEBHOOK_URL_FILE": str(f), "ARB_NOTIFY_FORMAT": "discord"})
    assert s.webhook_url.reveal() == url and url not in repr(s) and s.format == "discord"
    with pytest.raises(ConfigError):
        load(NotifySettings, env={"ARB_NOTIFY_FORMAT": "teams"})
    assert not load(NotifySettings, env={}).webhook_url  # unset: alerts only logged
