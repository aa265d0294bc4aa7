"""`arb demo`: the whole pipeline as separate processes against the simulators (issue 7 acceptance)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.integration


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (exited, not yet reaped by init) is not a surviving process
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _descendants(pid: int) -> set[int]:
    """Every process whose ancestry includes pid (from /proc)."""
    parents: dict[int, int] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                parents[int(d.name)] = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    out: set[int] = set()
    frontier = {pid}
    while frontier:
        nxt = {c for c, p in parents.items() if p in frontier and c not in out}
        out |= nxt
        frontier = nxt
    return out


@pytest.mark.timeout(240)
def test_demo_headless_summary(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "cli", "demo", "--duration", "30", "--json", "--workdir", str(tmp_path)],
                          cwd=REPO, capture_output=True, text=True, timeout=220)
    logs = "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-1500:]}" for p in sorted(tmp_path.glob("*.log")))
    assert proc.returncode == 0, proc.stderr[-3000:] + logs
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(summary) >= {"ticks", "signals", "orders", "fills", "one_sided", "unwinds", "pnl", "duplicates", "latency_ms"}
    assert summary["ticks"] > 0 and summary["signals"] > 0 and summary["orders"] > 0 and summary["fills"] > 0, (summary, logs)
    assert summary["duplicates"] == 0, summary
    assert summary["positions_match"] is True, summary["position_drift"]
    assert summary["latency_ms"]["p50"] is not None and summary["latency_ms"]["p99"] >= summary["latency_ms"]["p50"]
    everything = "\n".join(p.read_text(errors="replace") for p in tmp_path.glob("*.log")) + proc.stdout + proc.stderr
    for secret in ("poly-private-key", "poly-l2-secret", "poly-passphrase"):
        value = (tmp_path / secret).read_text().strip()
        assert value and value not in everything, f"{secret} leaked into the logs"
    pem_body = [ln for ln in (tmp_path / "kalshi.pem").read_text().splitlines() if ln and not ln.startswith("-----")]
    assert pem_body and not any(ln in everything for ln in pem_body), "the Kalshi private key leaked into the logs"
    # no signature either: EIP-712 order signatures (0x + 130 hex) or Kalshi request signatures (KALSHI-ACCESS-SIGNATURE)
    assert not re.search(r"0x[0-9a-fA-F]{130}", everything) and "KALSHI-ACCESS-SIGNATURE" not in everything.upper().replace("_", "-")


@pytest.mark.timeout(180)
def test_sigint_leaves_no_child_behind(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "cli", "demo", "--json", "--workdir", str(tmp_path)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        pids: dict[str, int] = {}
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                pids = json.loads((tmp_path / "pids.json").read_text())
            except (OSError, ValueError):
                pids = {}
            if "positions" in pids or ("execute" in pids and len(pids) >= 6):
                break
            time.sleep(0.2)
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        time.sleep(2)  # let the children get going (e.g. the broker binary under `arb broker`)
        family = _descendants(proc.pid)
        assert set(pids.values()) <= family and len(family) >= len(pids)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(_alive(p) for p in family):
            time.sleep(0.1)
        assert not [p for p in family if _alive(p)], "children survived SIGINT"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
