"""`arb preflight` against the simulators and the test broker: passes with the simulators' credentials, fails
with the reason on a wrong key, an engaged kill switch or a missing topic; never sends an order."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import secrets
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from core.config import Secret
from core.control import KILL_SWITCH, control_record, publish
from core.settings import KafkaSettings
from simulators.runner import Simulator
from simulators.settings import SimSettings
from venues.polymarket.eip712 import address_of

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


@dataclass
class Rig:
    sim: Simulator
    kafka: KafkaSettings
    env: dict[str, str]
    key_file: Path


def _pem(key: Any) -> bytes:
    return bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))


@pytest.fixture
async def rig(topics: KafkaSettings, tmp_path: Path) -> AsyncIterator[Rig]:
    wallet = secrets.token_bytes(32)
    l2 = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    settings = SimSettings(games=1, updates_per_s=0, arb_rate_per_min=0, autostart=False, kalshi_tier="unlimited", poly_address=address_of(wallet),
                           poly_api_key="preflight-key", poly_secret=Secret(l2), poly_passphrase=Secret("pp-preflight"))
    async with Simulator(settings) as sim:
        assert sim.kalshi_private_key is not None
        key_file = tmp_path / "kalshi.pem"
        key_file.write_bytes(_pem(sim.kalshi_private_key))
        env = {k: v for k, v in os.environ.items() if not k.startswith("ARB_")}
        env.update({"ARB_BOOTSTRAP": topics.bootstrap, "ARB_TOPIC_PREFIX": topics.topic_prefix, "ARB_LOG_FORMAT": "human",
                    "ARB_KALSHI_REST_URL": sim.kalshi_url, "ARB_KALSHI_KEY_ID": sim.settings.kalshi_key_id, "ARB_KALSHI_PRIVATE_KEY_FILE": str(key_file),
                    "ARB_POLY_CLOB_URL": sim.poly_clob_url, "ARB_POLY_API_KEY": "preflight-key", "ARB_POLY_PRIVATE_KEY": wallet.hex(),
                    "ARB_POLY_API_SECRET": l2, "ARB_POLY_PASSPHRASE": "pp-preflight"})
        yield Rig(sim, topics, env, key_file)


async def preflight(rig: Rig, *args: str, **env: str) -> tuple[int, dict[str, Any], str]:
    """Run `arb preflight --json` as its own process (it runs its own event loop) while the simulator serves here."""
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "cli", "preflight", "--json", *args, cwd=REPO, env={**rig.env, **env},
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 90)
    assert proc.returncode is not None
    report = json.loads(out.decode().strip().splitlines()[-1]) if out.strip() else {}
    return proc.returncode, report, err.decode()


def status(report: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {c["check"]: (c["status"], c["detail"]) for c in report["checks"]}


def orders_sent(sim: Simulator) -> int:
    return len(sim.world.orderlog.records)  # every order request either venue received, refused or not


async def test_passes_against_the_simulators(rig: Rig) -> None:
    rc, report, err = await preflight(rig)
    checks = status(report)
    assert rc == 0 and report["ok"], (checks, err)
    for name in ("KALSHI credentials", "KALSHI balance", "KALSHI clock", "POLYMARKET credentials", "POLYMARKET balance", "POLYMARKET clock",
                 "kafka topics", "kafka group", "kafka transactions", "kill switch"):
        assert checks[name][0] == "ok", (name, checks[name])
    assert checks["KALSHI balance"][1].startswith("$10,000.00")  # ARB_SIM_KALSHI_BALANCE
    assert checks["POLYMARKET balance"][1].startswith("$10,000.00")  # ARB_SIM_POLY_BALANCE, read from GET /balance-allowance
    assert checks["mode"] == ("ok", checks["mode"][1]) and checks["mode"][1].startswith("simulators")
    assert {v["venue"] for v in report["would_trade"]["venues"]} == {"KALSHI", "POLYMARKET"}
    assert orders_sent(rig.sim) == 0


async def test_a_wrong_kalshi_key_fails_with_the_reason(rig: Rig) -> None:
    rig.key_file.write_bytes(_pem(rsa.generate_private_key(public_exponent=65537, key_size=2048)))
    rc, report, err = await preflight(rig)
    checks = status(report)
    assert rc == 1 and not report["ok"], err
    state, detail = checks["KALSHI credentials"]
    assert state == "FAIL" and "401" in detail and "key" in detail, detail
    assert checks["POLYMARKET credentials"][0] == "ok"  # the other venue is still judged


async def test_a_wrong_polymarket_secret_fails_with_the_reason(rig: Rig) -> None:
    rc, report, _ = await preflight(rig, ARB_POLY_API_SECRET=base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())
    state, detail = status(report)["POLYMARKET credentials"]
    assert rc == 1 and state == "FAIL" and "401" in detail, detail


async def test_an_engaged_kill_switch_and_a_missing_topic_fail(rig: Rig) -> None:
    publish(rig.kafka, control_record(KILL_SWITCH, "KILL_SWITCH", True, reason="preflight test", source="test"))
    rc, report, _ = await preflight(rig)
    state, detail = status(report)["kill switch"]
    assert rc == 1 and state == "FAIL" and "preflight test" in detail
    rc, report, _ = await preflight(rig, ARB_TOPIC_PREFIX=rig.kafka.topic_prefix + "missing.")
    state, detail = status(report)["kafka topics"]
    assert rc == 1 and state == "FAIL" and "signals" in detail, detail


async def test_unencrypted_credentials_to_a_non_simulator_are_not_sent(rig: Rig) -> None:
    # 127.0.0.1 is local, so reach the simulator under a name that is not declared a simulator: the check must
    # refuse before any request (the name does not even resolve here).
    rc, report, _ = await preflight(rig, "--live", ARB_KALSHI_REST_URL="http://kalshi-proxy.invalid:1/trade-api/v2")
    checks = status(report)
    assert rc == 1 and checks["mode"][0] == "FAIL" and "unencrypted" in checks["mode"][1]
    assert checks["KALSHI credentials"][0] == "skip" and "not sent" in checks["KALSHI credentials"][1]
