"""A local single-node Apache Kafka (KRaft: broker and controller in one JVM) for the demo, the tests and
the benchmarks, run from the official Maven Central jars that localkafka/dist.py caches and verifies.

The version is the one pinned in kafka_jars.lock.json, the same as the compose stack's `apache/kafka`
image. Needs Java >= 17 (JAVA_HOME, else `java` on PATH). Storage is formatted on first start in the data
directory (a temporary one, deleted at stop, unless one is given).
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from types import TracebackType

from core.errors import ArbError
from localkafka.dist import KafkaDistError, ensure_installed, read_lock

MIN_JAVA = 17

# The compose stack's broker settings (docker-compose.yml, service `kafka`): one node, replication 1.
COMPOSE_SETTINGS: dict[str, str] = {
    "offsets.topic.replication.factor": "1",
    "transaction.state.log.replication.factor": "1",
    "transaction.state.log.min.isr": "1",
    "share.coordinator.state.topic.replication.factor": "1",  # 4.x share groups' state topic (default 3)
    "share.coordinator.state.topic.min.isr": "1",
    "group.initial.rebalance.delay.ms": "0",  # a lone first member need not wait 3 s for others
    # Only `arb topics create` creates topics, with the registry's partitions and cleanup policy; a record
    # written to a misspelt prefix must fail, not create a topic (of the broker's default shape) nobody reads.
    "auto.create.topics.enable": "false",
}

# What the local broker adds for tests, the demo and the benchmarks (never needed in production).
LOCAL_SETTINGS: dict[str, str] = {
    # The chaos scenarios kill group members and use 2 s session timeouts so the group notices quickly;
    # Kafka refuses session timeouts below this bound (6 s by default).
    "group.min.session.timeout.ms": "1000",
    # The internal topics are created on first use (first group, first transaction); 50 partitions each
    # (the default) costs seconds of a 2-core machine at the start of every test session.
    "offsets.topic.num.partitions": "5",
    "transaction.state.log.num.partitions": "5",
    # A SIGKILLed producer's open transaction is aborted after its transaction.timeout.ms; the broker
    # looks for such transactions every 10 s by default. Checking every second makes the tests of that
    # behaviour bounded by the transaction timeout they choose.
    "transaction.abort.timed.out.transaction.cleanup.interval.ms": "1000",
}

JVM_OPTS = ["-Xms256m", "-Xmx1g", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-XX:InitiatingHeapOccupancyPercent=35",
            "-XX:+ExplicitGCInvokesConcurrent", "-Djava.awt.headless=true"]  # kafka-run-class.sh's defaults, 1 GB heap

LOG4J2 = """status = warn
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = {log}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = {level}
rootLogger.appenderRef.file.ref = FILE
"""


class BrokerError(ArbError, RuntimeError):
    """The local broker cannot start (Java missing or too old, jars unavailable, port taken, exited early),
    or no Kafka answers at a given address."""


def port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def java_binary() -> str:
    """The java to run Kafka with: $JAVA_HOME/bin/java, else `java` on PATH; BrokerError if none is >= 17."""
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    how = "install a JDK or JRE 17+ (e.g. `apt install openjdk-17-jre-headless`) or set JAVA_HOME"
    if not java or not Path(java).is_file():
        raise BrokerError(f"Kafka needs Java {MIN_JAVA} or newer and none was found: {how}")
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)  # noqa: S603 - a fixed argv
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BrokerError(f"cannot run {java}: {exc}") from None
    major = java_major(out.stderr + out.stdout)
    if major is None or major < MIN_JAVA:
        raise BrokerError(f"Kafka needs Java {MIN_JAVA} or newer; {java} is {major or 'of unknown version'}: {how}")
    return java


def java_major(version_text: str) -> int | None:
    """17 from 'openjdk version "17.0.15" …', 8 from 'java version "1.8.0_392"'."""
    m = re.search(r'version "(\d+)(?:\.(\d+))?', version_text)
    if not m:
        return None
    first = int(m.group(1))
    return int(m.group(2) or 0) if first == 1 else first


def cluster_id() -> str:
    """A Kafka cluster id (base64url of 16 random bytes, as `kafka-storage.sh random-uuid`, which also
    avoids a leading '-' so the id never reads as a command-line option)."""
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):
            return cid


def server_properties(port: int, controller_port: int, log_dir: Path, host: str = "127.0.0.1") -> dict[str, str]:
    props = {
        "process.roles": "broker,controller",
        "node.id": "1",
        # A static voter set (as the compose stack): the controller's port may differ between starts of
        # one data directory, which a dynamic quorum (`format --standalone`) would have stored.
        "controller.quorum.voters": f"1@{host}:{controller_port}",
        "listeners": f"PLAINTEXT://{host}:{port},CONTROLLER://{host}:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://{host}:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(log_dir),
    }
    return {**props, **COMPOSE_SETTINGS, **LOCAL_SETTINGS}


def die_with_parent() -> list[str]:
    """A command prefix that makes the child get SIGTERM when its parent dies (util-linux `setpriv
    --pdeathsig`, Linux; a preexec_fn would be unsafe in our threaded processes). Without setpriv:
    none, and stop() is the only way the child ends. The demo's and the benches' children use it too: a bench
    that dies must not leave a worker spinning."""
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "TERM"] if setpriv else []


class LocalKafka:
    """Runs Apache Kafka on host:port as a child JVM; a context manager. `data_dir=None`: a temporary
    directory, deleted at stop; otherwise formatted on first start and reused after."""

    def __init__(self, port: int = 9092, host: str = "127.0.0.1", *, controller_port: int | None = None,
                 data_dir: Path | None = None, quiet: bool = True, log_level: str = "WARN") -> None:
        self.host = host
        self.port = port
        self.controller_port = controller_port
        self.data_dir = data_dir
        self.quiet = quiet
        self.log_level = log_level
        self.proc: subprocess.Popen[bytes] | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def version(self) -> str:
        return read_lock().kafka_version

    @property
    def log_file(self) -> Path:
        if self.data_dir is None:
            raise BrokerError("Kafka has no data directory before start()")
        return self.data_dir / "kafka.log"

    def _last_log_line(self) -> str:
        try:
            lines = [ln for ln in self.log_file.read_text(errors="replace").splitlines() if " ERROR " in ln or "Exception" in ln]
        except OSError:
            return ""
        return f": {lines[-1].strip()[:300]}" if lines else f" (see {self.log_file})"

    def start(self, timeout: float = 90.0) -> LocalKafka:
        java = java_binary()
        for p in (self.port, self.controller_port):
            if p is not None and not port_free(self.host, p):
                raise BrokerError(f"port {p} on {self.host} is already in use")
        try:
            libs = ensure_installed()
        except KafkaDistError as exc:
            raise BrokerError(str(exc)) from None
        if self.controller_port is None:
            self.controller_port = free_port(self.host)
        if self.data_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="arb-kafka-")
            self.data_dir = Path(self._tmp.name)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log_dir = self.data_dir / "log"
        config = self.data_dir / "server.properties"
        config.write_text("".join(f"{k}={v}\n" for k, v in server_properties(self.port, self.controller_port, log_dir, self.host).items()))
        log4j = self.data_dir / "log4j2.properties"
        log4j.write_text(LOG4J2.format(log=self.log_file, level=self.log_level))
        base = [java, *JVM_OPTS, f"-Dlog4j2.configurationFile={log4j}", "-cp", f"{libs}/*"]
        if not (log_dir / "meta.properties").is_file():
            fmt = subprocess.run([*base, "kafka.tools.StorageTool", "format", "-t", cluster_id(), "-c", str(config)],  # noqa: S603 - fixed argv
                                 capture_output=True, text=True, timeout=120)
            if fmt.returncode != 0:
                raise BrokerError(f"formatting Kafka storage in {log_dir} failed: {(fmt.stderr or fmt.stdout).strip()[-300:]}")
        out = subprocess.DEVNULL if self.quiet else None
        # A session of its own: a terminal's Ctrl-C reaches Kafka only through stop(), after our clients.
        # And a parent-death signal: a parent that is SIGKILLed (a killed test run or benchmark) takes
        # its broker with it instead of leaving a JVM behind.
        self.proc = subprocess.Popen([*die_with_parent(), *base, "kafka.Kafka", str(config)], stdout=out, stderr=out,  # noqa: S603 - fixed argv
                                     start_new_session=True)
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, timeout: float) -> None:
        from core.kafka import make_admin
        from core.settings import KafkaSettings

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:  # first the listener, so librdkafka does not log refused connections
            self._check_alive()
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.1)
        # plain: the local broker has no security; not ready yet is no error worth a warning
        admin = make_admin(KafkaSettings(bootstrap=self.bootstrap), error_cb=lambda _err: None)
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                if admin.list_topics(timeout=2).brokers:
                    return
            except Exception:  # noqa: S110 - not ready yet; the deadline bounds the loop
                pass
            time.sleep(0.1)
        raise BrokerError(f"Kafka did not become ready on {self.bootstrap} within {timeout:.0f} s{self._last_log_line()}")

    def _check_alive(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise BrokerError(f"Kafka exited with code {self.proc.returncode} during start-up{self._last_log_line()}")

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM (Kafka's controlled shutdown), SIGKILL after `timeout`; then the temporary data goes."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
            self.data_dir = None

    def __enter__(self) -> LocalKafka:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
