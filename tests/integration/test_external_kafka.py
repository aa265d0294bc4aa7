"""Benchmarks and the demo on an external Kafka (`--bootstrap`): the session's broker stands in for a
user's cluster that another pipeline already uses. The run must work there, must not touch that
pipeline's topics, and must leave no topic of its own behind."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from core.settings import KafkaSettings
from tests.conftest import REPO, BrokerHandle

pytestmark = pytest.mark.integration
OTHER_TESTS = re.compile(r"t[0-9a-f]{10}\.")  # the topic prefix of every test (tests/conftest.py `kafka`)


def _topic_names(bootstrap: str) -> set[str]:
    from dataclasses import replace

    from core.kafka import make_admin

    return set(make_admin(replace(KafkaSettings(), bootstrap=bootstrap)).list_topics(timeout=10).topics)


def _assert_no_trace(bootstrap: str, before: set[str], theirs: str) -> None:
    """Nothing of the run's own is left and nothing of the other pipeline (prefix `theirs`) is gone. Kafka's
    internal topics (__consumer_offsets, __transaction_state) may appear on a fresh broker with the run's
    first group or transaction; topics of other tests sharing the broker may come and go meanwhile."""
    after = _topic_names(bootstrap)
    left = {t for t in after - before if not t.startswith("__") and not OTHER_TESTS.match(t)}
    assert not left, f"the run left topics behind: {sorted(left)}"
    assert {t for t in before if t.startswith(theirs)} <= after, "the run deleted the other pipeline's topics"


def _arb(*argv: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cli", *argv], cwd=REPO, capture_output=True, text=True, timeout=timeout)


@pytest.mark.timeout(200)
def test_bench_process_on_an_external_broker_keeps_to_its_own_topics(broker: BrokerHandle, topics: KafkaSettings) -> None:
    before = _topic_names(broker.bootstrap)
    assert f"{topics.topic_prefix}ticks" in before  # the other pipeline's topics exist
    proc = _arb("bench", "process", "--bootstrap", broker.bootstrap, "--games", "4", "--ticks", "200", "--rate", "200",
                "--burst", "1000", "--bursts", "1", "--warmup", "1", "--json", timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["tick_to_signal"]["n"] > 0 and out["throughput_ticks_per_s"] is not None, out
    assert "prefixed 'benchp." in proc.stderr and "deleted the run's" in proc.stderr, proc.stderr[-2000:]
    _assert_no_trace(broker.bootstrap, before, topics.topic_prefix)


@pytest.mark.timeout(240)
def test_bench_latency_on_an_external_broker(broker: BrokerHandle, topics: KafkaSettings) -> None:
    before = _topic_names(broker.bootstrap)
    proc = _arb("bench", "latency", "--bootstrap", broker.bootstrap, "--games", "4", "--rate", "100", "--windows-per-min", "120",
                "--warmup", "1", "--duration", "10", "--json", timeout=220)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["pipeline"]["n"] > 0 and out["duplicates"] == 0 and out["rate"] > 0, out
    assert out["baseline_mode"] == "after" and out["baseline"]["n"] > 0, out  # measured alone, after the pipeline stopped
    _assert_no_trace(broker.bootstrap, before, topics.topic_prefix)


@pytest.mark.timeout(60)
def test_no_kafka_at_bootstrap_is_one_clear_line() -> None:
    from localkafka.broker import free_port

    bootstrap = f"127.0.0.1:{free_port()}"
    proc = _arb("bench", "process", "--bootstrap", bootstrap, "--json", timeout=50)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].startswith(f"arb bench: no Kafka answers at {bootstrap}"), proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr and proc.stdout == ""


@pytest.mark.timeout(120)
def test_bench_recovery_and_a_processor_chaos_scenario_on_an_external_broker(broker: BrokerHandle, topics: KafkaSettings) -> None:
    # The chaos rig (executor scenarios, venue-ambiguity, recovery) and the processor's scenarios each make their Kafka
    # their own way: one run of each on the external broker, and nothing of theirs left there.
    before = _topic_names(broker.bootstrap)
    proc = _arb("bench", "recovery", "--bootstrap", broker.bootstrap, "--records", "50", "--json", timeout=100)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert [s["recovery_read"]["from"] for s in out["starts"]] == ["beginning", "checkpoint"], out
    assert "deleted the run's" in proc.stderr, proc.stderr[-2000:]
    proc = _arb("bench", "chaos", "--scenario", "corrupt-records", "--bootstrap", broker.bootstrap, "--duration", "4", "--games", "4",
                "--json", timeout=100)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["dead_letters"] == out["corrupt_injected"] > 0 and out["lost_signals"] == 0 and out["signals_seen"] > 0, out
    _assert_no_trace(broker.bootstrap, before, topics.topic_prefix)


def test_a_cluster_refusing_the_runs_session_timeout_is_one_clear_error(broker: BrokerHandle) -> None:
    from dataclasses import replace

    from confluent_kafka.admin import ConfigResource

    from core.kafka import make_admin
    from localkafka.broker import BrokerError
    from localkafka.run import require_session_timeout

    kafka = replace(KafkaSettings(), bootstrap=broker.bootstrap)
    admin = make_admin(kafka)
    res = ConfigResource(ConfigResource.Type.BROKER, str(next(iter(admin.list_topics(timeout=10).brokers))))
    least = int(admin.describe_configs([res], request_timeout=10)[res].result()["group.min.session.timeout.ms"].value)
    require_session_timeout(kafka, least, "test")  # allowed: no error
    with pytest.raises(BrokerError, match=f"refuses session timeouts below {least} ms"):
        require_session_timeout(kafka, least - 1, "test")
