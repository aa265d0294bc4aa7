"""The processor's settings: `arb process` passes its flags and settings in (it no longer writes them into
os.environ for an import to read), and the retired ARB_FAUST_* duplicates of ARB_* settings still work, with one
warning each (processors/retired_settings.py)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any

import pytest

import processors.retired_settings as retired
from core.config import ConfigError, load
from core.settings import KafkaSettings
from processors.app import create_app
from processors.faust_settings import WorkerSettings
from processors.low_latency import LowLatencyTransport
from processors.retired_settings import with_retired
from processors.settings import DetectorSettings


@pytest.fixture(autouse=True)
def fresh_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(retired, "_warned", set())


def test_the_worker_takes_the_settings_every_kafka_client_takes() -> None:
    kafka = load(KafkaSettings, env={"ARB_FETCH_WAIT_MS": "3", "ARB_LINGER_MS": "4", "ARB_SESSION_TIMEOUT_MS": "7000"})
    assert with_retired(kafka, env={}) is kafka
    app = create_app(kafka, load(WorkerSettings, env={}), load(DetectorSettings, env={}))
    assert isinstance(app.transport, LowLatencyTransport) and app.consumer.transport is app.transport  # set through Faust's public setter
    assert app.transport.fetch_wait_ms == 3
    assert app.conf.producer_linger == 0.004 and app.conf.broker_session_timeout == 7.0


def test_a_retired_name_still_sets_the_processor_with_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    env = {"ARB_FAUST_FETCH_WAIT_MS": "5", "ARB_FAUST_LINGER_MS": "1", "ARB_FAUST_SESSION_TIMEOUT_S": "4.5", "ARB_SESSION_TIMEOUT_MS": "9000"}
    kafka = load(KafkaSettings, env=env)
    with caplog.at_level(logging.WARNING, logger="processors.retired_settings"):
        first = with_retired(kafka, env=env)
        again = with_retired(kafka, env=env)
    assert first == again
    # As before: the old name set the processor only, whatever the new one says for the other clients.
    assert (first.fetch_wait_ms, first.linger_ms, first.session_timeout_ms) == (5, 1, 4500)
    assert (kafka.fetch_wait_ms, kafka.linger_ms, kafka.session_timeout_ms) == (2, 0, 9000)
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == 3, warned
    assert any("ARB_FAUST_SESSION_TIMEOUT_S is retired: set ARB_SESSION_TIMEOUT_MS=4500" in w for w in warned), warned


def test_a_bad_retired_value_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="ARB_FAUST_LINGER_MS"):
        with_retired(load(KafkaSettings, env={}), env={"ARB_FAUST_LINGER_MS": "soon"})


def test_arb_process_passes_its_settings_in_and_leaves_the_environment_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    import core.heap
    import processors.quiet_worker as qw
    from cli.commands import process

    seen: dict[str, Any] = {}
    monkeypatch.setattr(qw.QuietWorker, "execute_from_commandline", lambda self: seen.setdefault("app", self.app))
    monkeypatch.setattr(core.heap, "freeze_startup_objects", lambda: None)
    monkeypatch.setattr(process, "require_broker", lambda kafka: None)  # no broker here: only the settings are under test
    monkeypatch.setattr(process, "require_topics", lambda *a, **k: None)
    for name in [n for n in os.environ if n.startswith("ARB_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("ARB_FAUST_SESSION_TIMEOUT_S", "7")
    monkeypatch.setenv("ARB_PROCESSOR_ID", "proc-x")
    before = dict(os.environ)
    root = logging.getLogger()
    saved = root.handlers[:], root.level, sys.stdout, sys.stderr
    try:
        assert process.run(argparse.Namespace(bootstrap="10.0.0.1:9093,10.0.0.2:9093", prefix="t1.", loglevel="warning")) == 0
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        sys.stdout, sys.stderr = saved[2], saved[3]
    assert dict(os.environ) == before
    app = seen["app"]
    assert [str(u) for u in app.conf.broker] == ["kafka://10.0.0.1:9093", "kafka://10.0.0.2:9093"]
    assert app.conf.id == "t1.proc-x"
    assert next(iter(app.agents.values())).channel.get_topic_name() == "t1.ticks"
    assert app.conf.broker_session_timeout == 7.0
