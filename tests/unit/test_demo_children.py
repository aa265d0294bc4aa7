"""The demo's and the benchmarks' children end with them: a bench killed mid-run once left an `arb process`
spinning for 35 minutes on a CI machine (demo/supervisor.py starts children through localkafka.broker.die_with_parent)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(shutil.which("setpriv") is None, reason="needs util-linux setpriv (Linux)")

# A parent that starts a long sleeper through the demo's Supervisor, prints the sleeper's pid, then waits.
PARENT = """
import sys, time
from pathlib import Path
from demo.supervisor import Supervisor
child = Supervisor(Path(sys.argv[1])).start("sleeper", [sys.executable, "-c", "import time; time.sleep(120)"])
print(child.pid, flush=True)
time.sleep(120)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (ended, not yet reaped by its new parent) counts as gone
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (OSError, IndexError):
        return False


def _exe_name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].rsplit(b"/", 1)[-1].decode()
    except OSError:
        return ""


def test_a_supervised_child_ends_when_its_parent_is_killed(tmp_path: Path) -> None:
    repo = Path(__file__).resolve().parents[2]
    parent = subprocess.Popen([sys.executable, "-c", PARENT, str(tmp_path)], cwd=repo, stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(repo)})
    child_pid = 0
    try:
        assert parent.stdout is not None
        child_pid = int(parent.stdout.readline())
        assert _alive(child_pid)
        # setpriv asks for the parent-death signal, then execs the command: a parent killed before that (the pid is
        # printed as soon as the child is forked) leaves a child that never asked. Failed that way once under load.
        deadline = time.monotonic() + 10
        while _exe_name(child_pid) == "setpriv" and time.monotonic() < deadline:
            time.sleep(0.01)
        parent.send_signal(signal.SIGKILL)  # no chance to clean up: only the kernel's parent-death signal helps
        parent.wait(10)
        deadline = time.monotonic() + 10
        while _alive(child_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(child_pid), "the child outlived its SIGKILLed parent"
    finally:
        parent.kill()
        if child_pid and _alive(child_pid):
            os.kill(child_pid, signal.SIGKILL)
