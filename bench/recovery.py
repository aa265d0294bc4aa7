"""`arb bench recovery --records N`: executor recovery time against the size of its history.

Fills partition 0 of `orders` and `outcomes` with N resolved signals (two legs each: 2 INTENTs, 2 FILL
results, 1 Outcome), dated a day ago, plus a few unresolved INTENTs (their orders never reached the venue),
then runs the real executor (`arb execute` child, simulator child, a local Apache Kafka or --bootstrap's):
1. first start, no checkpoint yet: recovery reads the whole partition and resolves the open intents;
2. one signal on partition 0, which commits the recovery checkpoint with its offset;
3. SIGKILL, restart, one more signal: the time from the restart to that signal's outcome, and the recovery
   read (records and ms, from the executor's log), for both starts.
The goal of issue 24 is a recovery independent of history: the second start reads only what follows the
checkpoint (and the dedup horizon, ARB_EXEC_DEDUP_HORIZON_S, which the day-old history is outside of).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.args import add_external_bootstrap_arg

OPEN_INTENTS = 3
DAY_MS = 86_400_000


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("recovery", help="executor recovery time with N resolved signals of history",
                       description="Fills `orders`/`outcomes` partition 0 with N resolved signals plus a few open intents, runs the "
                                   "executor, kills it, and reports the time from its restart to the first new signal's outcome and "
                                   "the records each recovery read.")
    p.add_argument("--records", type=int, default=100_000, help="resolved signals of history (default 100,000; the goal is stated at 1,000,000)")
    add_external_bootstrap_arg(p)
    p.add_argument("--json", action="store_true", help="print one JSON line")
    p.set_defaults(handler=run)


def _log(msg: str) -> None:
    print(f"bench recovery: {msg}", file=sys.stderr, flush=True)


def _fill(rig: Any, n: int) -> dict[str, Any]:
    """N resolved signals and OPEN_INTENTS open intents on partition 0, with a progress line per 10 %."""
    from core import codec
    from core.kafka import make_producer
    from core.topics import topic_name
    from core.units import now_us

    producer = make_producer(rig.kafka, **{"linger.ms": 50, "batch.size": 1_000_000, "compression.type": "lz4"})
    orders, outcomes = topic_name("orders", rig.kafka), topic_name("outcomes", rig.kafka)
    old_ms = int(time.time() * 1000) - DAY_MS
    t0 = time.monotonic()
    base = {"game_id": "nfl-20261129-buf-kc", "venue": "KALSHI", "side": "YES", "action": "BUY", "limit_price": 4500, "size": 100,
            "venue_order_id": None, "signed_order": None, "reason": None, "paper": False, "sent_ts": None, "acked_ts": None}
    for i in range(n):
        sid = f"hist{i:09d}"
        ts = (old_ms + i) * 1000
        for leg in (0, 1):
            coid = f"{sid}:{leg}:0"
            ev = {**base, "client_order_id": coid, "signal_id": sid, "leg_index": leg, "step": 0, "market": f"M{leg}", "type": "INTENT",
                  "filled_size": 0, "fill_cost": 0, "fee": 0, "intent_ts": ts, "deadline_ts": ts + 3_000_000}
            producer.produce(orders, key=coid, value=codec.encode("OrderEvent", ev), partition=0, timestamp=old_ms + i)
            res = {**ev, "type": "FILL", "filled_size": 100, "fill_cost": 450_000, "sent_ts": ts, "acked_ts": ts}
            producer.produce(orders, key=coid, value=codec.encode("OrderEvent", res), partition=0, timestamp=old_ms + i)
        out = {"signal_id": sid, "game_id": base["game_id"], "state": "FILLED", "reason": None, "matched_size": 100, "cost": 900_000,
               "fees": 0, "locked_profit": 100_000, "paper": False, "ts": ts}
        producer.produce(outcomes, key=sid, value=codec.encode("Outcome", out), partition=0, timestamp=old_ms + i)
        if n >= 10 and (i + 1) % (n // 10) == 0:
            producer.poll(0)
            _log(f"{i + 1}/{n} signals written ({time.monotonic() - t0:.0f} s)")
        if i % 1000 == 0:
            producer.poll(0)
    now = now_us()
    for j in range(OPEN_INTENTS):  # possibly sent, never resolved: recovery must look them up (the venue has none)
        coid = f"open{j}:0:0"
        ev = {**base, "client_order_id": coid, "signal_id": f"open{j}", "leg_index": 0, "step": 0, "market": "M0", "type": "INTENT",
              "filled_size": 0, "fill_cost": 0, "fee": 0, "intent_ts": now, "deadline_ts": now}
        producer.produce(orders, key=coid, value=codec.encode("OrderEvent", ev), partition=0)
    if producer.flush(600) != 0:
        raise RuntimeError("history records were not all delivered")
    return {"records_written": n * 5 + OPEN_INTENTS, "write_s": round(time.monotonic() - t0, 1)}


def _signal_on_partition_0(rig: Any, pairs: list[Any], i: int) -> str:
    from bench.chaos_rig import make_signal
    from core import codec
    from core.kafka import make_producer
    from core.topics import topic_name
    from core.units import now_us

    sig = make_signal(i, pairs[0], 30_000_000, now_us(), f"recovery{int(time.time())}")
    producer = make_producer(rig.kafka)
    producer.produce(topic_name("signals", rig.kafka), key=sig["game_id"], value=codec.encode("Signal", sig), partition=0)
    if producer.flush(10) != 0:
        raise RuntimeError("signal not delivered")
    return str(sig["signal_id"])


def _recovery_line(rig: Any, start_mark: int) -> dict[str, Any] | None:
    """The executor's 'recovery of partition 0 read …' log record written after byte `start_mark` of its log."""
    with rig.exec_log_path.open("rb") as f:
        f.seek(start_mark)
        for line in f.read().splitlines():
            if b"recovery of partition 0 read" not in line:
                continue
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            m = re.search(r"read (\d+) records from (its checkpoint|the beginning) in (\d+) ms", str(rec.get("msg", "")))
            if m:
                return {"records": int(m.group(1)), "read_ms": int(m.group(3)), "from": "checkpoint" if "checkpoint" in m.group(2) else "beginning"}
    return None


def _wait_outcome(rig: Any, watcher: Any, sid: str, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if watcher.count([sid]):
            return True
        if rig.executor is not None and rig.executor.poll() is not None:
            raise RuntimeError(f"the executor exited with {rig.executor.returncode}; see {rig.exec_log_path}")
        time.sleep(0.01)
    return False


def run(args: argparse.Namespace) -> int:
    from bench import chaos_rig as cr
    from core.errors import CommandError

    if args.records < 0:
        raise CommandError("--records must be >= 0", 2)
    workdir = Path(tempfile.mkdtemp(prefix="arb-recovery-"))
    _log(f"{args.records} resolved signals of history; logs in {workdir}")
    rig = cr.Rig(workdir, session_timeout_ms=2000, bootstrap=args.bootstrap, label="bench recovery")
    watcher: cr.OutcomeWatcher | None = None
    try:
        pairs = cr.deep_pairs(rig)
        cr.publish_pairings(rig, [cr.pair_pairing(p) for p in pairs])
        result: dict[str, Any] = {"bench": "recovery", "history_signals": args.records, **_fill(rig, args.records)}
        watcher = cr.OutcomeWatcher(rig)
        watcher.start()
        starts = []
        for n in (1, 2):
            mark = rig.exec_log_path.stat().st_size
            t0 = time.monotonic()
            rig.start_executor()
            if not rig.wait_assigned(120):
                raise CommandError(f"the executor was not assigned partitions in 120 s; see {rig.exec_log_path}", 1)
            sid = _signal_on_partition_0(rig, pairs, n)
            if not _wait_outcome(rig, watcher, sid, 600):
                raise CommandError(f"no outcome for the signal after start {n}; see {rig.exec_log_path}", 1)
            starts.append({"start": "first (no checkpoint)" if n == 1 else "restart after SIGKILL (checkpoint)",
                           "start_to_first_outcome_s": round(time.monotonic() - t0, 2), "recovery_read": _recovery_line(rig, mark)})
            _log(f"start {n}: {starts[-1]}")
            if n == 1:
                rig.kill_executor()
        result["starts"] = starts
        result["workdir"] = str(workdir)
        print(json.dumps(result) if args.json else json.dumps(result, indent=2), flush=True)
        return 0
    finally:
        if watcher is not None:
            watcher.stop()
        rig.close()
