"""Child processes of the demo: started in their own process groups, logged to files, stopped together.

Each child gets SIGTERM (its whole process group), then SIGKILL after a grace period, so Ctrl-C on the
demo leaves nothing behind even when a child ignores or is slow to handle SIGTERM.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from core.errors import ArbError
from localkafka.broker import die_with_parent


class ChildFailed(ArbError, RuntimeError):
    """A child exited unexpectedly or did not start in time."""


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def arb_argv(*args: str) -> list[str]:
    """`arb ARGS` through the running interpreter (works without the console script on PATH)."""
    return [sys.executable, "-m", "cli", *args]


class Supervisor:
    def __init__(self, workdir: Path, base_env: dict[str, str] | None = None) -> None:
        self.workdir = workdir
        self.base_env = dict(base_env if base_env is not None else os.environ)
        self.children: list[Child] = []

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None, *, stdout_pipe: bool = False) -> Child:
        log_path = self.workdir / f"{name}.log"
        log = log_path.open("ab")
        child = Child(name, argv, {**self.base_env, **(env or {})}, log_path, _log=log)
        child.proc = subprocess.Popen([*die_with_parent(), *argv], env=child.env, stdout=subprocess.PIPE if stdout_pipe else log, stderr=log,  # noqa: S603
                                      stdin=subprocess.DEVNULL, start_new_session=True)
        self.children.append(child)
        self._write_pids()
        return child

    def _write_pids(self) -> None:
        (self.workdir / "pids.json").write_text(json.dumps({c.name: c.pid for c in self.children}))

    @staticmethod
    def read_json_line(child: Child, timeout_s: float) -> dict[str, Any]:
        """The first stdout line of a child that announces itself with one JSON line (then stdout is drained to its log)."""
        assert child.proc is not None and child.proc.stdout is not None  # noqa: S101 - started with stdout_pipe
        deadline = time.monotonic() + timeout_s
        os.set_blocking(child.proc.stdout.fileno(), False)
        buf = b""
        while time.monotonic() < deadline:
            chunk = child.proc.stdout.read()
            if chunk:
                buf += chunk
                if b"\n" in buf:
                    line = buf.split(b"\n", 1)[0]
                    return dict(json.loads(line))
            if child.proc.poll() is not None:
                raise ChildFailed(f"{child.name} exited with code {child.proc.returncode}:\n{child.tail()}")
            time.sleep(0.05)
        raise ChildFailed(f"{child.name} did not announce itself within {timeout_s:.0f} s:\n{child.tail()}")

    @staticmethod
    def wait_for_log(child: Child, text: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if text in child.log_path.read_text(errors="replace"):
                    return
            except OSError:
                pass
            if not child.alive():
                raise ChildFailed(f"{child.name} exited with code {child.proc.returncode if child.proc else '?'}:\n{child.tail()}")
            time.sleep(0.1)
        raise ChildFailed(f"{child.name}: no {text!r} in its log within {timeout_s:.0f} s:\n{child.tail()}")

    def check(self, ignore: set[str] | None = None) -> None:
        for c in self.children:
            if ignore and c.name in ignore:
                continue
            if not c.alive():
                code = c.proc.returncode if c.proc else None
                raise ChildFailed(f"{c.name} exited unexpectedly with code {code}; last lines of {c.log_path}:\n{c.tail()}")

    def stop(self, names: set[str], grace_s: float = 4.0) -> None:
        """Stop some children (SIGTERM to their groups, SIGKILL after the grace period)."""
        chosen = [c for c in self.children if c.name in names and c.proc is not None]
        for c in chosen:
            if c.alive():
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(c.proc.pid, signal.SIGTERM)  # type: ignore[union-attr]
        for c in chosen:
            try:
                c.proc.wait(timeout=grace_s)  # type: ignore[union-attr]
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(c.proc.pid, signal.SIGKILL)  # type: ignore[union-attr]

    def stop_all(self, grace_s: float = 4.0) -> None:
        """SIGTERM every child's process group (last started first), SIGKILL whatever is left after the grace period."""
        for c in reversed(self.children):
            if c.alive() and c.proc is not None:
                try:
                    os.killpg(c.proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + grace_s
        for c in reversed(self.children):
            if c.proc is None:
                continue
            try:
                c.proc.wait(timeout=max(0.05, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for c in self.children:
            if c.proc is None:
                continue
            try:  # the group too: grandchildren (e.g. the broker binary) must not survive
                os.killpg(c.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                c.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                pass
            if c._log is not None:
                c._log.close()
            if c.proc.stdout is not None:
                c.proc.stdout.close()
