"""Alerts (issue 28): the rules in deploy/prometheus/alerts.yml query only metrics the code exports, are documented,
cover what a person must hear about, and are wired: Prometheus -> Alertmanager -> `arb notify` in compose. The
gauges the rules needed move where the state is known; the dashboard shows lag and the kill switch."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from core import metrics
from core.metrics import METRIC_NAMES
from tests.conftest import REPO

PROM_DIR = REPO / "deploy" / "prometheus"
RULES_FILE = PROM_DIR / "alerts.yml"
ALERTMANAGER_FILE = REPO / "deploy" / "alertmanager" / "alertmanager.yml"
COMPOSE: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())
RULES: list[dict[str, Any]] = [r for g in yaml.safe_load(RULES_FILE.read_text())["groups"] for r in g["rules"]]
# Series Prometheus writes itself (https://prometheus.io/docs/concepts/jobs_instances/ "Automatically generated labels
# and time series"): `up` per scrape target.
PROMETHEUS_SERIES = {"up"}
PROMQL_WORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset", "inf", "nan"}
DURATION = re.compile(r"^\d+(ms|s|m|h|d|w|y)$")


def metric_names(expr: str) -> set[str]:
    """The series names a PromQL expression selects: identifiers that are not functions, keywords, label names
    (inside {...} or by/without/on/ignoring (...)), strings or ranges."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings
    e = re.sub(r"\{[^}]*\}", "", e)  # label matchers
    e = re.sub(r"\[[^\]]*\]", "", e)  # ranges
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", e)  # grouping labels
    names = set()
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", e):
        word = m.group(0)
        rest = e[m.end():].lstrip()
        if rest.startswith("(") or word.lower() in PROMQL_WORDS:
            continue  # a function call or an operator
        names.add(re.sub(r"_(bucket|sum|count)$", "", word) if word not in METRIC_NAMES else word)
    return names


def test_metric_names_parser() -> None:
    assert metric_names('increase(arb_outcomes_total{state="UNKNOWN"}[15m]) > 0 or max by (venue) (arb_breaker_state) >= 2') == {
        "arb_outcomes_total", "arb_breaker_state"}
    assert metric_names('absent(up{job="executor"}) or histogram_quantile(0.9, sum(rate(arb_feed_lag_seconds_bucket[1m])) by (le))') == {
        "up", "arb_feed_lag_seconds"}
    assert metric_names("arb_no_such_metric > 1") == {"arb_no_such_metric"}  # what the next test would refuse


@pytest.mark.parametrize("rule", RULES, ids=[r["alert"] for r in RULES])
def test_rule_queries_only_exported_metrics_and_is_documented(rule: dict[str, Any]) -> None:
    assert set(rule) <= {"alert", "expr", "for", "labels", "annotations", "keep_firing_for"}, rule["alert"]
    assert re.fullmatch(r"Arb[A-Z][A-Za-z]+", rule["alert"])
    used = metric_names(rule["expr"])
    assert used, rule["alert"]
    unknown = used - set(METRIC_NAMES) - PROMETHEUS_SERIES
    assert not unknown, f"{rule['alert']}: {sorted(unknown)} is not exported by core/metrics.py"
    assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]
    ann = rule["annotations"]
    assert ann.get("summary", "").strip() and ann.get("description", "").strip(), f"{rule['alert']}: needs summary and description"
    if "for" in rule:
        assert DURATION.match(str(rule["for"])), rule["for"]
    for ref in re.findall(r"\$labels\.(\w+)", ann["summary"] + ann["description"]):
        # a label the expression cannot carry renders empty: only labels of its metrics, groupings or matchers
        assert ref in rule["expr"] or ref in ("instance", "job", "venue", "state", "task", "reason", "role", "topic"), (rule["alert"], ref)


def test_rule_names_are_unique() -> None:
    names = [r["alert"] for r in RULES]
    assert len(names) == len(set(names))


def _rules_using(metric: str) -> list[str]:
    return [r["alert"] for r in RULES if metric in metric_names(r["expr"])]


@pytest.mark.parametrize("metric", [
    "arb_outcomes_total",            # UNKNOWN outcomes
    "arb_unknown_legs_total",        # UNKNOWN order states
    "arb_one_sided_total",           # one-sided fills
    "arb_unhedged_contracts",        # ... left unhedged
    "arb_kill_switch_active",        # kill switch engaged
    "arb_breaker_state",             # breaker open
    "arb_reconcile_drift_instruments",  # reconciliation drift
    "arb_feed_unsynced_books",       # feed STALE / RESYNCING beyond a bound
    "arb_consumer_lag",              # consumer lag
    "arb_dead_letters_total",        # dead letters
    "up",                            # a role down
])
def test_every_issue_28_condition_has_a_rule(metric: str) -> None:
    assert _rules_using(metric), f"no alert rule uses {metric}"


def test_unknown_rule_selects_the_state_the_executor_records() -> None:
    (rule,) = [r for r in RULES if r["alert"] == "ArbUnknownOutcome"]
    assert 'state="UNKNOWN"' in rule["expr"]
    from executor.ledger import TERMINAL

    assert "UNKNOWN" in TERMINAL


def test_role_down_rules_name_every_scraped_role() -> None:
    prom = yaml.safe_load((PROM_DIR / "prometheus.yml").read_text())
    roles = {j["job_name"] for j in prom["scrape_configs"] if "dns_sd_configs" in j}
    down = next(r for r in RULES if r["alert"] == "ArbRoleDown")["expr"]
    missing = next(r for r in RULES if r["alert"] == "ArbRoleMissing")["expr"]
    (pattern,) = re.findall(r'job=~"([^"]+)"', down)
    assert set(pattern.split("|")) == roles
    assert set(re.findall(r'absent\(up\{job="([^"]+)"\}\)', missing)) == roles


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed")
def test_promtool_checks_the_rules() -> None:
    proc = subprocess.run(["promtool", "check", "rules", str(RULES_FILE)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# --- wiring: Prometheus -> Alertmanager -> arb notify ----------------------------------------------------------------
def _mounts(service: str) -> dict[str, str]:
    return {str(v).split(":")[0]: str(v).split(":")[1] for v in COMPOSE["services"][service].get("volumes", [])}


def test_prometheus_loads_the_rules_and_sends_to_alertmanager() -> None:
    prom = yaml.safe_load((PROM_DIR / "prometheus.yml").read_text())
    mounts = _mounts("prometheus")
    assert mounts["./deploy/prometheus/alerts.yml"] in prom["rule_files"]
    (am,) = prom["alerting"]["alertmanagers"]
    (target,) = [t for sc in am["static_configs"] for t in sc["targets"]]
    host, port = target.split(":")
    alertmanager = COMPOSE["services"][host]
    assert alertmanager["image"].startswith("prom/alertmanager:") and port == "9093"  # Alertmanager's default web port
    assert "alertmanager" in COMPOSE["services"]["prometheus"]["depends_on"]


def test_alertmanager_posts_every_alert_to_arb_notify() -> None:
    am = yaml.safe_load(ALERTMANAGER_FILE.read_text())
    mounts = _mounts("alertmanager")
    config_flag = next(c for c in COMPOSE["services"]["alertmanager"]["command"] if c.startswith("--config.file="))
    assert mounts["./deploy/alertmanager/alertmanager.yml"] == config_flag.split("=", 1)[1]
    receivers = {r["name"]: r for r in am["receivers"]}
    routes = [am["route"], *am["route"].get("routes", [])]
    assert {r["receiver"] for r in routes} == set(receivers)
    notify = COMPOSE["services"]["notify"]
    assert notify["command"] == ["notify"] and notify["image"] == "arb:latest"
    for r in receivers.values():
        (hook,) = r["webhook_configs"]
        url = urlsplit(hook["url"])
        assert (url.hostname, str(url.port)) == ("notify", str(notify["environment"]["ARB_NOTIFY_PORT"]))
        from core.notify.service import PATH

        assert url.path == PATH and hook["send_resolved"] is True
    assert str(notify["environment"]["ARB_NOTIFY_HOST"]) == "0.0.0.0"  # noqa: S104 - reachable from the alertmanager container
    assert str(notify["healthcheck"]["test"]).count(f":{notify['environment']['ARB_NOTIFY_PORT']}/health") == 1


def test_dashboard_shows_consumer_lag_and_the_kill_switch() -> None:
    dash = json.loads((REPO / "deploy" / "grafana" / "dashboards" / "arb.json").read_text())
    exprs = " ".join(t["expr"] for p in dash["panels"] for t in p["targets"])
    for metric in ("arb_consumer_lag", "arb_kill_switch_active", "arb_feed_unsynced_books"):
        assert metric in exprs
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    cells = [(x, y) for p in dash["panels"] for g in [p["gridPos"]] for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])]
    assert len(cells) == len(set(cells)), "panels overlap"


# --- the gauges the rules needed -----------------------------------------------------------------------------------
def _sample(name: str, labels: dict[str, str] | None = None) -> float | None:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value(name, labels or {})


def test_kill_switch_gauge_follows_the_control_topic() -> None:
    from core import codec
    from core.control import KILL_SWITCH, ControlState, control_record
    from core.settings import KafkaSettings

    state = ControlState(KafkaSettings())

    def msg(active: bool) -> Any:
        value = codec.encode_record(control_record(KILL_SWITCH, "KILL_SWITCH", active, reason="test", source="test"))
        return SimpleNamespace(key=lambda: KILL_SWITCH.encode(), value=lambda: value, offset=lambda: 0)

    state._on_record(msg(True))
    assert _sample("arb_kill_switch_active") == 1.0
    state._on_record(msg(False))
    assert _sample("arb_kill_switch_active") == 0.0


def test_unsynced_books_are_counted_per_venue() -> None:
    books = {"KALSHI": [SimpleNamespace(synced=True), SimpleNamespace(synced=False)], "POLYMARKET": [SimpleNamespace(synced=False)] * 3}
    collector = metrics.FeedCollector(lambda: [], books=lambda: list(books.items()))
    (fam,) = [f for f in collector.collect() if f.name == "arb_feed_unsynced_books"]
    assert {s.labels["venue"]: s.value for s in fam.samples} == {"KALSHI": 1.0, "POLYMARKET": 3.0}
    # without a books source (the roles that have no feed) the family is still declared, empty
    (empty,) = [f for f in metrics.FeedCollector(lambda: []).collect() if f.name == "arb_feed_unsynced_books"]
    assert empty.samples == []


def test_produce_exports_its_feeds_books() -> None:
    src = (REPO / "cli" / "commands" / "produce.py").read_text()
    assert re.search(r"register_feeds\(.*\n?.*books=lambda: \[\(v, f\.books\.books\.values\(\)\)", src)


def test_reconcile_drift_gauge() -> None:
    metrics.set_reconcile_drift(3, 0)  # port 0: set, not served
    assert _sample("arb_reconcile_drift_instruments") == 3.0
    metrics.set_reconcile_drift(0, 0)
    assert _sample("arb_reconcile_drift_instruments") == 0.0
    src = (REPO / "cli" / "commands" / "positions.py").read_text()
    assert 'set_reconcile_drift(len(rec["drift"]), rt.metrics_port)' in src
