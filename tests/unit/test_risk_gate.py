"""Issue 27, "the kill switch fails closed": a kill switch whose state the executor cannot read stops trading
like an engaged one."""

from __future__ import annotations

from typing import Any

from core.control import ControlState
from core.settings import KafkaSettings
from executor.risk import RiskGate
from executor.settings import ExecutorSettings

SIGNAL: dict[str, Any] = {"signal_id": "s", "game_id": "g", "cost": 1_000, "legs": [{"venue": "KALSHI"}, {"venue": "KALSHI"}]}


def _gate(control: ControlState | None) -> RiskGate:
    return RiskGate(ExecutorSettings(), {}, control, lambda: 1_800_000_000_000_000)


def _control(**state: Any) -> ControlState:
    c = ControlState(KafkaSettings(bootstrap="127.0.0.1:1"))
    for k, v in state.items():
        setattr(c, k, v)
    return c


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
    c._thread = type("Alive", (), {"is_alive": lambda self: True})()  # type: ignore[assignment]
    assert _gate(c).check(SIGNAL) is None  # loaded and readable: trading
    c.unreadable[b"kill_switch"] = "offset 7: not Avro"  # it may have been a kill
    reason = _gate(c).check(SIGNAL)
    assert reason is not None and "undecodable control record" in reason


def test_an_engaged_kill_switch_blocks_trading() -> None:
    c = _control()
    c._loaded.set()
    c._thread = type("Alive", (), {"is_alive": lambda self: True})()  # type: ignore[assignment]
    c.records["kill_switch"] = {"name": "kill_switch", "active": True, "reason": "operator"}
    assert _gate(c).check(SIGNAL) == "kill switch engaged: operator"
