"""The CLI fails fast and says one line (issue 28): a broker that is down, a prefix whose topics are missing or
mis-shaped, a venue reconciliation cannot read. Nothing creates a topic but `arb topics create`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import KafkaError, TopicPartition
from confluent_kafka.admin import ConfigResource, NewTopic

from core.config import SecretProperties
from core.kafka import make_admin, make_consumer, make_producer
from core.settings import KafkaSettings
from core.topic_admin import ensure_topics
from core.topics import topic_name
from localkafka.broker import free_port
from tests.conftest import REPO, BrokerHandle

pytestmark = pytest.mark.integration

def _env(**extra: str) -> dict[str, str]:
    """The test's environment without its ARB_* settings (no venue credentials, no other broker)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARB_")}
    return {**env, "ARB_METRICS_PORT": "0", **extra}


def arb(*argv: str, env: dict[str, str] | None = None, timeout: float = 60) -> tuple[subprocess.CompletedProcess[str], float]:
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "cli", *argv], cwd=REPO, capture_output=True, text=True, timeout=timeout,
                          env=env or _env())
    return proc, time.monotonic() - t0


def _topic_names(s: KafkaSettings) -> set[str]:
    return set(make_admin(s).list_topics(timeout=10).topics)


# --- a broker that is down -----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def dead() -> str:
    """host:port where nothing listens (bound, then released)."""
    return f"127.0.0.1:{free_port()}"


@pytest.mark.parametrize("argv", [["status"], ["status", "--json"], ["topics", "create"], ["kill"], ["resume"], ["positions"],
                                  ["tail", "ticks"], ["record", "--topic", "ticks", "-o", "{tmp}/x.avro"], ["discover", "--once"]],
                         ids=lambda a: " ".join(a))
def test_a_command_says_one_line_when_kafka_is_down(argv: list[str], dead: str, tmp_path: Path) -> None:
    proc, took = arb(*[a.format(tmp=tmp_path) for a in argv], "--bootstrap", dead)
    assert proc.returncode == 1, proc.stderr[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr[-3000:]
    assert lines[0].startswith(f"arb {argv[0]}: cannot reach Kafka at {dead}"), lines
    assert proc.stdout == ""
    assert took < 15, took


def test_a_long_running_role_retries_quietly_when_kafka_is_down(dead: str) -> None:
    """`positions serve` (librdkafka producer + consumers) on a dead broker: a warning now and then, not a
    librdkafka line per reconnect (~45 a second before)."""
    proc = subprocess.Popen([sys.executable, "-m", "cli", "positions", "serve", "--bootstrap", dead], cwd=REPO, env=_env(ARB_LOG_FORMAT="human"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(8)
        assert proc.poll() is None, "the role must keep retrying, not exit"
    finally:
        proc.send_signal(signal.SIGKILL)
        _, err = proc.communicate(timeout=30)
    lines = err.strip().splitlines()
    assert not any("|FAIL|" in ln or ln.startswith("%") for ln in lines), err[-2000:]
    warnings = [ln for ln in lines if "WARNING" in ln and dead in ln]
    assert 1 <= len(warnings) <= 2, err[-3000:]  # one line now, the next after 30 s
    assert len(lines) <= 6, err[-3000:]


async def test_discovery_reports_as_published_only_what_was_delivered(dead: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from producers.discovery import service as service_mod
    from producers.discovery.overrides import Overrides
    from tests.unit.test_discovery import DRAWS, NOW, RULES, _pair_inputs

    k, p = _pair_inputs()
    real_match = service_mod.match
    monkeypatch.setattr(service_mod, "match", lambda kg, pg, ov, dr, **_: real_match(kg, pg, ov, dr, now_us=NOW, rules=RULES))

    async def fetch_k(_: Any) -> list[Any]:
        return [k]

    async def fetch_p(_: Any) -> list[Any]:
        return [p]

    # Deliveries fail after 2 s (the broker is down) instead of the default 5 minutes.
    kafka = KafkaSettings(bootstrap=dead, extra=SecretProperties("message.timeout.ms=2000"))
    assert real_match([k], [p], Overrides(), DRAWS, now_us=NOW, rules=RULES).pairings  # the round pairs one game
    service = service_mod.DiscoveryService(kafka, fetch_kalshi=fetch_k, fetch_polymarket=fetch_p)
    rep = await service.run_once()
    assert rep.paired == 1
    assert rep.published == [] and rep.tombstoned == [], rep.to_json()
    assert not rep.ok and any("undelivered" in e or "not delivered" in e for e in rep.errors), rep.errors
    assert service.cache.pairings == {}  # nothing folded in as if it were on the topic


# --- safety commands say no ----------------------------------------------------------------------------------------

def test_kill_refuses_a_prefix_without_a_control_topic(kafka: KafkaSettings) -> None:
    control = topic_name("control", kafka)
    for cmd in ("kill", "resume"):
        proc, took = arb(cmd, "--bootstrap", kafka.bootstrap, "--prefix", kafka.topic_prefix)
        assert proc.returncode == 2, (proc.stdout, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"arb {cmd}: ") and control in lines[0], lines
        assert "ENGAGED" not in proc.stdout and "released" not in proc.stdout
        assert took < 20
    time.sleep(0.5)
    assert control not in _topic_names(kafka)  # not auto-created by the attempt


def test_kill_and_status_refuse_a_mis_shaped_control_topic(kafka: KafkaSettings) -> None:
    # Every topic of the registry, but `control` with 3 partitions and cleanup.policy=delete (the broker's defaults).
    admin = make_admin(kafka)
    control = topic_name("control", kafka)
    admin.create_topics([NewTopic(control, num_partitions=3, replication_factor=1)])[control].result(15)
    ensure_topics(admin, kafka)
    proc, _ = arb("kill", "--bootstrap", kafka.bootstrap, "--prefix", kafka.topic_prefix)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and control in lines[0] and "partitions" in lines[0], lines
    proc, _ = arb("status", "--bootstrap", kafka.bootstrap, "--prefix", kafka.topic_prefix)
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert "mismatch" in proc.stdout and "kill switch: off" not in proc.stdout, proc.stdout


def test_status_exits_1_on_a_control_topic_with_the_wrong_cleanup_policy(kafka: KafkaSettings) -> None:
    admin = make_admin(kafka)
    control = topic_name("control", kafka)
    admin.create_topics([NewTopic(control, num_partitions=1, replication_factor=1, config={"cleanup.policy": "delete"})])[control].result(15)
    ensure_topics(admin, kafka)
    proc, _ = arb("status", "--bootstrap", kafka.bootstrap, "--prefix", kafka.topic_prefix)
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert "cleanup.policy" in proc.stdout, proc.stdout
    proc, _ = arb("kill", "--bootstrap", kafka.bootstrap, "--prefix", kafka.topic_prefix)
    assert proc.returncode == 2 and "cleanup.policy" in proc.stderr, (proc.stdout, proc.stderr)


def test_status_of_a_missing_prefix_exits_1_and_does_not_say_off(kafka: KafkaSettings) -> None:
    proc, took = arb("status", "--bootstrap", kafka.bootstrap, "--prefix", kafka.topic_prefix)
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert "missing" in proc.stdout and "kill switch: off" not in proc.stdout, proc.stdout
    assert took < 30
    assert topic_name("control", kafka) not in _topic_names(kafka)


def test_status_of_a_complete_prefix_exits_0(topics: KafkaSettings) -> None:
    proc, _ = arb("status", "--bootstrap", topics.bootstrap, "--prefix", topics.topic_prefix)
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    assert "kill switch: off" in proc.stdout


def test_reconcile_refuses_to_judge_venues_it_cannot_read(topics: KafkaSettings) -> None:
    proc, _ = arb("positions", "--reconcile", "--bootstrap", topics.bootstrap, "--prefix", topics.topic_prefix, env=_env())
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "no drift" not in proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("arb positions: ") and "Kalshi" in lines[0] and "Polymarket" in lines[0], lines


# --- nothing creates a topic implicitly ----------------------------------------------------------------------------

def test_clients_do_not_create_topics(kafka: KafkaSettings) -> None:
    ticks, fills = topic_name("ticks", kafka), topic_name("fills", kafka)
    errors: list[Any] = []
    producer = make_producer(kafka, **{"message.timeout.ms": 3000})
    producer.produce(ticks, key=b"k", value=b"v", on_delivery=lambda err, _msg: errors.append(err))
    producer.flush(10)
    consumer = make_consumer(kafka, f"{kafka.topic_prefix}probe")
    try:
        consumer.subscribe([fills])
        consumer.poll(2)
        consumer.list_topics(fills, timeout=5)
        consumer.get_watermark_offsets(TopicPartition(fills, 0), timeout=2)
    except Exception:  # noqa: S110 - an unknown partition may raise; the point is what exists afterwards
        pass
    finally:
        consumer.close()
    names = _topic_names(kafka)
    assert ticks not in names and fills not in names
    assert len(errors) == 1 and errors[0] is not None and errors[0].code() in (KafkaError._MSG_TIMED_OUT, KafkaError._UNKNOWN_TOPIC,
                                                                                 KafkaError.UNKNOWN_TOPIC_OR_PART)


def test_the_test_broker_does_not_auto_create_topics(broker: BrokerHandle, kafka: KafkaSettings) -> None:
    if broker.kind == "external":
        pytest.skip("an external cluster's settings are its own")
    admin = make_admin(kafka)
    node = next(iter(admin.list_topics(timeout=10).brokers))
    res = ConfigResource(ConfigResource.Type.BROKER, str(node))
    cfg = admin.describe_configs([res])[res].result(15)
    assert cfg["auto.create.topics.enable"].value == "false"


def test_the_client_factory_routes_librdkafka_logs_and_never_asks_for_auto_creation() -> None:
    from core.kafka import base_config, consumer_config, producer_config

    s = replace(KafkaSettings(), bootstrap="127.0.0.1:1")
    for cfg in (base_config(s), producer_config(s), consumer_config(s, "g")):
        assert cfg["allow.auto.create.topics"] is False or cfg["allow.auto.create.topics"] == "false"
        assert hasattr(cfg["logger"], "log") and callable(cfg["error_cb"])


# --- expected failures are one line and the README's exit code (issue 28) ------------------------------------------

def _one_line(proc: subprocess.CompletedProcess[str], cmd: str, code: int) -> str:
    assert proc.returncode == code, (proc.returncode, proc.stdout[-1000:], proc.stderr[-3000:])
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"arb {cmd}: "), proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    return lines[0]


def test_record_to_a_directory_that_does_not_exist(dead: str) -> None:
    """Checked before the broker is read (here: none answers), not after a long read ends in a traceback."""
    proc, took = arb("record", "--topic", "ticks", "-o", "/nonexistent/dir/x.avro", "--bootstrap", dead)
    assert "/nonexistent/dir" in _one_line(proc, "record", 2) and took < 15


def test_replay_into_the_source_prefix(tmp_path: Path) -> None:
    proc, took = arb("replay", "--file", str(tmp_path / "x.avro"), "--into", "arb.", "--bootstrap", "127.0.0.1:1")
    assert "--into arb." in _one_line(proc, "replay", 2) and took < 15


def test_record_and_replay_say_the_same_of_the_same_error(kafka: KafkaSettings) -> None:
    """A bad --from, and a prefix without the topic: the same line (but the command's name) and the same exit code."""
    for extra, code, words in ((["--from", "yesterday"], 2, "not a time"), ([], 2, "does not exist")):
        rec, _ = arb("record", "--topic", "ticks", *extra, "-o", "/tmp/never-written.avro", "--bootstrap", kafka.bootstrap, "--prefix", kafka.topic_prefix)
        rep, _ = arb("replay", "--topic", "ticks", *extra, "--detect", "--bootstrap", kafka.bootstrap, "--prefix", kafka.topic_prefix)
        a, b = _one_line(rec, "record", code), _one_line(rep, "replay", code)
        assert words in a and a.removeprefix("arb record: ") == b.removeprefix("arb replay: "), (a, b)
    assert not Path("/tmp/never-written.avro").exists()


def test_an_unknown_kalshi_tier_is_a_configuration_error() -> None:
    proc, took = arb("discover", "--once", env=_env(ARB_KALSHI_TIER="foo"))
    assert "ARB_KALSHI_TIER" in _one_line(proc, "discover", 2) and took < 15


def test_discover_dry_run_with_the_venues_unreachable(dead: str) -> None:
    url = f"http://{dead}"
    proc, took = arb("discover", "--once", "--dry-run",
                     env=_env(ARB_KALSHI_REST_URL=url, ARB_GAMMA_URL=url, ARB_POLY_CLOB_URL=url, ARB_LOG_FORMAT="human"))
    line = _one_line(proc, "discover", 1)
    assert "KALSHI" in line and "POLYMARKET" in line and took < 30


def test_a_malformed_polymarket_private_key(dead: str) -> None:
    env = _env(ARB_POLY_PRIVATE_KEY="z" * 64, ARB_POLY_API_KEY="k" * 16, ARB_POLY_CLOB_URL=f"http://{dead}")
    proc, took = arb("execute", "--bootstrap", dead, env=env)
    assert "ARB_POLY_PRIVATE_KEY" in _one_line(proc, "execute", 2) and took < 15
    assert "z" * 16 not in proc.stderr


@pytest.mark.parametrize("argv,words", [(["--games", "-1"], "--games"), (["--kalshi-port", "70000"], "--kalshi-port"),
                                        (["--credentials-out", "/proc/nope"], "/proc/nope")], ids=["games", "port", "credentials-out"])
def test_sim_refuses_numbers_and_directories_it_cannot_use(argv: list[str], words: str) -> None:
    proc, took = arb("sim", *argv, "--duration", "1")
    assert words in _one_line(proc, "sim", 2) and took < 15
    assert proc.stdout == ""  # the simulator never started


def test_a_reader_that_stops_reading_is_not_an_error() -> None:
    """`arb config | head -1`: the pipe closes before arb has written everything."""
    proc = subprocess.Popen([sys.executable, "-m", "cli", "config"], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env())
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()
    proc.stdout.close()
    rc = proc.wait(timeout=30)
    err = proc.stderr.read().decode()
    assert rc == 0 and err == "", err[-2000:]


def test_books_of_only_malformed_frames_fails(tmp_path: Path) -> None:
    frames = tmp_path / "frames.jsonl"
    frames.write_text("garbage\n{\"type\": \"nonsense\"}\n")
    for venue in ("kalshi", "polymarket"):
        proc, took = arb("books", "--venue", venue, "--frames", str(frames))
        assert "no book rebuilt" in _one_line(proc, "books", 1) and took < 15


def test_tail_refuses_a_bad_start(topics: KafkaSettings) -> None:
    base = ["--bootstrap", topics.bootstrap, "--prefix", topics.topic_prefix]
    for argv, words in ((["-o", "middle"], "-o/--offset"), (["-p", "99"], "no partition 99"), (["--from", "soon"], "not a time")):
        proc, took = arb("tail", "control", *argv, "-e", *base)
        assert words in _one_line(proc, "tail", 2) and took < 20
