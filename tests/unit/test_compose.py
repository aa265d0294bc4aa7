"""The compose stack, checked without a Docker engine: it parses; every service runs a real `arb`
command; every variable it sets is one the settings loader reads (secrets only as *_FILE); Prometheus
scrapes every role on its metrics port; the Grafana dashboard only queries metrics the code exports."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from typing import Any

import pytest
import yaml

from core.config import all_settings
from core.metrics import METRIC_NAMES
from tests.conftest import REPO

COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
ARB_SERVICES = {n: s for n, s in SERVICES.items() if s.get("image") == "arb:latest"}
SETTINGS = {d.env: d for d in all_settings()}
ROLES = {n for n, s in ARB_SERVICES.items() if s.get("environment", {}).get("ARB_METRICS_PORT")}


def test_file_parses_and_has_the_stack() -> None:
    assert SERVICES["kafka-ui"]["environment"]["KAFKA_CLUSTERS_0_SCHEMAREGISTRY"].endswith("schema-registry:8081")
    assert {"kafka", "schema-registry", "kafka-ui", "topic-init", "discover", "feed-kalshi", "feed-polymarket", "processor", "executor", "positions", "prometheus",
            "grafana", "sim"} <= set(SERVICES)
    assert SERVICES["kafka"]["image"].startswith("apache/kafka") and "KAFKA_PROCESS_ROLES" in SERVICES["kafka"]["environment"]
    assert SERVICES["sim"]["profiles"] == ["demo"]


@pytest.mark.parametrize("name", sorted(ARB_SERVICES))
def test_every_service_runs_an_existing_arb_command(name: str) -> None:
    cmd = [str(c) for c in ARB_SERVICES[name]["command"]]
    proc = subprocess.run([sys.executable, "-m", "cli", *cmd, "--help"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: arb " + cmd[0])


def _env_names() -> set[str]:
    names: set[str] = set()
    for s in ARB_SERVICES.values():
        names |= set((s.get("environment") or {}).keys())
    return names


def test_every_variable_is_read_by_the_settings_loader() -> None:
    for env in _env_names():
        if env in SETTINGS:
            continue
        base = env.removesuffix("_FILE")
        assert env.endswith("_FILE") and base in SETTINGS, f"{env} is set in docker-compose.yml but no setting reads it"
        assert SETTINGS[base].secret, f"{env}: only secrets are read from <ENV>_FILE"


def test_no_secret_value_in_the_environment() -> None:
    for name, s in ARB_SERVICES.items():
        for env, value in (s.get("environment") or {}).items():
            if env in SETTINGS and SETTINGS[env].secret:
                pytest.fail(f"{name}: secret {env} set as a literal value; use {env}_FILE")
            if env.endswith("_FILE") and value and env not in SETTINGS:
                assert str(value).startswith(("/", "${")), f"{name}: {env} must be a path"


def test_scaling_and_start_order() -> None:
    proc = SERVICES["processor"]
    assert "container_name" not in proc and "ports" not in proc
    for name in ("executor", "processor", "discover", "feed-kalshi", "feed-polymarket", "positions"):
        assert SERVICES[name]["depends_on"]["topic-init"]["condition"] == "service_completed_successfully"
        assert SERVICES[name]["restart"] == "unless-stopped" and "healthcheck" in SERVICES[name]
    assert SERVICES["topic-init"]["command"] == ["topics", "create"]


def test_prometheus_scrapes_every_role() -> None:
    prom = yaml.safe_load((REPO / "deploy" / "prometheus" / "prometheus.yml").read_text())
    (job,) = prom["scrape_configs"]
    (sd,) = job["dns_sd_configs"]
    assert set(sd["names"]) == ROLES
    ports = {str(ARB_SERVICES[n]["environment"]["ARB_METRICS_PORT"]) for n in ROLES}
    assert ports == {str(sd["port"])}


def test_dashboard_queries_only_exported_metrics() -> None:
    dash = json.loads((REPO / "deploy" / "grafana" / "dashboards" / "arb.json").read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    used = {re.sub(r"_(bucket|sum|count)$", "", m) for e in exprs for m in re.findall(r"\barb_[a-z0-9_]+", e)}
    assert used and used <= set(METRIC_NAMES), used - set(METRIC_NAMES)
    for key in ("arb_tick_to_order_sent_seconds", "arb_orders_total", "arb_breaker_state", "arb_locked_pnl_usd"):
        assert key in used
