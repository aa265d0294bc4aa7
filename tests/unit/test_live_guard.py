"""Live trading is a choice: `arb execute` sends orders (and credentials) to a real venue only with --live or
ARB_LIVE=1, and credentials only over https except to simulators (local hosts, ARB_SIMULATOR_HOSTS).

Real hosts: Kalshi production external-api.kalshi.com / api.elections.kalshi.com and demo
external-api.demo.kalshi.co / demo-api.kalshi.co (docs.kalshi.com/getting_started/api_environments);
Polymarket clob.polymarket.com (docs.polymarket.com, the official clients' default host)."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import pytest

from cli.main import main
from core.config import load
from executor.live_guard import Endpoint, classify, refusal, trading_endpoints
from executor.settings import ExecutorSettings
from venues.kalshi.settings import KalshiSettings
from venues.polymarket.settings import PolymarketSettings

DEFAULT_SIMS = load(ExecutorSettings, env={}).simulator_hosts
REAL = [
    ("https://external-api.kalshi.com/trade-api/v2", "Kalshi production"),
    ("https://api.elections.kalshi.com/trade-api/v2", "Kalshi production"),
    ("https://external-api.demo.kalshi.co/trade-api/v2", "Kalshi demo"),
    ("https://demo-api.kalshi.co/trade-api/v2", "Kalshi demo"),
    ("https://clob.polymarket.com", "Polymarket"),
    ("https://CLOB.Polymarket.com./", "Polymarket"),
]
SIMULATORS = ["http://127.0.0.1:8001/trade-api/v2", "http://localhost:8002", "http://[::1]:8002", "http://127.3.4.5:1",
              "http://venues.localhost:9", "http://sim:8001/trade-api/v2", "http://SIM.:8002"]


def kalshi(url: str) -> Endpoint:
    return Endpoint("KALSHI", "ARB_KALSHI_REST_URL", url)


@pytest.mark.parametrize(("url", "name"), REAL)
def test_real_venue_hosts_are_live(url: str, name: str) -> None:
    t = classify(kalshi(url), DEFAULT_SIMS)
    assert not t.simulator and t.name == name


@pytest.mark.parametrize("url", SIMULATORS)
def test_local_hosts_and_the_compose_simulator_are_simulators(url: str) -> None:
    assert classify(kalshi(url), DEFAULT_SIMS).simulator
    assert refusal([kalshi(url)], live=False, simulator_hosts=DEFAULT_SIMS) is None  # nothing needed, plain http allowed


def test_an_unlisted_host_fails_closed_and_a_real_host_is_never_a_simulator() -> None:
    assert classify(kalshi("https://my-proxy.example/trade-api/v2"), DEFAULT_SIMS).name == "an unlisted host"
    assert refusal([kalshi("https://my-proxy.example/trade-api/v2")], live=False, simulator_hosts=DEFAULT_SIMS) is not None
    assert classify(kalshi("https://my-proxy.example/x"), ("my-proxy.example",)).simulator  # declared: a simulator
    assert not classify(kalshi("https://clob.polymarket.com"), ("clob.polymarket.com",)).simulator  # a real venue stays one


@pytest.mark.parametrize(("url", "_"), REAL)
def test_a_real_venue_needs_live(url: str, _: str) -> None:
    why = refusal([kalshi(url)], live=False, simulator_hosts=DEFAULT_SIMS)
    assert why is not None and "--live" in why and "ARB_LIVE=1" in why and "\n" not in why
    assert refusal([kalshi(url)], live=True, simulator_hosts=DEFAULT_SIMS) is None


def test_credentials_only_over_https_except_to_simulators() -> None:
    for url in ("http://external-api.kalshi.com/trade-api/v2", "http://my-proxy.example/trade-api/v2"):
        why = refusal([kalshi(url)], live=True, simulator_hosts=DEFAULT_SIMS)  # --live does not lift it
        assert why is not None and "https" in why and "unencrypted" in why
    assert refusal([kalshi("http://my-proxy.example/x")], live=True, simulator_hosts=("my-proxy.example",)) is None
    for url in ("ftp://127.0.0.1/x", "not a url", ""):
        assert refusal([kalshi(url)], live=True, simulator_hosts=DEFAULT_SIMS) is not None


def test_every_endpoint_counts_and_paper_or_no_credentials_need_nothing() -> None:
    mixed = [kalshi("http://127.0.0.1:1/trade-api/v2"), Endpoint("POLYMARKET", "ARB_POLY_CLOB_URL", "https://clob.polymarket.com")]
    why = refusal(mixed, live=False, simulator_hosts=DEFAULT_SIMS)
    assert why is not None and "POLYMARKET at clob.polymarket.com (Polymarket)" in why and "KALSHI" not in why
    assert refusal([], live=False, simulator_hosts=DEFAULT_SIMS) is None


def test_the_default_urls_are_production_and_only_configured_venues_are_endpoints() -> None:
    k, p = KalshiSettings(), PolymarketSettings()
    assert trading_endpoints(k, p) == []  # no credentials: no client, no orders
    k = KalshiSettings(key_id="key")
    assert [e.venue for e in trading_endpoints(k, p)] == ["KALSHI"]
    assert refusal(trading_endpoints(k, p), live=False, simulator_hosts=DEFAULT_SIMS) is not None  # the defaults are live
    p = load(PolymarketSettings, env={"ARB_POLY_API_KEY": "k", "ARB_POLY_PRIVATE_KEY": "11" * 32})
    assert [e.venue for e in trading_endpoints(k, p)] == ["KALSHI", "POLYMARKET"]
    assert [e.url for e in trading_endpoints(k, p)] == ["https://external-api.kalshi.com/trade-api/v2", "https://clob.polymarket.com"]


def test_settings() -> None:
    env = {f.metadata["env"] for f in fields(ExecutorSettings)}
    assert {"ARB_LIVE", "ARB_SIMULATOR_HOSTS"} <= env
    assert load(ExecutorSettings, env={"ARB_LIVE": "1"}).live and not load(ExecutorSettings, env={}).live
    assert {"localhost", "sim"} <= set(DEFAULT_SIMS)
    assert load(ExecutorSettings, env={"ARB_SIMULATOR_HOSTS": "a, b"}).simulator_hosts == ("a", "b")


# --- `arb execute` ---------------------------------------------------------------------------------


class Built(Exception):
    """Raised by the stand-in for executor.run.build: the command got past the guard."""


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    import os

    for name in [n for n in os.environ if n.startswith("ARB_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("ARB_LOG_FORMAT", "human")
    calls: list[Any] = []

    def build(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs)
        raise Built()

    monkeypatch.setattr("executor.run.build", build)
    return calls


def test_execute_without_live_against_a_real_venue_exits_2_with_one_line(cli_env: list[Any], monkeypatch: pytest.MonkeyPatch,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ARB_KALSHI_KEY_ID", "a-demo-key")
    monkeypatch.setenv("ARB_KALSHI_REST_URL", "https://external-api.demo.kalshi.co/trade-api/v2")
    assert main(["execute"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("arb execute: refusing to trade live") and "Kalshi demo" in err
    assert cli_env == []  # no client was built: nothing was sent, not even credentials


@pytest.mark.parametrize("how", ["--live", "ARB_LIVE=1"])
def test_execute_with_live_goes_ahead(cli_env: list[Any], monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    monkeypatch.setenv("ARB_KALSHI_KEY_ID", "a-demo-key")
    monkeypatch.setenv("ARB_KALSHI_REST_URL", "https://external-api.demo.kalshi.co/trade-api/v2")
    if how == "ARB_LIVE=1":
        monkeypatch.setenv("ARB_LIVE", "1")
    with pytest.raises(Built):
        main(["execute", "--live"] if how == "--live" else ["execute"])


def test_the_compose_demo_and_paper_need_no_flag(cli_env: list[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    # docker-compose.yml's executor: the `sim` host, demo credentials, no --live.
    for name, value in {"ARB_KALSHI_REST_URL": "http://sim:8001/trade-api/v2", "ARB_KALSHI_KEY_ID": "sim-kalshi-key",
                        "ARB_POLY_CLOB_URL": "http://sim:8002", "ARB_POLY_API_KEY": "00000000-0000-4000-8000-000000005157",
                        "ARB_POLY_PRIVATE_KEY": "11" * 32}.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(Built):
        main(["execute"])
    monkeypatch.setenv("ARB_KALSHI_REST_URL", "https://external-api.kalshi.com/trade-api/v2")
    with pytest.raises(Built):
        main(["execute", "--paper"])
    assert cli_env[-1].get("paper") is True
