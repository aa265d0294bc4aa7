"""`arb bench chaos --scenario NAME`: fault scenarios against a real executor process and the simulator.

executor-kill: streams intra-Kalshi YES+YES signals into `signals` at a steady rate while a killer
SIGKILLs the executor process at random moments of its life (seeded) and restarts it; then folds a fresh
read of `outcomes` by signal_id and the simulator's ground-truth order log by client_order_id.
venue-429-storm: the venue answers 429 (no Retry-After, as Kalshi) to every request, then to most.
venue-5xx-burst: the venue answers 503 to everything for the first half of the stream, then recovers.
venue-ambiguity: cross-venue (Kalshi + Polymarket) and intra-Kalshi signals over thin books while a seeded mix of the
simulator's ambiguous answers (executed-then-500, executed-then-lost answer, lookup lag, Polymarket delayed, 401, 429,
5xx) switches on both venues and the executor is SIGKILLed; the venues' order logs are compared with `orders`, `fills`
and `outcomes` (bench/chaos_ambiguity.py).
processor-kill, processor-rebalance, corrupt-records: the processor's scenarios (bench/chaos_processor.py).
feed-disconnect, feed-seq-gap, feed-silence, malformed-frames: the feeds' scenarios, whole pipeline (bench/chaos_feed.py).

On a local Apache Kafka started for the run, or with --bootstrap on another cluster, whose group.min.session.timeout.ms
must allow the scenarios' short session timeouts (2 s, the processor's 4 s; `arb broker` allows 1 s).
One JSON line on stdout (with --json; indented otherwise); progress on stderr. Logs, the order log and any
duplicate evidence stay in the work directory named on stderr.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.args import add_external_bootstrap_arg
from bench.chaos_counts import NO_BOOKS, NO_TICKS, with_counts

SCENARIOS = ("executor-kill", "venue-429-storm", "venue-5xx-burst", "venue-ambiguity", "processor-kill", "processor-rebalance", "corrupt-records",
             "feed-disconnect", "feed-seq-gap", "feed-silence", "malformed-frames")
PROCESSOR_SCENARIOS = ("processor-kill", "processor-rebalance", "corrupt-records")  # bench/chaos_processor.py
FEED_SCENARIOS = ("feed-disconnect", "feed-seq-gap", "feed-silence", "malformed-frames")  # bench/chaos_feed.py


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("chaos", help="fault scenarios: executor or processor SIGKILLs, processor workers joining and leaving, venue 429 storm, venue 5xx burst, ambiguous venue answers "
                                     "on both venues, corrupt records, feed disconnects, seq gaps, silence",
                       description="Runs `arb execute` as a child process against the simulator (`arb sim` child) and a "
                                   "local Apache Kafka (localkafka/broker.py) or --bootstrap's while injecting faults, then checks exactly-once execution: "
                                   "duplicate orders from the simulator's order log, signals without an outcome or with two, "
                                   "UNKNOWN outcomes; for the venue scenarios also fills, expiries and the circuit breaker; for "
                                   "venue-ambiguity legs executed twice, venue fills not recorded (and the reverse), one-sided "
                                   "positions without an alert, PENDING outcomes never resolved and every UNKNOWN outcome's reason.")
    p.add_argument("--scenario", choices=SCENARIOS, required=True, help="which fault scenario")
    p.add_argument("--signals", type=int, default=None, help="signals to stream (default 300; 1,000 for venue-ambiguity)")
    p.add_argument("--kills", type=int, default=None,
                   help="SIGKILLs (default 20 for executor-kill, 10 for venue-ambiguity, 5 for processor-kill); membership changes for "
                        "processor-rebalance (default 12); faults for the feed "
                        "scenarios (default 3)")
    p.add_argument("--interval", type=float, default=8.0, help="feed scenarios: seconds between faults (default 8)")
    p.add_argument("--rate", type=float, default=None,
                   help="signals per second (default: 2.5 for executor-kill, 6 for the venue scenarios, 4 for venue-ambiguity); ticks "
                        "per second for the processor scenarios (default 200)")
    p.add_argument("--duration", type=float, default=60.0, help="processor scenarios: seconds of tick stream (default 60)")
    p.add_argument("--games", type=int, default=20,
                   help="processor, feed and venue-ambiguity scenarios: games (default 20; venue-ambiguity trades the no-draw ones)")
    p.add_argument("--seed", type=int, default=1, help="seed of the kill moments (venue-ambiguity: also of the books and faults; default 1)")
    p.add_argument("--max-live-s", type=float, default=2.0,
                   help="executor-kill: an executor handling signals is killed a random 0..this many seconds after its first "
                        "outcome (default 2)")
    p.add_argument("--timeout", type=float, default=None,
                   help="seconds to wait after the stream for every signal's outcome (default 90; 150 for venue-ambiguity)")
    add_external_bootstrap_arg(p)
    p.add_argument("--json", action="store_true", help="print one JSON line (otherwise the same object, indented)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from bench import chaos_rig as cr
    from core.errors import CommandError

    ambiguity = args.scenario == "venue-ambiguity"
    if args.kills is None:
        args.kills = 5 if args.scenario == "processor-kill" else 12 if args.scenario == "processor-rebalance" else 3 if args.scenario in FEED_SCENARIOS else 10 if ambiguity else 20
    if args.signals is None:
        args.signals = 1000 if ambiguity else 300
    if args.timeout is None:
        args.timeout = 150.0 if ambiguity else 90.0
    if args.signals < 1 or args.kills < 0 or (args.rate is not None and args.rate <= 0) or args.duration <= 0 or args.games < 1:
        raise CommandError("--signals must be >= 1, --kills >= 0, --rate > 0, --duration > 0, --games >= 1", 2)
    if args.scenario in PROCESSOR_SCENARIOS:
        from bench import chaos_processor

        args.rate = args.rate or 200.0
        t0 = time.monotonic()
        result = chaos_processor.run(args)
        result["seconds"] = round(time.monotonic() - t0, 1)
        print(json.dumps(result) if args.json else json.dumps(result, indent=2), flush=True)
        return 0
    if ambiguity:
        from bench import chaos_ambiguity

        args.rate = args.rate or 4.0
        t0 = time.monotonic()
        result = chaos_ambiguity.run(args)
        result["seconds"] = round(time.monotonic() - t0, 1)
        print(json.dumps(result) if args.json else json.dumps(result, indent=2), flush=True)
        return 0
    if args.scenario in FEED_SCENARIOS:
        from bench import chaos_feed

        t0 = time.monotonic()
        result = chaos_feed.run(args)
        result["seconds"] = round(time.monotonic() - t0, 1)
        print(json.dumps(result) if args.json else json.dumps(result, indent=2), flush=True)
        return 0
    workdir = Path(tempfile.mkdtemp(prefix="arb-chaos-"))
    cr.log(f"scenario {args.scenario}; logs in {workdir}")
    t_start = time.monotonic()
    rig = cr.Rig(workdir, session_timeout_ms=2000, bootstrap=args.bootstrap)
    watcher: cr.OutcomeWatcher | None = None
    try:
        pairs = cr.deep_pairs(rig)
        cr.publish_pairings(rig, [cr.pair_pairing(p) for p in pairs])
        watcher = cr.OutcomeWatcher(rig)
        watcher.start()
        rig.start_executor()
        if not rig.wait_assigned(60):
            raise CommandError(f"the executor was not assigned its partitions in 60 s; see {rig.exec_log_path}", 1)
        if args.scenario == "executor-kill":
            out = _executor_kill(args, rig, pairs, watcher)
        else:
            out = _venue_faults(args, rig, pairs, watcher)
        out["seconds"] = round(time.monotonic() - t_start, 1)
        out["workdir"] = str(workdir)
        print(json.dumps(out) if args.json else json.dumps(out, indent=2), flush=True)
        return 0
    finally:
        if watcher is not None:
            watcher.stop()
        rig.close()


def _executor_kill(args: argparse.Namespace, rig: Any, pairs: list[Any], watcher: Any) -> dict[str, Any]:
    from bench import chaos_rig as cr

    rng = random.Random(args.seed)
    streamer = cr.Streamer(rig, pairs, args.signals, args.rate or 2.5, ttl_s=20.0)
    streamer.start()
    kills = 0
    phases: dict[str, int] = {}
    restart_to_handling: list[float] = []
    while kills < args.kills:
        started = time.monotonic()
        # A random moment of this executor's life: a quarter of the kills land while it fences and
        # recovers (right after assignment); half land 0-40 ms after a signal is produced, i.e. while
        # that signal is consumed, its intents committed, its legs sent or its results committed (each
        # takes a few ms; a uniformly random moment would almost always find the executor idle);
        # the rest anywhere while it handles signals.
        draw = rng.random()
        if draw < 0.25:
            phase = "recovery"
            if not rig.wait_assigned(15):
                phase = "join"
            time.sleep(rng.uniform(0.0, 1.5))
        else:
            phase = "in-flight" if draw < 0.75 else "handling"
            if rig.wait_logged(cr.HANDLED, 20):
                restart_to_handling.append(time.monotonic() - started)
            else:
                phase = "join" if not rig.executor_logged(cr.ASSIGNED) else "recovery"
            time.sleep(rng.uniform(0.0, args.max_live_s))
            if phase == "in-flight":
                if not streamer.wait_next(5.0):
                    phase = "handling"  # the stream is over: nothing can be in flight
                time.sleep(rng.uniform(0.0, 0.04))
        phases[phase] = phases.get(phase, 0) + 1
        rig.kill_executor()
        kills += 1
        rig.start_executor()
        cr.log(f"kill {kills}/{args.kills} ({phase}, {time.monotonic() - started:.1f} s after its start); "
               f"{len(streamer.sent)} signals sent, {watcher.count(streamer.sent)} with an outcome")
    streamer.join()
    if streamer.error is not None:
        raise streamer.error
    wanted = list(streamer.sent)
    (rig.workdir / "signals.json").write_text(json.dumps(streamer.sent))
    _drain(watcher, wanted, args.timeout)
    out, _, _ = _verdict(rig, wanted)
    recovered = cr.count_log_lines(rig.exec_log_path, "recovered signal")
    recovery = ({"median": round(statistics.median(restart_to_handling), 2), "max": round(max(restart_to_handling), 2)}
                if restart_to_handling else None)
    result = {"scenario": args.scenario, "kills": kills, **out,
              "kills_by_phase": phases, "executor_starts": rig.starts,
              "restart_to_handling_s_median": recovery["median"] if recovery else None,
              "signals_recovered_after_kill": len({r.get("signal_id") for r in recovered})}
    return with_counts(result, {"duplicate_orders": out["duplicate_orders"], "lost_signals": out["signals_without_outcome"],
                                "recovery_s": recovery},  # executor restarted -> handling signals again
                       {"lost_ticks": NO_TICKS, "invalid_book_trades": NO_BOOKS,
                        **({} if recovery else {"recovery_s": "no kill landed while signals were being handled"})})


def _venue_faults(args: argparse.Namespace, rig: Any, pairs: list[Any], watcher: Any) -> dict[str, Any]:
    from bench import chaos_rig as cr

    n = args.signals
    half = n // 2
    eased_us: list[int] = []  # when the venue's fault eased (host clock, as the simulator's order log)
    if args.scenario == "venue-429-storm":
        # Every request refused for the first half (orders back off; those that outlive their deadline
        # expire), then 60 % refused: orders get through after backing off.
        rig.admin("POST", "/faults/kalshi", {"p429": 1.0})

        def ease() -> None:
            rig.admin("POST", "/faults/kalshi", {"p429": 0.6})
            eased_us.append(time.time_ns() // 1000)

        switches = {half: ease}
        ttl = 2.0
    else:
        rig.admin("POST", "/faults/kalshi", {"p5xx": 1.0, "status_5xx": 503})

        def recover_once_answered() -> None:
            # The venue recovers only once the executor has answered every signal of the burst (the
            # second half waits): a request still in flight at the recovery succeeds and closes the open
            # breaker directly. Seen when the executor fell behind the stream: open -> closed, no
            # rejections, no half-open probe, which is not what this scenario is about.
            burst = list(streamer.sent)
            _drain(watcher, burst, args.timeout)
            if watcher.count(burst) < len(burst):
                print(f"bench chaos: {len(burst) - watcher.count(burst)} signals of the burst still without an outcome "
                      f"after {args.timeout:.0f} s; the venue recovers anyway", file=sys.stderr, flush=True)
            rig.admin("DELETE", "/faults/kalshi")
            eased_us.append(time.time_ns() // 1000)

        switches = {half: recover_once_answered}
        ttl = 4.0
    streamer = cr.Streamer(rig, pairs, n, args.rate or 6.0, ttl_s=ttl, at_index=switches)
    streamer.start()
    streamer.join()
    if streamer.error is not None:
        raise streamer.error
    wanted = list(streamer.sent)
    _drain(watcher, wanted, args.timeout)
    rig.admin("DELETE", "/faults/kalshi")
    out, outcomes, log = _verdict(rig, wanted)
    transitions = [r["msg"].rsplit(" ", 1)[-1] for r in cr.count_log_lines(rig.exec_log_path, "circuit breaker KALSHI is")]
    breaker_rejects = [recs[0] for s, recs in outcomes.items() if s in streamer.sent and recs[0]["state"] == "REJECTED"
                       and "circuit breaker open" in (recs[0].get("reason") or "")]
    reject_ms = sorted((r["ts"] - streamer.sent[r["signal_id"]]) / 1000 for r in breaker_rejects)
    accepted = {r["client_order_id"].split(":", 1)[0] for r in log if r["kind"] == "create" and r["accepted"]}
    # expired: the deadline passed before the venue accepted any of the signal's orders (EXPIRED on
    # arrival, or NOT_FILLED because every leg was still backing off from 429s at its deadline)
    expired = [s for s, recs in outcomes.items() if s in streamer.sent and
               (recs[0]["state"] == "EXPIRED" or (recs[0]["state"] == "NOT_FILLED" and s not in accepted))]
    # recovery: from the fault easing to the venue accepting our next order
    first = min((int(r["received_us"]) for r in log if r["kind"] == "create" and r["accepted"] and int(r["received_us"]) >= eased_us[0]),
                default=None) if eased_us else None
    recovery = round((first - eased_us[0]) / 1e6, 2) if first is not None else None
    result = {"scenario": args.scenario, **out,
              "filled": out["outcomes"].get("FILLED", 0), "expired": len(expired),
              "rejected_breaker_open": len(breaker_rejects),
              "breaker_reject_ms_median": round(statistics.median(reject_ms), 1) if reject_ms else None,
              "breaker_reject_ms_max": round(reject_ms[-1], 1) if reject_ms else None,
              "breaker_opened": "open" in transitions, "breaker_half_opened": "half_open" in transitions,
              "breaker_closed_at_end": not transitions or transitions[-1] == "closed",
              "breaker_transitions": transitions,
              "venue_429s": sum(1 for r in log if r.get("http_status") == 429),
              "venue_5xx": sum(1 for r in log if (r.get("http_status") or 0) >= 500)}
    return with_counts(result, {"duplicate_orders": out["duplicate_orders"], "lost_signals": out["signals_without_outcome"], "recovery_s": recovery},
                       {"lost_ticks": NO_TICKS, "invalid_book_trades": NO_BOOKS,
                        **({} if recovery is not None else {"recovery_s": "no order was accepted after the fault eased"})})


def _drain(watcher: Any, wanted: list[str], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    last = -1
    while time.monotonic() < deadline:
        done = watcher.count(wanted)
        if done != last:
            print(f"bench chaos: {done}/{len(wanted)} signals have an outcome", file=sys.stderr, flush=True)
            last = done
        if done == len(wanted):
            return
        time.sleep(0.5)


def _verdict(rig: Any, wanted: list[str]) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]], list[dict[str, Any]]]:
    """The exactly-once verdict from a fresh read of `outcomes` and the simulator's order log; evidence
    of any failure is written to the work directory."""
    from bench import chaos_rig as cr

    outcomes = cr.read_outcomes(rig)
    order_log = rig.admin("GET", "/orders?venue=kalshi")["orders"]
    (rig.workdir / "orders.json").write_text(json.dumps(order_log))
    (rig.workdir / "outcomes.json").write_text(json.dumps(outcomes))
    dups = cr.duplicate_orders(order_log)
    v = cr.judge_outcomes(wanted, outcomes)
    unknown = [s for s, st in v.first_state.items() if st == "UNKNOWN"]
    coid_signals = {r["client_order_id"].split(":", 1)[0] for r in order_log
                    if r["kind"] == "create" and r["accepted"] and r.get("client_order_id")}
    states = sorted(set(v.first_state.values()))
    out: dict[str, Any] = {
        "signals": len(wanted),
        "duplicate_orders": sum(len(rs) - 1 for rs in dups.values()),
        "signals_without_outcome": len(v.without_outcome),
        "signals_with_two_outcomes": len(v.with_two_outcomes),
        "unknown_outcomes": len(unknown),
        # UNKNOWN is what recovery must say when an intent's order is not found by window + grace (then the
        # venue accepted none of its orders), and what settlement says of an imbalance it could not close
        "unknown_with_order_at_venue": sum(1 for s in unknown if s in coid_signals),
        "outcomes": {s: sum(1 for x in v.first_state.values() if x == s) for s in states},
        "orders_accepted": sum(1 for r in order_log if r["kind"] == "create" and r["accepted"]),
    }
    if dups or v.without_outcome or v.with_two_outcomes:
        evidence = {"duplicate_orders": dups, "without_outcome": v.without_outcome,
                    "with_two_outcomes": {s: outcomes[s] for s in v.with_two_outcomes}}
        (rig.workdir / "failures.json").write_text(json.dumps(evidence, indent=1))
        out["evidence"] = str(rig.workdir / "failures.json")
        out["duplicate_client_order_ids"] = sorted(dups)[:20]
        out["signal_ids_without_outcome"] = v.without_outcome[:20]
        out["signal_ids_with_two_outcomes"] = v.with_two_outcomes[:20]
    return out, outcomes, order_log
