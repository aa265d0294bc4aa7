"""`arb bench chaos` at small scale (the full runs are benchmarks): a SIGKILLed executor never executes a
leg twice nor loses or doubles an outcome; a 429 storm never trips the breaker and orders get through
after backing off (or expire); a 5xx burst opens the breaker, rejects without calling the venue,
half-opens and closes again once the venue recovers; ambiguous answers on both venues lose no fill, execute
no leg twice and leave no silent one-sided position. Plus the pure folds that judge a run."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from bench.chaos_counts import COUNTS
from bench.chaos_rig import duplicate_orders, fold_outcomes, judge_outcomes
from tests.conftest import REPO


def chaos(*args: str, timeout: float = 120) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-m", "cli", "bench", "chaos", "--json", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def assert_counts(out: dict[str, Any], zero: tuple[str, ...], not_covered: tuple[str, ...]) -> None:
    """The five counts every scenario reports first: zero where the scenario observes them, a reason where it cannot."""
    assert list(out)[:2] == ["scenario", "counts"], list(out)[:3]
    counts = out["counts"]
    assert set(counts) == set(COUNTS) and all(counts[k] == 0 for k in zero), out
    assert set(out.get("not_covered", {})) == set(not_covered) and all(counts[k] is None for k in not_covered), out
    if "recovery_s" not in not_covered:
        assert counts["recovery_s"] is not None


def _outcome(sid: str, state: str, cost: int = 900_000) -> dict[str, Any]:
    return {"signal_id": sid, "state": state, "matched_size": 100, "cost": cost, "fees": 0, "locked_profit": 100_000}


def test_judge_outcomes_counts_every_second_terminal_outcome() -> None:
    recs = [_outcome("a", "PENDING"), _outcome("a", "FILLED"),  # PENDING is not terminal: one decision
            _outcome("b", "FILLED"), _outcome("b", "UNKNOWN"),  # two different decisions
            _outcome("c", "FILLED"), _outcome("c", "FILLED", cost=1),  # same state, different terms
            _outcome("e", "FILLED"), _outcome("e", "FILLED")]  # an identical copy: read_committed shows no aborted one
    v = judge_outcomes(["a", "b", "c", "d", "e"], fold_outcomes(recs))
    assert v.without_outcome == ["d"]
    assert v.with_two_outcomes == ["b", "c", "e"]
    assert v.first_state == {"a": "FILLED", "b": "FILLED", "c": "FILLED", "e": "FILLED"}


def test_duplicate_orders_counts_only_accepted_creates_per_client_order_id() -> None:
    log = [{"kind": "create", "accepted": False, "client_order_id": "s1:0:0"},  # a 429
           {"kind": "create", "accepted": True, "client_order_id": "s1:0:0"},
           {"kind": "create", "accepted": True, "client_order_id": "s1:1:0"},
           {"kind": "cancel", "accepted": True, "client_order_id": "s1:1:0"},
           {"kind": "create", "accepted": True, "client_order_id": "s2:0:0"},
           {"kind": "create", "accepted": True, "client_order_id": "s2:0:0"}]  # executed twice
    dups = duplicate_orders(log)
    assert list(dups) == ["s2:0:0"] and len(dups["s2:0:0"]) == 2


@pytest.mark.integration
@pytest.mark.timeout(150)
def test_executor_kill() -> None:
    out = chaos("--scenario", "executor-kill", "--signals", "40", "--kills", "3", "--seed", "3")
    assert out["kills"] == 3 and out["executor_starts"] == 4 and out["signals"] == 40
    assert out["duplicate_orders"] == 0 and out["signals_without_outcome"] == 0 and out["signals_with_two_outcomes"] == 0, out
    assert sum(out["outcomes"].values()) == 40 and out["outcomes"].get("FILLED", 0) > 0
    assert_counts(out, ("duplicate_orders", "lost_signals"), ("lost_ticks", "invalid_book_trades"))


@pytest.mark.integration
@pytest.mark.timeout(150)
def test_429_storm_never_trips_the_breaker() -> None:
    out = chaos("--scenario", "venue-429-storm", "--signals", "30")
    assert out["venue_429s"] > 0 and not out["breaker_opened"] and out["breaker_transitions"] == [] and out["breaker_closed_at_end"], out
    assert out["duplicate_orders"] == 0 and out["signals_without_outcome"] == 0 and out["signals_with_two_outcomes"] == 0, out
    assert out["filled"] > 0  # orders got through after backing off
    assert out["rejected_breaker_open"] == 0
    assert_counts(out, ("duplicate_orders", "lost_signals"), ("lost_ticks", "invalid_book_trades"))


@pytest.mark.integration
@pytest.mark.timeout(150)
def test_5xx_burst_opens_rejects_fast_and_closes() -> None:
    out = chaos("--scenario", "venue-5xx-burst", "--signals", "30")
    assert out["breaker_opened"] and out["breaker_half_opened"] and out["breaker_closed_at_end"], out
    # The venue is called a few times only (the threshold, then one probe per half-open), not once per leg of
    # the burst's 15 signals: the rest are rejected while the breaker is open, or expire queued behind orders
    # whose 5xx answers are looked up until deadline + grace (a 5xx may have executed: never re-sent).
    assert out["rejected_breaker_open"] > 0 and out["venue_5xx"] <= 10, out
    assert out["filled"] > 0 and out["duplicate_orders"] == 0 and out["signals_without_outcome"] == 0, out
    assert out["signals_with_two_outcomes"] == 0
    assert_counts(out, ("duplicate_orders", "lost_signals"), ("lost_ticks", "invalid_book_trades"))


@pytest.mark.integration
@pytest.mark.timeout(150)
def test_ambiguous_answers_on_both_venues_lose_no_fill_and_execute_no_leg_twice() -> None:
    # Cross-venue and intra-Kalshi signals over thin books while executed-then-500, lost answers, lookup lag,
    # Polymarket delays, 401s, 429s and 5xx switch on both venues, and the executor is SIGKILLed twice: the venues'
    # order logs against `orders`, `fills` and `outcomes`.
    out = chaos("--scenario", "venue-ambiguity", "--signals", "60", "--kills", "2", "--games", "8", "--rate", "3", "--seed", "2")
    assert out["signals"] == 60 and out["kills"] == 2, out
    goal = ("legs_executed_twice", "venue_fills_not_recorded", "recorded_fills_not_at_venue", "one_sided_without_alert", "pending_unresolved")
    assert {k: out[k] for k in goal} == dict.fromkeys(goal, 0), out
    assert (out["signals_without_outcome"], out["signals_with_two_outcomes"], out["venue_orders_without_intent"]) == (0, 0, 0), out
    assert len(out["unknown_outcome_reasons"]) == out["unknown_outcomes"] and all(u["reason"] for u in out["unknown_outcome_reasons"])
    # the run exercised what it is about: both venues traded, legs filled partly and one-sided, answers were ambiguous
    assert out["signal_kinds"]["cross"] > 0 and out["venue_orders_accepted"] > 0 and out["signals_one_sided_after_base_legs"] > 0, out
    ambiguous = ("accept_then_5xx", "accept_then_timeout", "lookup_lag", "matched late (delayed)")
    assert sum(n for v in out["fault_hits"].values() for f, n in v.items() if f in ambiguous) > 0, out["fault_hits"]
    assert_counts(out, ("duplicate_orders", "lost_signals"), ("lost_ticks", "invalid_book_trades"))


def test_corrupt_ticks_are_dead_lettered_and_the_stream_goes_on() -> None:
    out = chaos("--scenario", "corrupt-records", "--duration", "6", "--rate", "150", "--games", "6", "--timeout", "60")
    assert out["corrupt_injected"] >= 15
    assert out["dead_letters"] == out["corrupt_injected"]
    assert out["expected_signals"] > 0
    assert (out["lost_signals"], out["invalid_book_signals"], out["conflicting_signals"], out["lost_ticks"]) == (0, 0, 0, 0)
    assert_counts(out, ("lost_signals", "lost_ticks", "invalid_book_trades"), ("duplicate_orders",))


@pytest.mark.timeout(150)
def test_processor_kill_loses_no_signal() -> None:
    # A SIGKILLed worker restarts from its committed offsets and its table recovered from the changelog
    # (Faust's recovery to the real high watermark): every signal the offline detector finds is there,
    # none pairs books that never coexisted.
    out = chaos("--scenario", "processor-kill", "--duration", "20", "--kills", "2", "--rate", "150", "--games", "6", "--timeout", "60")
    assert out["kills"] == 2 and out["expected_signals"] > 0, out
    assert (out["lost_signals"], out["invalid_book_signals"], out["conflicting_signals"], out["lost_ticks"]) == (0, 0, 0, 0), json.dumps(out)
    assert_counts(out, ("lost_signals", "lost_ticks", "invalid_book_trades"), ("duplicate_orders",))


@pytest.mark.timeout(240)
def test_processor_rebalances_lose_no_signal() -> None:
    # Workers join, leave (SIGTERM, SIGINT) and die (SIGKILL, a new one joining at once) while 300 ticks/s stream:
    # partitions move between live workers with their tables. Before the checkpoint waited for Faust's deliveries and
    # ran one commit at a time, and before the delivery guard knew each partition's start from the broker, this test
    # failed in 2 of 3 runs (2 lost signals each); such runs lost up to 30 (and made signals from books that never
    # coexisted). It failed once more on CI (1 lost); on a loaded machine the scenario then found three more causes (a
    # group leader assigning without the changelog, a gap accepted after 3 rewinds, a never-committed partition starting
    # mid-log), and one 1-signal loss that is still open: a failure prints what is needed to look into it.
    out = chaos("--scenario", "processor-rebalance", "--duration", "40", "--kills", "10", "--rate", "300", "--games", "40", "--seed", "2",
                "--timeout", "60", timeout=200)
    assert len(out["membership_changes"]) == 10 and out["expected_signals"] > 0 and out["stops"]["count"] > 0, out
    assert (out["lost_signals"], out["invalid_book_signals"], out["conflicting_signals"], out["lost_ticks"]) == (0, 0, 0, 0), _evidence(out)
    assert out["hung_stops"] == [] and out["crashed_workers"] == [], _evidence(out)
    assert_counts(out, ("lost_signals", "lost_ticks", "invalid_book_trades"), ("duplicate_orders", "recovery_s"))


def _evidence(out: dict[str, Any]) -> str:
    """The verdict, the lost signals (their input ticks and when they were sent) and each worker's warnings and errors:
    a failed run's directory is gone with the CI machine, and a failure here is a timing the next run may not repeat."""
    from pathlib import Path

    parts = [json.dumps(out)]
    workdir = Path(out.get("workdir") or "/nonexistent")
    if (workdir / "lost_signals.json").is_file():
        parts.append((workdir / "lost_signals.json").read_text()[:6000])
    for log in sorted(workdir.glob("w*.log")):
        lines = [line for line in log.read_text(errors="replace").splitlines() if '"WARNING"' in line or '"ERROR"' in line or '"CRITICAL"' in line]
        parts.append(f"{log.name}: " + "\n".join(line[:300] for line in lines[-15:]))
    return "\n".join(parts)


def test_feeds_recover_exact_books_after_the_venues_go_silent() -> None:
    # Both venues keep their sockets open and send nothing for twice the feeds' silence bound. Found two
    # feed bugs: books whose snapshot (Kalshi get_snapshot answer, Polymarket initial dump) was lost in the
    # silence stayed RESYNCING for good while the other markets streamed.
    out = chaos("--scenario", "feed-silence", "--games", "3", "--kills", "2", "--interval", "2")
    assert out["markets"] > 0 and out["ticks"] > 0
    assert (out["wrong_books"], out["unsignalled_faults"], out["unrecovered_faults"], out["ok_ticks_while_silent"], out["duplicate_orders"]) == (0, 0, 0, 0, 0)
    assert out["recovery_s"] is not None and out["recovery_s"]["max"] < 30
    assert_counts(out, ("duplicate_orders", "lost_signals", "lost_ticks", "invalid_book_trades"), ())
