"""The compose stack, checked without a Docker engine: it parses; every service runs a real `arb`
command; every variable it sets is one the settings loader reads (secrets only as *_FILE); Prometheus
scrapes every role on its metrics port; the Grafana dashboard only queries metrics the code exports; the
demo profile's endpoints and credential files are the ones the simulator serves and writes; the image
installs every package."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from cli.settings_index import all_settings
from core.metrics import METRIC_NAMES
from tests.conftest import REPO

COMPOSE: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
ARB_SERVICES = {n: s for n, s in SERVICES.items() if s.get("image") == "arb:latest"}
SETTINGS = {d.env: d for d in all_settings()}
ROLES = {n for n, s in ARB_SERVICES.items() if s.get("environment", {}).get("ARB_METRICS_PORT")}
INTERPOLATION = re.compile(r"^\$\{(?P<name>\w+)(?::?-(?P<default>.*))?\}$")


def _environments(node: Any, where: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every `environment` mapping anywhere in the file: services and x- anchors alike."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "environment" and isinstance(v, dict):
                yield where, v
            elif k == "environment" and isinstance(v, list):
                yield where, {str(e).partition("=")[0]: str(e).partition("=")[2] for e in v}
            else:
                yield from _environments(v, f"{where}.{k}" if where else str(k))


ARB_ENV = {(where, k): v for where, env in _environments(COMPOSE) for k, v in env.items() if k.startswith("ARB_")}


def _default(value: Any) -> str:
    """The value a variable takes with an empty .env: `${X:-d}` -> d, literals as they are."""
    m = INTERPOLATION.match(str(value))
    return (m["default"] or "") if m else str(value)


def test_file_parses_and_has_the_stack() -> None:
    assert {"kafka", "schema-registry", "kafka-ui", "topic-init", "discover", "feed-kalshi", "feed-polymarket", "processor", "executor",
            "positions", "prometheus", "grafana", "sim"} <= set(SERVICES)
    kafka = SERVICES["kafka"]
    assert kafka["image"].startswith("apache/kafka:") and kafka["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert f"kafka-data:{kafka['environment']['KAFKA_LOG_DIRS']}" in kafka["volumes"]  # the log lives on the volume


def test_compose_kafka_is_the_local_brokers_release_with_its_settings() -> None:
    # One Kafka: the compose image and `arb broker` / the tests run the same release, with the same
    # broker settings (the local broker adds only test settings, localkafka/broker.py LOCAL_SETTINGS).
    from localkafka.broker import COMPOSE_SETTINGS
    from localkafka.dist import read_lock

    kafka = SERVICES["kafka"]
    assert kafka["image"] == f"apache/kafka:{read_lock().kafka_version}"
    env = {k: str(v) for k, v in kafka["environment"].items()}
    for key, value in COMPOSE_SETTINGS.items():
        assert env.get("KAFKA_" + key.upper().replace(".", "_")) == value, key
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"  # only topic-init (`arb topics create`) creates topics
    assert SERVICES["kafka-ui"]["environment"]["KAFKA_CLUSTERS_0_SCHEMAREGISTRY"] == "http://schema-registry:8081"
    assert _default(SERVICES["executor"]["environment"]["ARB_SCHEMA_REGISTRY_URL"]) == "http://schema-registry:8081"
    assert SERVICES["sim"]["profiles"] == ["demo"]
    assert all("profiles" not in s for n, s in SERVICES.items() if n != "sim")  # the real stack needs no profile


@pytest.mark.parametrize("name", sorted(ARB_SERVICES))
def test_every_service_runs_an_existing_arb_command(name: str) -> None:
    cmd = [str(c) for c in ARB_SERVICES[name]["command"]]
    words = [c for c in cmd if not c.startswith("-")][:2]  # subcommand (+ sub-subcommand), without flag values
    proc = subprocess.run([sys.executable, "-m", "cli", *cmd, "--help"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: arb " + cmd[0]), proc.stdout[:200]
    assert words and words[0] == cmd[0]


def test_every_variable_is_read_by_the_settings_loader() -> None:
    assert ARB_ENV, "no ARB_* variables found"
    assert any(where.startswith("x-") for where, _ in ARB_ENV), "the x- anchor is not walked"
    for (where, env), _value in ARB_ENV.items():
        if env in SETTINGS:
            continue
        base = env.removesuffix("_FILE")
        assert env.endswith("_FILE") and base in SETTINGS, f"{where}: {env} is set in docker-compose.yml but no setting reads it"
        assert SETTINGS[base].secret, f"{where}: {env}: only secrets are read from <ENV>_FILE"


def test_no_secret_value_in_the_environment() -> None:
    for (where, env), value in ARB_ENV.items():
        if env in SETTINGS and SETTINGS[env].secret:
            pytest.fail(f"{where}: secret {env} set in the environment; use {env}_FILE")
        if env.endswith("_FILE"):
            assert _default(value) == "" or _default(value).startswith("/"), f"{where}: {env} must default to a path (or unset), not {value!r}"
    assert "secrets" not in COMPOSE or all("environment" not in s for s in COMPOSE["secrets"].values())


def test_scaling_restarts_healthchecks_and_start_order() -> None:
    proc = SERVICES["processor"]
    assert "container_name" not in proc and "ports" not in proc and "hostname" not in proc
    assert not any("container_name" in s for s in SERVICES.values())
    for name in ROLES:
        s = SERVICES[name]
        assert s["depends_on"]["topic-init"]["condition"] == "service_completed_successfully", name
        # With the demo profile the roles start once the simulator serves (and has written the credentials
        # they read); without it there is no sim, and `required: false` makes that no error.
        assert s["depends_on"]["sim"] == {"condition": "service_healthy", "required": False}, name
        assert s["restart"] == "unless-stopped" and s["healthcheck"]["test"], name
        port = str(s["environment"]["ARB_METRICS_PORT"])
        assert f":{port}/metrics" in " ".join(s["healthcheck"]["test"]), f"{name}: healthcheck is not on the metrics port"
    assert "executor" in ROLES and {"discover", "feed-kalshi", "feed-polymarket", "processor", "positions"} <= ROLES
    assert SERVICES["topic-init"]["command"] == ["topics", "create"] and SERVICES["topic-init"]["restart"] == "no"
    assert SERVICES["topic-init"]["depends_on"]["kafka"]["condition"] == "service_healthy"
    for name in ("kafka", "schema-registry", "sim"):
        assert SERVICES[name]["healthcheck"]["test"], name
    assert SERVICES["sim"]["profiles"] == ["demo"]


def test_prometheus_scrapes_every_role_on_its_metrics_port() -> None:
    prom = yaml.safe_load((REPO / "deploy" / "prometheus" / "prometheus.yml").read_text())
    jobs = {j["job_name"]: j for j in prom["scrape_configs"] if "dns_sd_configs" in j}
    assert set(jobs) == ROLES
    for name, job in jobs.items():
        (sd,) = job["dns_sd_configs"]
        assert sd["names"] == [name] and sd["type"] == "A"
        assert str(sd["port"]) == str(ARB_SERVICES[name]["environment"]["ARB_METRICS_PORT"]), name
    mounts = " ".join(SERVICES["prometheus"]["volumes"])
    assert "./deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml" in mounts


def test_dashboard_queries_only_exported_metrics() -> None:
    dash = json.loads((REPO / "deploy" / "grafana" / "dashboards" / "arb.json").read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    used = {re.sub(r"_(bucket|sum|count)$", "", m) for e in exprs for m in re.findall(r"\barb_[a-z0-9_]+", e)}
    assert used and used <= set(METRIC_NAMES), used - set(METRIC_NAMES)
    for key in ("arb_tick_to_order_sent_seconds", "arb_orders_total", "arb_breaker_state", "arb_locked_pnl_usd", "arb_one_sided_total",
                "arb_exposure_usd"):
        assert key in used


def test_grafana_provisioning_is_wired() -> None:
    prov = REPO / "deploy" / "grafana" / "provisioning"
    (ds,) = yaml.safe_load((prov / "datasources" / "prometheus.yml").read_text())["datasources"]
    assert urlsplit(ds["url"]).hostname == "prometheus" and urlsplit(ds["url"]).port == 9090
    dash = json.loads((REPO / "deploy" / "grafana" / "dashboards" / "arb.json").read_text())
    assert {p["datasource"]["uid"] for p in dash["panels"]} == {ds["uid"]}
    (provider,) = yaml.safe_load((prov / "dashboards" / "arb.yml").read_text())["providers"]
    mounts = dict(v.rsplit(":", 1)[0].split(":", 1) for v in SERVICES["grafana"]["volumes"])
    assert mounts["./deploy/grafana/dashboards"] == provider["options"]["path"]
    assert mounts["./deploy/grafana/provisioning"] == "/etc/grafana/provisioning"


def _flag(cmd: list[str], flag: str) -> str:
    return str(cmd[cmd.index(flag) + 1])


def test_demo_endpoints_point_at_the_simulator_ports() -> None:
    sim = [str(c) for c in SERVICES["sim"]["command"]]
    assert _flag(sim, "--host") == "0.0.0.0"  # noqa: S104 - reachable from the other containers; no host port but admin
    ports = {"ARB_KALSHI_REST_URL": "--kalshi-port", "ARB_KALSHI_WS_URL": "--kalshi-port", "ARB_POLY_CLOB_URL": "--poly-clob-port",
             "ARB_POLY_WS_URL": "--poly-clob-port", "ARB_GAMMA_URL": "--poly-gamma-port"}
    env = SERVICES["feed-kalshi"]["environment"]
    for var, flag in ports.items():
        url = urlsplit(_default(env[var]))
        assert (url.hostname, str(url.port)) == ("sim", _flag(sim, flag)), var
    assert urlsplit(_default(env["ARB_KALSHI_REST_URL"])).path == "/trade-api/v2"
    assert urlsplit(_default(env["ARB_KALSHI_WS_URL"])).path == "/trade-api/ws/v2"


def test_demo_credentials_are_the_files_the_simulator_writes(tmp_path: Path) -> None:
    """Run the simulator briefly with the compose service's --credentials-out, into a temp dir."""
    sim = [str(c) for c in SERVICES["sim"]["command"]]
    shared = _flag(sim, "--credentials-out")
    assert any(v.endswith(f":{shared}") for v in SERVICES["sim"]["volumes"])
    proc = subprocess.run([sys.executable, "-m", "cli", "sim", "--games", "1", "--duration", "0.2", "--credentials-out", str(tmp_path)],
                          cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    written = {p.name for p in tmp_path.iterdir()}
    client_env = dict(line.split("=", 1) for line in (tmp_path / "client.env").read_text().split())
    for name in ("feed-kalshi", "executor"):
        s = SERVICES[name]
        assert any(v.split(":")[:2] == SERVICES["sim"]["volumes"][0].split(":")[:2] for v in s["volumes"]), f"{name}: no shared volume"
        for env, value in s["environment"].items():
            path = _default(value)
            if env.endswith("_FILE") and path.startswith(shared + "/"):
                assert path.removeprefix(shared + "/") in written, f"{name}: {env}={path} is not written by the simulator"
            if env in client_env:
                assert path == client_env[env], f"{name}: {env} default {path!r} is not the simulator's {client_env[env]!r}"
    exec_env = SERVICES["executor"]["environment"]
    for env in ("ARB_KALSHI_PRIVATE_KEY_FILE", "ARB_POLY_PRIVATE_KEY_FILE", "ARB_POLY_API_SECRET_FILE", "ARB_POLY_PASSPHRASE_FILE"):
        assert _default(exec_env[env]).startswith(shared + "/"), env


def test_image_installs_every_package_and_runs_arb_unprivileged() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    lines = [ln.strip() for ln in dockerfile.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    assert lines[0] == "FROM python:3.11-slim"
    assert 'ENTRYPOINT ["arb"]' in lines and "pip install ." in dockerfile
    users = [ln.split()[1] for ln in lines if ln.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    copied = {ln.split()[1] for ln in lines if ln.startswith("COPY ")} | {w for ln in lines if ln.startswith("COPY ") for w in ln.split()[1:-1]}
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    packages = {p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]}
    assert packages <= copied, f"not copied into the image: {packages - copied}"
    assert {"pyproject.toml", "README.md"} <= copied
    ignore = (REPO / ".dockerignore").read_text().split()
    assert "deploy/secrets/*" in ignore and ".git" in ignore and ".venv" in ignore
    gitignore = (REPO / ".gitignore").read_text().split()
    assert "deploy/secrets/*" in gitignore and "!deploy/secrets/README.md" in gitignore


# --- issue 27: secrets and the stack's hardening -------------------------------------------------------------------
SECRETS_DIR = "./deploy/secrets"
# The credentials each role uses (directories of deploy/secrets); every other service gets none.
ROLE_SECRETS = {"discover": {"kalshi"}, "feed-kalshi": {"kalshi"}, "executor": {"kalshi", "polymarket"}, "notify": {"notify"},
                "positions": {"kalshi"},
                "grafana": {"grafana"}}


def _secret_mounts(service: dict[str, Any]) -> dict[str, str]:
    """deploy/secrets mounts of a service: source -> the mount spec."""
    out = {}
    for v in service.get("volumes", []):
        source = str(v).split(":", 1)[0].rstrip("/")
        if source == SECRETS_DIR or source.startswith(SECRETS_DIR + "/"):
            out[source] = str(v)
    return out


def test_each_role_mounts_only_the_credentials_it_uses() -> None:
    """Compose mounted all of deploy/secrets into every container: the processor, the feeds and positions could
    read the Polymarket wallet key."""
    for name, s in SERVICES.items():
        mounts = _secret_mounts(s)
        assert SECRETS_DIR not in mounts, f"{name} mounts the whole {SECRETS_DIR}"
        assert all(spec.endswith(":ro") for spec in mounts.values()), f"{name}: credentials must be mounted read-only"
        got = {src.removeprefix(SECRETS_DIR + "/") for src in mounts}
        assert got == ROLE_SECRETS.get(name, set()), f"{name} mounts {sorted(got)}, uses {sorted(ROLE_SECRETS.get(name, set()))}"
    # the demo's throwaway credentials (the `shared` volume) likewise only where a *_FILE default points into it
    for name, s in SERVICES.items():
        reads_shared = any(k.endswith("_FILE") and _default(v).startswith("/shared/") for k, v in s.get("environment", {}).items())
        has_shared = any(str(v).split(":")[0] == "shared" for v in s.get("volumes", []))
        assert has_shared == (reads_shared or name == "sim"), name


def test_documented_secret_paths_are_mounted_where_they_are_read() -> None:
    """Every `ARB_*_FILE=/run/secrets/arb/<dir>/<file>` of deploy/secrets/README.md lies in a directory mounted
    into each service that sets that variable, and nowhere else."""
    doc = (REPO / "deploy" / "secrets" / "README.md").read_text()
    paths = dict(re.findall(r"^\s*(ARB_\w+_FILE)=(/run/secrets/arb/\S+)$", doc, re.MULTILINE))
    assert {"ARB_KALSHI_PRIVATE_KEY_FILE", "ARB_POLY_PRIVATE_KEY_FILE", "ARB_POLY_API_SECRET_FILE", "ARB_POLY_PASSPHRASE_FILE"} <= set(paths)
    for env, path in paths.items():
        users = {n for n, s in ARB_SERVICES.items() if env in s.get("environment", {})}
        assert users, f"{env} is documented but no service sets it"
        for name, s in ARB_SERVICES.items():
            targets = [str(v).split(":")[1] for v in _secret_mounts(s).values()]
            mounted = any(path.startswith(t.rstrip("/") + "/") for t in targets)
            assert mounted == (name in users), f"{name}: {path} ({env}) {'not ' if name in users else ''}mounted"


def test_kafka_ui_is_the_maintained_kafbat_image_and_read_only() -> None:
    ui = SERVICES["kafka-ui"]
    assert ui["image"].split(":")[0] == "kafbat/kafka-ui", "provectuslabs/kafka-ui is unmaintained; kafbat/kafka-ui continues it"
    assert str(ui["environment"]["KAFKA_CLUSTERS_0_READONLY"]).lower() == "true"


def test_grafana_is_current_and_its_admin_password_is_a_secret() -> None:
    g = SERVICES["grafana"]
    name, tag = g["image"].split(":")
    assert name == "grafana/grafana" and int(tag.split(".")[0]) >= 13, g["image"]
    env = {k: str(v) for k, v in g["environment"].items()}
    assert "GF_SECURITY_ADMIN_PASSWORD" not in env and "GF_SECURITY_ADMIN_USER" not in env  # not admin/admin, no value here
    assert "secrets" not in COMPOSE  # a compose secret file must exist before `up`: the demo profile would need set-up
    script = g["entrypoint"][-1]
    given = "/run/secrets/arb/grafana/admin-password"
    assert f"given={given}" in script and f"{SECRETS_DIR}/grafana:/run/secrets/arb/grafana:ro" in g["volumes"]  # the user's own
    assert "umask 077" in script and "/dev/urandom" in script  # else a random one, readable by Grafana only
    assert script.count("export GF_SECURITY_ADMIN_PASSWORD__FILE=") == 2 and script.rstrip().endswith("exec /run.sh")
    assert env["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"  # anonymous users only view


def test_images_are_pinned_by_exact_tag() -> None:
    for name, s in SERVICES.items():
        if "build" in s:  # the arb image is built from this checkout
            continue
        image = s["image"]
        assert re.fullmatch(r"[\w./-]+:v?\d+\.\d+\.\d+(@sha256:[0-9a-f]{64})?", image), f"{name}: {image} is not pinned to an exact release"


def test_env_files_are_not_committed() -> None:
    gitignore = (REPO / ".gitignore").read_text().split()
    assert ".env" in gitignore  # it names the real venues and key paths; never a secret's value, but local all the same


def test_the_compose_demo_runs_games_with_the_same_life_as_arb_demo() -> None:
    """Games that never end stop the demo trading once the exposure limit is reached (issue 26)."""
    from demo.run import DEMO_GAME_LIFE

    env = SERVICES["sim"]["environment"]
    assert {k: _default(env[k]) for k in DEMO_GAME_LIFE} == DEMO_GAME_LIFE
