"""`arb demo`: the whole pipeline as separate processes against the simulators (issue 7 acceptance); games that
end, resolve and settle within the run, with the summary's realized P&L checked against Kafka (issue 26)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from core.config import load
from core.settings import KafkaSettings
from core.topics import partitions, topic_name
from demo.run import Demo, DemoOptions
from demo.stats import money_text
from executor.recovery_reader import read_partition
from schemas.records import to_dict
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
    proc = subprocess.run([sys.executable, "-m", "cli", "demo", "--duration", "30", "--json", "--bucket-s", "10", "--workdir", str(tmp_path)],
                          cwd=REPO, capture_output=True, text=True, timeout=220)
    logs = "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-1500:]}" for p in sorted(tmp_path.glob("*.log")))
    assert proc.returncode == 0, proc.stderr[-3000:] + logs
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(summary) >= {"ticks", "signals", "orders", "fills", "one_sided", "unwinds", "pnl", "duplicates", "latency_ms"}
    assert summary["ticks"] > 0 and summary["signals"] > 0 and summary["orders"] > 0 and summary["fills"] > 0, (summary, logs)
    assert summary["duplicates"] == 0, summary
    assert summary["positions_match"] is True, summary["position_drift"]
    assert summary["latency_ms"]["p50"] is not None and summary["latency_ms"]["p99"] >= summary["latency_ms"]["p50"]
    # issue 26: counts per --bucket-s, games through their life (the demo's default life: none ends within 30 s)
    assert summary["bucket_s"] == 10 and summary["complete_buckets"] >= 2 and len(summary["buckets"]) >= 3, summary
    assert sum(b["signals"] for b in summary["buckets"]) == summary["signals"] and sum(b["fills"] for b in summary["buckets"]) == summary["fills"]
    assert summary["games"]["listed"] == 6 and summary["games"]["ended"] == 0 and summary["games"]["paired"] == 6, summary["games"]
    assert summary["acceptance"]["expired_share"]["ok"] is not None and summary["acceptance"]["pnl_sum"]["ok"] is True
    everything = "\n".join(p.read_text(errors="replace") for p in tmp_path.glob("*.log")) + proc.stdout + proc.stderr
    for secret in ("poly-private-key", "poly-l2-secret", "poly-passphrase"):
        value = (tmp_path / secret).read_text().strip()
        assert value and value not in everything, f"{secret} leaked into the logs"
    pem_body = [ln for ln in (tmp_path / "kalshi.pem").read_text().splitlines() if ln and not ln.startswith("-----")]
    assert pem_body and not any(ln in everything for ln in pem_body), "the Kalshi private key leaked into the logs"
    # no signature either: EIP-712 order signatures (0x + 130 hex) or Kalshi request signatures (KALSHI-ACCESS-SIGNATURE)
    assert not re.search(r"0x[0-9a-fA-F]{130}", everything) and "KALSHI-ACCESS-SIGNATURE" not in everything.upper().replace("_", "-")


def _read_all(kafka: KafkaSettings, logical: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for p in range(partitions(logical, kafka)):
        recs, bad = read_partition(kafka, [topic_name(logical, kafka)], p, stall_s=15)
        assert bad == 0
        out += [to_dict(r) for r in recs]
    return out


def _cash_pnl(fills: list[dict[str, Any]], settlements: list[dict[str, Any]], game: str) -> int:
    """A settled game's realized P&L as cash (1e-6 USD): sales - buys - fees + what the settlements paid for the
    contracts held. A Kalshi YES gets the record's payout, a NO the rest of 1 USD, a Polymarket token its payout."""
    pays: dict[tuple[str, str, str], int] = {}
    for r in settlements:
        pays[(r["venue"], r["market"], "YES")] = r["payout"]
        if r["venue"] == "KALSHI":
            pays[("KALSHI", r["market"], "NO")] = 10_000 - r["payout"]
    cash, held = 0, dict[tuple[str, str, str], int]()
    for f in {f["fill_id"]: f for f in fills if f["game_id"] == game}.values():
        signed = f["size"] if f["action"] == "BUY" else -f["size"]
        cash += -signed * f["price"] - f["fee"]
        k = (f["venue"], f["market"], f["side"])
        held[k] = held.get(k, 0) + signed
    return cash + sum(n * pays[k] for k, n in held.items() if n)


@pytest.mark.timeout(240)
def test_demo_games_end_settle_and_book_realized_pnl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Short game life: a game ends, resolves and settles within the run; the summary counts it, its realized P&L
    equals a recomputation from the fills and settlements on Kafka, and our positions match the simulator's after
    it paid the settled ones out."""
    # The simulator starts games on whole 5 minutes of the wall clock. Aim the first game's start at the last whole
    # 5 minutes (ARB_SIM_FIRST_GAME_AFTER_S negative: the simulator is built within 50 s of now) and end it 60 s
    # from now, whatever the minute the test starts. Its replacement starts 10 s + rounding after that end
    # (duration + first-after > 0), in the next 5 minutes.
    now = time.time()
    last_5min = now // 300 * 300
    monkeypatch.setenv("ARB_SIM_FIRST_GAME_AFTER_S", str(last_5min - now - 50))
    monkeypatch.setenv("ARB_SIM_GAME_DURATION_S", str(now - last_5min + 60))
    monkeypatch.setenv("ARB_SIM_RESOLVE_DELAY_S", "5")
    monkeypatch.setenv("ARB_SIM_KALSHI_SETTLEMENT_TIMER_S", "5")
    opts = DemoOptions(json_out=True, games=2, seed=7, workdir=tmp_path, game_life=True, bucket_s=30, bootstrap=os.environ.get("ARB_TEST_BOOTSTRAP"))
    demo = Demo(opts, load(KafkaSettings, overrides={"topic_prefix": "demo."}))
    try:
        demo.start()
        # run until the game is final at both venues (60 + 5 + 5 s) and a little more; the summary waits for discovery
        demo.opts = replace(opts, duration_s=max(20.0, now + 80 - time.time()))
        demo.loop()
        demo.drain(keep_discovery=True)
        summary = demo.summary()
        fills, settlements = _read_all(demo.kafka, "fills"), _read_all(demo.kafka, "settlements")
    finally:
        demo.shutdown()
    logs = "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-1500:]}" for p in sorted(tmp_path.glob("*.log")))
    games, pnl, verdict = summary["games"], summary["realized_pnl"], summary["acceptance"]
    assert games["ended"] >= 1 and games["finalized"] >= 1 and games["settled"] >= 1, (games, logs)
    assert verdict["ended_games_settled"]["ok"] is True, verdict
    assert pnl["settled_games"], (pnl, summary["fills"], logs)  # the ended game traded
    for game, amount in pnl["settled_games"].items():
        assert amount == money_text(_cash_pnl(fills, settlements, game)), (game, amount)
    assert pnl["settled_sum"] == money_text(sum(_cash_pnl(fills, settlements, g) for g in pnl["settled_games"])) and verdict["pnl_sum"]["ok"]
    assert sum(b["settled_games"] for b in summary["buckets"]) == games["settled"]
    assert summary["duplicates"] == 0 and summary["fills"] == len({f["fill_id"] for f in fills})
    assert summary["positions_match"] is True, summary["position_drift"]  # settled books paid out at the simulator


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
