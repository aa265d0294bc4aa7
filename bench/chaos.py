"""`arb bench chaos --scenario NAME`: fault scenarios against the executor and the simulator.

executor-kill: streams signals (intra-Kalshi YES+YES pairs on deep books) into `signals` while
SIGKILLing the executor process at random moments and restarting it; then folds `outcomes` by
signal_id and the simulator's ground-truth order log by client_order_id.
venue-429-storm / venue-5xx-burst: the same stream against a venue answering 429 (without
Retry-After, as Kalshi) or 503 for a while; reports fills, expiries, fast rejections and the breaker.

Every scenario prints one JSON line; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal as signals
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

SCENARIOS = ("executor-kill", "venue-429-storm", "venue-5xx-burst")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("chaos", help="fault scenarios: executor SIGKILLs, venue 429 storm, venue 5xx burst",
                       description="Runs the executor as a child process against the simulator and an embedded broker while "
                                   "injecting faults; prints counts of duplicate orders (from the simulator's order log), signals "
                                   "without an outcome or with two, and UNKNOWN outcomes.")
    p.add_argument("--scenario", choices=SCENARIOS, required=True, help="which fault scenario")
    p.add_argument("--signals", type=int, default=300, help="signals to stream (default 300)")
    p.add_argument("--kills", type=int, default=20, help="executor-kill: SIGKILLs (default 20)")
    p.add_argument("--rate", type=float, default=6.0, help="signals per second (default 6)")
    p.add_argument("--seed", type=int, default=1, help="RNG seed of the kill moments (default 1)")
    p.add_argument("--json", action="store_true", help="print one JSON line (the default output is the same line, indented)")
    p.set_defaults(handler=run)


def _log(msg: str) -> None:
    print(f"bench chaos: {msg}", file=sys.stderr, flush=True)


class Rig:
    """Embedded broker + simulator child + executor child (restartable)."""

    def __init__(self, workdir: Path, session_timeout_ms: int = 3000) -> None:
        from core.broker import EmbeddedBroker, free_port
        from core.config import load
        from core.kafka import make_admin
        from core.settings import KafkaSettings
        from core.topic_admin import ensure_topics

        self.workdir = workdir
        self.broker = EmbeddedBroker(port=free_port())
        self.broker.start()
        self.kafka = replace(load(KafkaSettings), bootstrap=self.broker.bootstrap, topic_prefix=f"chaos{os.getpid()}.",
                             session_timeout_ms=session_timeout_ms)
        ensure_topics(make_admin(self.kafka), self.kafka)
        self.key = workdir / "kalshi.pem"
        self.sim = subprocess.Popen([sys.executable, "-m", "cli", "sim", "--games", "6", "--updates-per-s", "0", "--arb-rate-per-min", "0",
                                     "--kalshi-tier", "unlimited", "--kalshi-private-key-out", str(self.key)],
                                    stdout=subprocess.PIPE, stderr=(workdir / "sim.log").open("ab"), start_new_session=True)
        assert self.sim.stdout is not None  # noqa: S101
        self.urls = json.loads(self.sim.stdout.readline())
        self.executor: subprocess.Popen[bytes] | None = None
        self.exec_log = (workdir / "execute.log").open("ab")

    def env(self) -> dict[str, str]:
        return {**os.environ, "ARB_BOOTSTRAP": self.kafka.bootstrap, "ARB_TOPIC_PREFIX": self.kafka.topic_prefix,
                "ARB_SESSION_TIMEOUT_MS": str(self.kafka.session_timeout_ms), "ARB_KALSHI_REST_URL": self.urls["kalshi_url"],
                "ARB_KALSHI_WS_URL": self.urls["kalshi_ws_url"], "ARB_KALSHI_KEY_ID": self.urls["kalshi_key_id"],
                "ARB_KALSHI_PRIVATE_KEY_FILE": str(self.key), "ARB_KALSHI_TIER": "premier", "ARB_EXEC_MAX_ORDERS_PER_S": "1000",
                "ARB_EXEC_BREAKER_THRESHOLD": "5", "ARB_EXEC_BREAKER_COOLDOWN_MS": "1000", "ARB_EXEC_RECOVERY_WINDOW_MS": "2000",
                "ARB_EXEC_RECOVERY_GRACE_MS": "1000", "ARB_LOG_FORMAT": "json"}

    def start_executor(self) -> None:
        self.executor = subprocess.Popen([sys.executable, "-m", "cli", "execute"], env=self.env(), stdout=self.exec_log,
                                         stderr=self.exec_log, start_new_session=True)

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        """Until the executor has been assigned its partitions (its log says so)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if "assigned signals partition" in (self.workdir / "execute.log").read_text(errors="replace"):
                return
            time.sleep(0.1)
        raise TimeoutError("the executor did not get its partitions")

    def kill_executor(self) -> None:
        if self.executor is not None and self.executor.poll() is None:
            os.killpg(self.executor.pid, signals.SIGKILL)
            self.executor.wait()

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        import httpx

        r = httpx.request(method, self.urls["admin_url"] + path, json=body, timeout=10)
        r.raise_for_status()
        return r.json()

    def close(self) -> None:
        if self.executor is not None and self.executor.poll() is None:
            os.killpg(self.executor.pid, signals.SIGTERM)
            try:
                self.executor.wait(10)
            except subprocess.TimeoutExpired:
                self.kill_executor()
        if self.sim.poll() is None:
            os.killpg(self.sim.pid, signals.SIGTERM)
            try:
                self.sim.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.sim.pid, signals.SIGKILL)
        self.broker.stop()
        self.exec_log.close()


def _pairs(rig: Rig) -> list[tuple[str, str, str, str, str]]:
    """(game, market A, market B, outcome A, outcome B) for the no-draw games, books made deep."""
    games = rig.admin("GET", "/games")["games"]
    out = []
    for g in games:
        if g.get("draw_possible"):
            continue
        a, b = g["kalshi_markets"][g["away"]], g["kalshi_markets"][g["home"]]
        for m in (a, b):
            rig.admin("POST", "/book", {"venue": "kalshi", "book_id": m, "bids": [["0.4000", "100000.00"]], "asks": [["0.4500", "100000.00"]]})
        out.append((g["game_id"], a, b, g["away"], g["home"]))
    return out


def _signal(i: int, pair: tuple[str, str, str, str, str], ttl_s: float) -> dict[str, Any]:
    from core.units import now_us

    game, a, b, oa, ob = pair
    t = now_us()
    legs = [{"venue": "KALSHI", "market": m, "book": m, "side": "YES", "limit_price": 4500, "size": 100, "expected_fee": 0, "pays_on": [o]}
            for m, o in ((a, oa), (b, ob))]
    return {"signal_id": f"s{i:032x}", "game_id": game, "legs": legs, "size": 100, "cost": 9000 * 100, "edge": 1000 * 100, "event_ts": t,
            "deadline_ts": t + int(ttl_s * 1e6), "input_tick_ids": [f"chaos:{i}:a", f"chaos:{i}:b"], "input_received_ts": [t, t], "detected_ts": t}


def _outcomes(rig: Rig) -> dict[str, list[dict[str, Any]]]:
    from core.topics import partitions, topic_name
    from executor.recovery_reader import read_partition

    out: dict[str, list[dict[str, Any]]] = {}
    topic = topic_name("outcomes", rig.kafka)
    for p in range(partitions("outcomes", rig.kafka)):
        recs, _ = read_partition(rig.kafka, [topic], p, quiet_s=0.2)
        for t, r in recs:
            if t == "Outcome" and r["state"] != "PENDING":
                out.setdefault(r["signal_id"], []).append(r)
    return out


def _duplicates(order_log: list[dict[str, Any]]) -> tuple[int, list[str]]:
    seen: dict[str, int] = {}
    for r in order_log:
        if r["kind"] == "create" and r["accepted"] and r["venue"] == "KALSHI" and r.get("account") != "admin":
            seen[r["client_order_id"]] = seen.get(r["client_order_id"], 0) + 1
    dup = sorted(c for c, n in seen.items() if n > 1)
    return sum(seen[c] - 1 for c in dup), dup


def run(args: argparse.Namespace) -> int:
    from core import codec
    from core.kafka import make_producer
    from core.topics import topic_name

    rng = random.Random(args.seed)
    workdir = Path(tempfile.mkdtemp(prefix="arb-chaos-"))
    _log(f"scenario {args.scenario}; logs in {workdir}")
    t_start = time.monotonic()
    rig = Rig(workdir)
    try:
        pairs = _pairs(rig)
        producer = make_producer(rig.kafka)
        topic = topic_name("signals", rig.kafka)
        rig.start_executor()
        rig.wait_ready()
        ttl = 20.0 if args.scenario == "executor-kill" else 4.0
        if args.scenario == "venue-429-storm":
            rig.admin("POST", "/faults/kalshi", {"p429": 0.7})
        elif args.scenario == "venue-5xx-burst":
            rig.admin("POST", "/faults/kalshi", {"p5xx": 1.0})
        n = args.signals
        interval = 1.0 / args.rate
        kill_at = sorted(rng.uniform(2.0, n * interval) for _ in range(args.kills)) if args.scenario == "executor-kill" else []
        kills = 0
        t0 = time.monotonic()
        for i in range(n):
            target = t0 + i * interval
            while time.monotonic() < target:
                if kill_at and time.monotonic() - t0 >= kill_at[0]:
                    kill_at.pop(0)
                    rig.kill_executor()
                    kills += 1
                    rig.start_executor()
                    _log(f"kill {kills}/{args.kills} at signal {i}")
                time.sleep(0.005)
            if args.scenario == "venue-5xx-burst" and i == n // 2:
                rig.admin("POST", "/faults/kalshi", {"p5xx": 0.0})  # the venue recovers halfway
            producer.produce(topic, key=pairs[i % len(pairs)][0], value=codec.encode("Signal", _signal(i, pairs[i % len(pairs)], ttl)))
            producer.poll(0)
        while kill_at:  # kills scheduled past the last signal
            kill_at.pop(0)
            rig.kill_executor()
            kills += 1
            rig.start_executor()
        producer.flush(10)
        if args.scenario == "venue-429-storm":
            rig.admin("POST", "/faults/kalshi", {"p429": 0.0})
        want = {f"s{i:032x}" for i in range(n)}
        deadline = time.monotonic() + ttl + 60
        outcomes: dict[str, list[dict[str, Any]]] = {}
        while time.monotonic() < deadline:
            outcomes = _outcomes(rig)
            missing = want - set(outcomes)
            _log(f"{len(want) - len(missing)}/{n} signals have an outcome")
            if not missing:
                break
            time.sleep(2)
        log = rig.admin("GET", "/orders?venue=kalshi")["orders"]
        dup_count, dup_ids = _duplicates(log)
        states = {s: {o["state"] for o in os_} for s, os_ in outcomes.items() if s in want}
        first = {s: os_[0]["state"] for s, os_ in outcomes.items() if s in want}
        out: dict[str, Any] = {"scenario": args.scenario, "signals": n, "duplicate_orders": dup_count,
                               "signals_without_outcome": len(want - set(outcomes)),
                               "signals_with_two_outcomes": sum(1 for v in states.values() if len(v) > 1),
                               "leaked_duplicate_outcome_records": sum(len(v) - 1 for s, v in outcomes.items() if s in want),
                               "unknown_outcomes": sum(1 for v in first.values() if v == "UNKNOWN"),
                               "outcomes": {st: sum(1 for v in first.values() if v == st) for st in sorted(set(first.values()))},
                               "seconds": round(time.monotonic() - t_start, 1)}
        if args.scenario == "executor-kill":
            out["kills"] = kills
        else:
            exec_log = (workdir / "execute.log").read_text(errors="replace")
            out["rejected_breaker_open"] = sum(1 for o in first.values() if o == "REJECTED")
            transitions = [line for line in exec_log.splitlines() if "circuit breaker KALSHI is" in line]
            out["breaker_opened"] = any("is open" in t for t in transitions)
            out["breaker_closed_at_end"] = not transitions or transitions[-1].rstrip('"}').endswith("closed") or "is closed" in transitions[-1]
            out["breaker_transitions"] = len(transitions)
            out["venue_429s"] = sum(1 for r in log if r.get("http_status") == 429)
            out["venue_5xx"] = sum(1 for r in log if (r.get("http_status") or 0) >= 500)
        if dup_ids:
            out["duplicate_client_order_ids"] = dup_ids[:20]
        print(json.dumps(out) if args.json else json.dumps(out, indent=2), flush=True)
        return 0
    finally:
        rig.close()
