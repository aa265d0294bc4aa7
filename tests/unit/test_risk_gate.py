"""The executor's risk gate: issue 27, "the kill switch fails closed" (a kill switch whose state the executor cannot
read stops trading like an engaged one); issue 26, one risk state for the whole group (executor/group_risk.py)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from core.control import ControlState, control_record
from core.partitioning import partition_for
from core.settings import KafkaSettings
from executor.group_risk import GroupRisk
from executor.risk import RiskGate
from executor.settings import ExecutorSettings
from schemas.records import Leg, MarketPairing, Outcome, OutcomeState, Signal
from tests.unit.test_group_risk import DAY1, PAIRING, fill, mark, settlement

# The gate reads a signal's id, game, cost and legs' venues: the rest is any consistent signal.
_LEG = Leg(venue="KALSHI", market="K-HOME", book="K-HOME", side="YES", limit_price=100, size=100, expected_fee=0, pays_on=["home"])
SIGNAL = Signal(signal_id="s", game_id="g", legs=[_LEG, replace(_LEG, side="NO", pays_on=["away"])], size=100, cost=1_000, edge=0,
                event_ts=DAY1, deadline_ts=DAY1, input_tick_ids=[], input_received_ts=[], detected_ts=DAY1)
P = 4
ALIVE = type("Alive", (), {"is_alive": lambda self: True})


def _risk(loaded: bool = True, pairings: dict[str, MarketPairing] | None = None) -> GroupRisk:
    """A GroupRisk whose reader thread is simulated: tests fold records into `risk.fold` and run `catch_up`."""
    r = GroupRisk(KafkaSettings(bootstrap="127.0.0.1:1"), "America/New_York", pairings=lambda: pairings or {}, now_us=lambda: DAY1)
    r._thread = ALIVE()
    if loaded:
        r._loaded.set()
    return r


def catch_up(risk: GroupRisk) -> None:
    """The reader reached the end of every partition: run the waiting barriers."""
    barriers, risk._barriers = risk._barriers, []
    for _, _, then in barriers:
        then()


def _gate(control: ControlState | None, risk: GroupRisk | None = None, settings: ExecutorSettings | None = None) -> RiskGate:
    return RiskGate(settings or ExecutorSettings(max_orders_per_s=100_000), {}, control, lambda: DAY1, risk=risk or _risk(), partitions=P)


def _control(**state: Any) -> ControlState:
    c = ControlState(KafkaSettings(bootstrap="127.0.0.1:1"))
    for k, v in state.items():
        setattr(c, k, v)
    return c


def games_on(p: int, n: int) -> list[str]:
    return [g for g in (f"game-{i}" for i in range(10_000)) if partition_for(g, P) == p][:n]


def sig(sid: str, game: str, cost: int) -> Signal:
    return replace(SIGNAL, signal_id=sid, game_id=game, cost=cost)


def outcome(sid: str, state: OutcomeState) -> Outcome:
    return Outcome(signal_id=sid, game_id="g", state=state, matched_size=0, cost=0, fees=0, locked_profit=0, paper=False, ts=DAY1)


def test_without_a_control_reader_nothing_is_blocked() -> None:
    assert _gate(None).check(SIGNAL) is None


def test_a_control_topic_not_loaded_yet_blocks_trading() -> None:
    reason = _gate(_control()).check(SIGNAL)  # never started: its state is unknown
    assert reason is not None and reason.startswith("kill switch state unknown")


def test_a_stopped_control_reader_blocks_trading() -> None:
    c = _control(failure=RuntimeError("boom"))
    reason = _gate(c).check(SIGNAL)
    assert reason is not None and "control reader stopped" in reason


def test_an_unreadable_control_record_blocks_trading() -> None:
    c = _control()
    c._loaded.set()
    c._thread = ALIVE()
    assert _gate(c).check(SIGNAL) is None  # loaded and readable: trading
    c.unreadable[b"kill_switch"] = "offset 7: not Avro"  # it may have been a kill
    reason = _gate(c).check(SIGNAL)
    assert reason is not None and "undecodable control record" in reason


def test_an_engaged_kill_switch_blocks_trading() -> None:
    c = _control()
    c._loaded.set()
    c._thread = ALIVE()
    c.records["kill_switch"] = control_record("kill_switch", "KILL_SWITCH", True, reason="operator", source="test")
    assert _gate(c).check(SIGNAL) == "kill switch engaged: operator"


def test_a_risk_state_not_loaded_or_whose_reader_failed_blocks_trading() -> None:
    reason = _gate(None, _risk(loaded=False)).check(SIGNAL)
    assert reason == "risk state unknown: risk state not loaded yet (fills/settlements/positions)"
    failed = _risk()
    failed.failure = TimeoutError("broker gone")
    reason = _gate(None, failed).check(SIGNAL)
    assert reason is not None and reason.startswith("risk state unknown: risk reader stopped: TimeoutError")
    assert _gate(None, GroupRisk(KafkaSettings(bootstrap="127.0.0.1:1"), "UTC")).check(SIGNAL) == "risk state unknown: risk reader not started"


def test_two_executors_never_admit_more_than_the_total_limit_together() -> None:
    """Executor A owns partitions 0-1, B owns 2-3; each sees none of the other's records (the worst lag). Both admit
    signals on all their partitions at the same instant: together they stay within L."""
    limit = 4_000_000
    s = ExecutorSettings(max_total_exposure=limit, max_game_exposure=limit, max_orders_per_s=100_000)
    a, b = _gate(None, _risk(), s), _gate(None, _risk(), s)
    admitted = 0
    for gate, parts in ((a, (0, 1)), (b, (2, 3))):
        for p in parts:
            for i, game in enumerate(games_on(p, 20)):
                if gate.check(sig(f"{p}-{i}", game, 300_000)) is None:
                    admitted += 300_000
    assert 0 < admitted <= limit
    reason = a.check(sig("late", games_on(0, 21)[-1], 300_000))
    assert reason is not None and reason.startswith("total exposure limit (4.000000 USD; partition 0's share 1.000000 USD")


def test_a_signal_in_flight_counts_until_its_fills_are_folded() -> None:
    risk = _risk(pairings={"g": PAIRING})
    gate = _gate(None, risk, ExecutorSettings(max_total_exposure=P * 1_000_000, max_game_exposure=1_000_000, max_orders_per_s=100_000))
    assert gate.check(sig("s1", "g", 950_000)) is None
    assert gate.check(sig("s2", "g", 950_000)) is not None  # s1 is in flight: its cost is reserved
    gate.on_outcome(outcome("s1", "FILLED"))
    assert gate.check(sig("s2", "g", 950_000)) is not None  # filled, but its fills are not folded yet
    p = partition_for("g", P)
    risk.fold.apply_fill(fill("f1", "KALSHI", "K-HOME", 4500, 100), p)
    risk.fold.apply_fill(fill("f2", "POLYMARKET", "tok-away", 5000, 100), p)
    catch_up(risk)
    assert gate.check(sig("s2", "g", 950_000)) is None  # covered: no exposure left


def test_a_rejected_or_unfilled_signal_releases_its_reservation_at_once() -> None:
    gate = _gate(None, settings=ExecutorSettings(max_total_exposure=P * 1_000_000, max_game_exposure=1_000_000, max_orders_per_s=100_000))
    for state in ("REJECTED", "EXPIRED", "NOT_FILLED"):
        assert gate.check(sig("s1", "g", 1_000_000)) is None
        gate.on_outcome(outcome("s1", state))
    assert gate.check(sig("s1", "g", 1_000_000)) is None
    gate.on_outcome(outcome("s1", "UNKNOWN"))  # may still fill: stays reserved
    assert gate.check(sig("s2", "g", 1)) is not None


def test_marked_to_market_losses_trip_the_daily_limit() -> None:
    risk = _risk()
    gate = _gate(None, risk, ExecutorSettings(daily_loss_limit=2_000_000, max_orders_per_s=100_000))
    risk.fold.apply_fill(fill("f1", "KALSHI", "K-HOME", 4500, 1000), 0)  # realized 0 (no fee)
    assert gate.check(SIGNAL) is None
    risk.fold.apply_position(mark("KALSHI", "K-HOME", "YES", 2500))  # marked -2.00 USD
    assert gate.check(SIGNAL) == "daily loss limit reached (-2.000000 USD today: realized 0.000000, marked -2.000000)"


def test_a_restarted_executor_keeps_the_days_realized_loss() -> None:
    records = [fill("f1", "KALSHI", "K-HOME", 4500, 1000, fee=100_000), fill("f2", "KALSHI", "K-HOME", 2500, 1000, action="SELL")]
    s = ExecutorSettings(daily_loss_limit=2_000_000, max_orders_per_s=100_000)
    for _ in range(2):  # the first run, then a restart that rebuilds from the same `fills`
        risk = _risk()
        for r in records:
            risk.fold.apply_fill(r, 0)
        assert _gate(None, risk, s).check(SIGNAL) == "daily loss limit reached (-2.100000 USD today: realized -2.100000, marked 0.000000)"


def test_a_settlement_releases_the_games_exposure() -> None:
    risk = _risk(pairings={"g": PAIRING})
    gate = _gate(None, risk, ExecutorSettings(max_game_exposure=5_000_000, max_orders_per_s=100_000))
    risk.fold.apply_fill(fill("f1", "KALSHI", "K-HOME", 4500, 1000), partition_for("g", P))  # one-sided: 4.50 USD exposed
    assert gate.check(sig("s", "g", 1_000_000)) == "per-game exposure limit (5.000000 USD)"
    risk.fold.apply_settlement(settlement("KALSHI", "K-HOME", 10_000))
    assert gate.check(sig("s", "g", 1_000_000)) is None


def test_a_partition_not_caught_up_after_its_assignment_is_not_traded() -> None:
    risk = _risk()
    gate = _gate(None, risk, replace(ExecutorSettings(max_orders_per_s=100_000), risk_sync_timeout_ms=1))
    p = partition_for("g", P)
    gate.on_recovered(p)  # the reader does not reach the partition's end within 1 ms
    assert gate.check(SIGNAL) == f"risk state unknown: fills of partition {p} not caught up since its assignment"
    catch_up(risk)
    catch_up(risk)
    assert gate.check(SIGNAL) is None


def test_a_filled_signal_is_not_counted_twice_once_the_fold_has_its_fills() -> None:
    """Between the fold reading a signal's fills and the barrier dropping its reservation, the signal counts once."""
    risk = _risk()
    gate = _gate(None, risk, ExecutorSettings(max_total_exposure=P * 1_000_000, max_game_exposure=1_000_000, max_orders_per_s=100_000))
    p = partition_for("g", P)
    assert gate.check(sig("s1", "g", 450_000)) is None
    gate.on_outcome(outcome("s1", "FILLED"))
    risk.fold.apply_fill(fill("f1", "KALSHI", "K-HOME", 4500, 100, signal_id="s1"), p)
    assert gate.check(sig("s2", "g", 550_001)) is not None  # the fill may be one of several of its transaction: both count
    risk.fold.reached_end(p)  # the reader reached the partition's end after it: the whole transaction is folded
    assert gate.check(sig("s2", "g", 550_000)) is None  # 0.45 exposed (once) + 0.55 <= 1.00 USD
