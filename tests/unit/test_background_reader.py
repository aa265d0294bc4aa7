"""core.state_reader.BackgroundReader, the one reader thread of `control`, `markets` and the executor's group risk:
a reader that dies says so (and why) and nobody waits for its load; one that was stopped or never started is not dead."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import pytest

from core import state_reader
from core.control import ControlState
from core.markets_cache import MarketsCache
from core.settings import KafkaSettings
from executor.group_risk import GroupRisk


class Reader(state_reader.BackgroundReader):
    reader = "test"

    def __init__(self, read: Any) -> None:
        super().__init__()
        self.read = read

    @property
    def consequence(self) -> str:
        return "nothing follows the test topic"

    def _read(self) -> None:
        self.read(self)


def _loads_then_waits(r: Reader) -> None:
    r._loaded.set()
    r._stop.wait()


def _fails(r: Reader) -> None:
    raise RuntimeError("broker gone")


def _until(cond: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def _critical(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """The critical records, once there is one (the thread logs after it has set `_loaded`)."""
    _until(lambda: any(rec.levelno == logging.CRITICAL for rec in caplog.records))
    return [rec for rec in caplog.records if rec.levelno == logging.CRITICAL]


def test_a_reader_that_fails_says_why_and_nobody_waits_for_its_load(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.CRITICAL)
    r = Reader(_fails)
    t0 = time.monotonic()
    r.start(wait_s=30)
    assert time.monotonic() - t0 < 10  # the failure ended the wait for the load, not wait_s
    assert not r.wait_loaded(0) and not r.loaded and r.dead
    assert r.error == "test reader stopped: RuntimeError: broker gone"
    [rec] = _critical(caplog)
    assert rec.name == __name__  # the subclass's module logs it, as before the readers shared this code
    assert rec.getMessage() == "test reader stopped: RuntimeError: broker gone; nothing follows the test topic"
    r.stop()


def test_a_reader_that_ended_unasked_is_dead() -> None:
    r = Reader(lambda r: r._loaded.set()).start()
    _until(lambda: r._thread is not None and not r._thread.is_alive())
    assert r.failure is None and r.dead and r.error == "test reader stopped"


def test_not_started_not_loaded_loaded_and_stopped() -> None:
    r = Reader(_loads_then_waits)
    assert r.error == "test reader not started" and not r.dead  # offline use: never started is not dead
    gate = threading.Event()

    def slow_load(r: Reader) -> None:
        gate.wait(5)
        _loads_then_waits(r)

    slow = Reader(slow_load)
    slow.start(wait_s=0)
    assert slow.error == "test state not loaded yet" and not slow.loaded
    gate.set()
    assert slow.wait_loaded(5) and slow.error is None and slow.loaded
    slow.stop()
    assert slow._thread is not None and not slow._thread.is_alive()
    assert not slow.dead and slow.error is None  # asked to stop: not a death


def test_the_control_reader_logs_its_death_as_it_always_did(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    def broken(*a: Any, **k: Any) -> Any:
        raise RuntimeError("cannot create consumer")

    monkeypatch.setattr(state_reader, "make_consumer", broken)
    caplog.set_level(logging.CRITICAL)
    state = ControlState(KafkaSettings(bootstrap="127.0.0.1:1")).start(wait_s=5)
    try:
        assert state.error == "control reader stopped: RuntimeError: cannot create consumer" and not state.healthy
        [rec] = _critical(caplog)
        assert rec.name == "core.control"
        assert rec.getMessage() == "control reader stopped: RuntimeError: cannot create consumer; kill switch changes are no longer seen"
        assert threading.current_thread().name != "control-reader" and rec.threadName == "control-reader"
    finally:
        state.stop()


def test_what_each_reader_says_before_its_load() -> None:
    settings = KafkaSettings(bootstrap="127.0.0.1:1")
    readers = [ControlState(settings), MarketsCache(settings), GroupRisk(settings, "UTC")]
    for r in readers:
        r._thread = threading.Thread(target=r._stop.wait, daemon=True)  # alive, not loaded
        r._thread.start()
    try:
        assert [r.error for r in readers] == ["control topic not loaded yet", "markets topic not loaded yet",
                                              "risk state not loaded yet (fills/settlements/positions)"]
    finally:
        for r in readers:
            r._stop.set()
