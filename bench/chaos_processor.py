"""Processor fault scenarios of `arb bench chaos` (ticks -> `arb process` -> signals, a local Apache Kafka or --bootstrap's:
localkafka/run.py).

processor-kill: ticks stream at a steady rate while the worker is SIGKILLed at seeded random moments
and restarted; it recovers its table from the changelog and resumes from the committed offsets.
processor-rebalance: the same stream through two to four workers (dynamic membership) that join and leave at
seeded random moments: a worker starts, one gets SIGTERM or SIGINT (it hands its partitions over), or one is
SIGKILLed and a new one starts at once (its partitions move once its session expires). Partitions move
between live workers every time, with the tables' states written by one worker and recovered by another.
corrupt-records: the same stream with undecodable records mixed into `ticks` (bad magic, unknown
fingerprint, truncated body); each must reach `dlq` and the stream go on.

The verdict compares what came out with the stream that went in:
- lost_signals: signal_ids the offline detector (same code, over the same ticks in order) emits that
  never appeared on `signals`;
- invalid_book_signals: signals pairing two ticks that were never the newest books of their markets
  at the same moment (what a worker folding stale ticks after recovery would emit);
- duplicate_signals: signal_ids seen more than once (harmless by design: the executor keys its work by
  signal_id), conflicting_signals: one signal_id with two different contents (never harmless);
- lost_ticks: ticks written but not consumed by the worker's group (committed offsets short of the end
  once the stream is over), dead_letters against the corrupt records injected;
- processor-rebalance also: how long each SIGTERM/SIGINT took to exit, and `hung_stops`, workers still there
  STOP_GRACE_S after it (then SIGKILLed) or exiting uncleanly;
- crashed_workers: workers that exited without being told to (the others would cover for them).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal as signals
import statistics
import subprocess
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench.chaos_counts import NO_EXECUTOR, with_counts

SESSION_TIMEOUT_MS = 4000  # the worker's: a killed one's partitions move on within seconds
STOP_GRACE_S = 15.0  # a stopped worker still there this long after SIGTERM/SIGINT is hung (the rig's own stop allows as much)
MAX_WORKERS = 4  # processor-rebalance: between 1 and this many workers at any time
CORRUPT = (b"\x00\x01garbage", b"\xc3\x01" + b"\xff" * 8 + b"\x02", b"")  # bad magic / unknown fingerprint / empty


def run(args: argparse.Namespace) -> dict[str, Any]:
    from confluent_kafka import OFFSET_BEGINNING, TopicPartition

    from bench.chaos_rig import log
    from bench.worker_rig import EDGE_ENV, seed_games, start_worker, stop_workers
    from bench.worker_rig import tick as _tick
    from core import codec
    from core.config import load
    from core.kafka import make_consumer, make_producer
    from core.topics import topic_name
    from localkafka.run import run_kafka
    from processors.detector import detect_all
    from processors.settings import DetectorSettings
    from schemas.records import MarketPairing, Tick, from_dict

    if signals.getsignal(signals.SIGINT) == signals.SIG_IGN:
        # Started in the background of a shell (`... &`): an ignored SIGINT stays ignored in every child, and the workers
        # sent SIGINT would never stop (a hang of the rig's making, and their partitions left unconsumed at the end).
        signals.signal(signals.SIGINT, signals.default_int_handler)
    rng = random.Random(args.seed)
    workdir = Path(tempfile.mkdtemp(prefix="arb-chaos-"))
    log(f"scenario {args.scenario}; logs in {workdir}")
    on_kafka = ExitStack()  # a local Kafka for the run, or the topics of the run's own on --bootstrap's (localkafka/run.py)
    kafka = on_kafka.enter_context(run_kafka(args.bootstrap, "chaosp.", "bench chaos", SESSION_TIMEOUT_MS))
    workers: dict[str, subprocess.Popen[bytes]] = {}  # name -> the live worker of that name
    stopping: list[tuple[subprocess.Popen[bytes], float, str, str]] = []  # (worker, when signalled, signal, name)
    stops: list[dict[str, Any]] = []
    crashed: list[dict[str, Any]] = []  # workers that exited without being told to
    started = 0
    ok = False
    rebalance = args.scenario == "processor-rebalance"
    plan = random.Random(f"processor-rebalance {args.seed}")  # its own: the same seed, the same membership changes every run

    def start() -> None:
        nonlocal started
        started += 1
        if rebalance:  # each worker a new member: its own name, store and log
            name, env = f"w{started}", {"ARB_SESSION_TIMEOUT_MS": str(SESSION_TIMEOUT_MS)}
        else:  # one static member, restarted as itself
            name, env = "process", {"ARB_SESSION_TIMEOUT_MS": str(SESSION_TIMEOUT_MS), "ARB_FAUST_INSTANCE_ID": "chaos-processor"}
        workers[name] = start_worker(kafka, workdir / f"faust-{name}", workdir / f"{name}.log", env, loglevel="info")

    def signal_worker(name: str, sig: signals.Signals) -> None:
        worker = workers.pop(name)
        os.killpg(worker.pid, sig)
        if sig == signals.SIGKILL:
            worker.wait()
        else:
            stopping.append((worker, time.monotonic(), sig.name, name))

    def reap(wait: bool = False) -> None:
        """Record the stopped workers that exited; SIGKILL those still there after STOP_GRACE_S. A live worker that
        exited by itself (it stops on a delivery it could not make) is a crash: the others covering for it would hide it."""
        for name, worker in list(workers.items()):
            if worker.poll() is not None:
                crashed.append({"worker": name, "rc": worker.returncode})
                del workers[name]
        for item in list(stopping):
            worker, at, sig, name = item
            rc = worker.poll()
            if rc is None and wait:
                try:
                    rc = worker.wait(max(0.0, at + STOP_GRACE_S - time.monotonic()))
                except subprocess.TimeoutExpired:
                    pass
            if rc is None and time.monotonic() - at < STOP_GRACE_S:
                continue
            if rc is None:
                os.killpg(worker.pid, signals.SIGKILL)
                worker.wait()
            # A clean stop exits 0 (or 128+signal, or by the signal: stopped before Python had its handlers installed). A
            # SIGINT before the worker's own handlers are installed (its log has no "[^Worker]: Starting..." yet) is a
            # KeyboardInterrupt wherever the interpreter was: exit 1, even a TypeError from inside librdkafka's constructor.
            clean = rc in (0, 128 + signals.Signals[sig].value, -signals.Signals[sig].value) or (
                rc == 1 and sig == "SIGINT" and not _worker_started(workdir / f"{name}.log"))
            stops.append({"worker": name, "signal": sig, "exit_s": round(time.monotonic() - at, 2), "hung": rc is None, "rc": rc, "clean": clean})
            stopping.remove(item)

    def change_membership(at: float) -> str:
        """One seeded membership change of processor-rebalance; what it was."""
        live = sorted(workers)
        action = "start" if len(live) < 2 else plan.choice(("term", "int", "kill")) if len(live) >= MAX_WORKERS else \
            plan.choice(("start", "term", "int", "kill"))
        if action == "start":
            start()
            return f"{at:.1f} s: {max(workers, key=lambda n: int(n[1:]))} starts"
        name = plan.choice(live)
        if action == "kill":  # and a new member joins at once, while the killed one's session is still open
            signal_worker(name, signals.SIGKILL)
            start()
            return f"{at:.1f} s: {name} SIGKILLed, w{started} starts"
        signal_worker(name, signals.SIGTERM if action == "term" else signals.SIGINT)
        return f"{at:.1f} s: {name} gets SIG{action.upper()}"

    try:
        pairings = seed_games(kafka, args.games)
        games = list(pairings)
        prod = make_producer(kafka)
        cons = make_consumer(kafka, None)
        stopic = topic_name("signals", kafka)
        cons.assign([TopicPartition(stopic, p, OFFSET_BEGINNING) for p in range(kafka.partitions)])
        seen: list[tuple[float, dict[str, Any]]] = []
        recovery: list[float] = []
        restarted: tuple[float, int] | None = None  # (monotonic s, wall ms) of the last restart not yet followed by a signal

        def read(timeout: float) -> None:
            nonlocal restarted
            for m in cons.consume(1000, timeout):
                if m.error() is None and m.value():
                    now = time.monotonic()
                    seen.append((now, codec.decode(m.value() or b"", "Signal")))
                    # The first signal the restarted worker wrote (its record's timestamp is after the restart), not
                    # the first read after it: signals the killed worker committed may still be on their way to us.
                    if restarted is not None and m.timestamp()[1] >= restarted[1]:
                        recovery.append(now - restarted[0])
                        restarted = None

        start()
        if rebalance:
            start()
        sent: list[dict[str, Any]] = []
        injected = 0
        ttopic = topic_name("ticks", kafka)
        n_ticks = int(args.rate * args.duration)
        faults = args.scenario in ("processor-kill", "processor-rebalance")
        kills_at = sorted(rng.uniform(0.1, 0.9) * args.duration for _ in range(args.kills)) if faults else []
        kill_log: list[float] = []
        changes: list[str] = []
        t0 = time.monotonic()
        for i in range(n_ticks):
            while time.monotonic() < t0 + i / args.rate:
                read(0.0)
                time.sleep(0.001)
            reap()
            if kills_at and time.monotonic() - t0 >= kills_at[0]:
                kills_at.pop(0)
                if rebalance:
                    changes.append(change_membership(time.monotonic() - t0))
                    log(f"processor-rebalance: {changes[-1]}")
                else:
                    signal_worker("process", signals.SIGKILL)
                    start()
                    restarted = (time.monotonic(), time.time_ns() // 1_000_000)
                    kill_log.append(round(restarted[0] - t0, 3))
                    log(f"processor SIGKILLed and restarted at {restarted[0] - t0:.1f} s")
            g = games[rng.randrange(len(games))]
            c = rng.choice(("a", "b"))
            ask = 4400 + 100 * rng.randrange(4) if c == "a" else 5000 + 100 * rng.randrange(3)
            t = _tick(g, c, i + 1, ask, 100 * rng.randrange(1, 30))
            sent.append(t)
            prod.produce(ttopic, key=g, value=codec.encode("Tick", t))
            if args.scenario == "corrupt-records" and i % 50 == 25:
                prod.produce(ttopic, key=g, value=CORRUPT[injected % len(CORRUPT)])
                injected += 1
            prod.poll(0)
        prod.flush(30)
        reap(wait=True)
        reap()  # the live ones: any that exited by itself meanwhile
        typed_pairings = {g: from_dict(MarketPairing, p) for g, p in pairings.items()}
        expected = {s.signal_id: s for s in detect_all([from_dict(Tick, t) for t in sent], typed_pairings,
                                                       load(DetectorSettings, env={**os.environ, **EDGE_ENV}))}
        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline and not set(expected) <= {s["signal_id"] for _, s in seen}:
            read(0.2)
        read(1.0)

        # How long each tick was its market's newest book (positions in `sent`): a signal's input ticks (two, or
        # three for a draw league's cover) coexisted iff those spans overlap.
        span: dict[str, tuple[int, float]] = {}
        newest: dict[tuple[str, str], str] = {}
        for i, t in enumerate(sent):
            key = (t["game_id"], t["market"])
            if (old := newest.get(key)) is not None:
                span[old] = (span[old][0], i)
            newest[key] = t["tick_id"]
            span[t["tick_id"]] = (i, float("inf"))

        def coexisted(ids: list[str]) -> bool:
            spans = [span[i] for i in ids if i in span]
            return len(spans) == len(ids) and max(a for a, _ in spans) < min(b for _, b in spans)
        by_id: dict[str, list[dict[str, Any]]] = {}
        for _, s in seen:
            by_id.setdefault(s["signal_id"], []).append(s)
        strip = ("detected_ts",)
        out: dict[str, Any] = {
            "scenario": args.scenario, "ticks": len(sent), "expected_signals": len(expected), "signals_seen": len(seen),
            "lost_signals": len(set(expected) - set(by_id)),
            "invalid_book_signals": sum(1 for s in by_id.values() if not coexisted(s[0]["input_tick_ids"])),
            "duplicate_signals": sum(len(v) - 1 for v in by_id.values()),
            "conflicting_signals": sum(1 for v in by_id.values() if len({repr({k: x[k] for k in x if k not in strip}) for x in v}) > 1),
            "lost_ticks": unconsumed(kafka, ttopic),
        }
        if args.scenario == "processor-kill":
            out["kills"] = args.kills
            out["recovery_s"] = {"median": round(statistics.median(recovery), 2), "max": round(max(recovery), 2)} if recovery else None
        elif rebalance:
            out["membership_changes"] = changes
            exits = [x["exit_s"] for x in stops if not x["hung"]]
            out["stops"] = {"count": len(stops), "exit_s_median": round(statistics.median(exits), 2) if exits else None,
                            "exit_s_max": max(exits) if exits else None}
            out["hung_stops"] = [x for x in stops if not x["clean"]]  # hung (SIGKILLed after STOP_GRACE_S) or failed
            out["recovery_s"] = None
        else:
            out["corrupt_injected"] = injected
            out["dead_letters"] = _scan(kafka, topic_name("dlq", kafka))[0]
            out["recovery_s"] = 0.0  # nothing to recover from: the stream never stops
        counts = {"lost_signals": out["lost_signals"], "lost_ticks": out["lost_ticks"], "invalid_book_trades": out["invalid_book_signals"],
                  "recovery_s": out["recovery_s"]}  # every signal from a book that never coexisted would be traded
        no_recovery = "partitions move between live workers: no single restart to time (processor-kill times it)" if rebalance else "no restart was seen"
        not_covered = {"duplicate_orders": NO_EXECUTOR, **({} if out["recovery_s"] is not None else {"recovery_s": no_recovery})}
        out["crashed_workers"] = crashed
        ok = not any(out.get(k) for k in ("lost_signals", "invalid_book_signals", "conflicting_signals", "lost_ticks", "hung_stops", "crashed_workers"))
        if not ok:
            out["workdir"] = str(workdir)  # the worker's log and the evidence, kept for a failed verdict
            sent_at = {t["tick_id"]: round((t["received_ts"] - sent[0]["received_ts"]) / 1e6, 3) for t in sent}
            lost = [{"signal_id": k, "inputs": v.input_tick_ids, "sent_s": [sent_at.get(i) for i in v.input_tick_ids]}
                    for k, v in expected.items() if k not in by_id]
            (workdir / "lost_signals.json").write_text(json.dumps({"kills_s": kill_log, "membership_changes": changes, "lost": lost}, indent=1))
        return with_counts(out, counts, not_covered)
    finally:
        stop_workers(*workers.values())
        for worker, *_ in stopping:
            stop_workers(worker)
        on_kafka.close()
        if ok:
            shutil.rmtree(workdir, ignore_errors=True)


def _worker_started(log_path: Path) -> bool:
    """Whether the worker got as far as starting its Faust worker, which installs its signal handlers."""
    try:
        return b"[^Worker]: Starting..." in log_path.read_bytes()
    except OSError:
        return False


def _scan(kafka: Any, topic: str) -> tuple[int, dict[int, int]]:
    """Read `topic` from the beginning until nothing arrives for 3 s: (records, end offset by partition)."""
    from confluent_kafka import OFFSET_BEGINNING, TopicPartition

    from core.kafka import make_consumer

    n = 0
    ends: dict[int, int] = {}
    c = make_consumer(kafka, None)
    try:
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(kafka.partitions)])
        idle_until = time.monotonic() + 3
        while time.monotonic() < idle_until:
            msgs = c.consume(1000, 0.5)
            for m in msgs:
                p, off = m.partition(), m.offset()
                if m.error() is None and p is not None and off is not None:
                    n += 1
                    ends[p] = max(ends.get(p, 0), off + 1)
            if msgs:
                idle_until = time.monotonic() + 3
        return n, ends
    finally:
        c.close()


def unconsumed(kafka: Any, topic: str) -> int:
    """Records of `topic` past the processor group's committed offsets (the ends counted by reading)."""
    from confluent_kafka import TopicPartition

    from core.config import load
    from core.kafka import make_consumer
    from processors.faust_settings import WorkerSettings

    group = f"{kafka.topic_prefix}{load(WorkerSettings).app_id}"
    ends = _scan(kafka, topic)[1]
    g = make_consumer(kafka, group)
    try:
        committed = g.committed([TopicPartition(topic, p) for p in range(kafka.partitions)], timeout=10)
    finally:
        g.close()
    return sum(max(0, ends.get(tp.partition, 0) - max(tp.offset, 0)) for tp in committed)
