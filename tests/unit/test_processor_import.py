"""`import processors.app` sets no environment variable and starts nothing: no Faust app, thread, event loop or
socket (issue 30). `arb process` passes its settings in; `faust -A processors.app worker` builds the app on first
access to `processors.app.app`. Checked in a child interpreter, so nothing this session imported counts."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import REPO

CHILD = r"""
import gc, json, os, sys, threading

def fds():
    kinds = {}
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        kind = target.split(":")[0] if ":" in target else "file"
        kinds[kind] = kinds.get(kind, 0) + 1
    return kinds

env, threads, before = dict(os.environ), {t.name for t in threading.enumerate()}, fds()
import processors.app as module
import faust
apps = [o for o in gc.get_objects() if isinstance(o, faust.App)]
print(json.dumps({"env_changed": sorted(k for k in set(env) | set(os.environ) if env.get(k) != os.environ.get(k)),
                  "new_threads": sorted({t.name for t in threading.enumerate()} - threads),
                  "fds_before": before, "fds_after": fds(), "apps": len(apps), "app_attribute": "app" in vars(module)}))
module.app  # what `faust -A processors.app` asks for: built now
print(json.dumps({"apps": len([o for o in gc.get_objects() if isinstance(o, faust.App)])}))
"""


def test_importing_the_processor_app_sets_and_starts_nothing() -> None:
    env = {"PATH": "/usr/bin:/bin", "ARB_BOOTSTRAP": "127.0.0.1:1"}  # a broker nobody listens on: nothing may try it
    proc = subprocess.run([sys.executable, "-c", CHILD], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    at_import, on_access = (json.loads(line) for line in proc.stdout.strip().splitlines()[-2:])
    assert at_import["env_changed"] == [], at_import
    assert at_import["new_threads"] == [], at_import
    assert at_import["fds_after"] == at_import["fds_before"], at_import  # no socket, no event loop (epoll + self-pipe)
    assert at_import["apps"] == 0 and not at_import["app_attribute"], at_import
    assert on_access["apps"] == 1  # `faust -A processors.app worker` still finds its app
