"""bench/chaos_processor.py: a worker sent SIGINT before its Faust worker started (and installed its signal handlers)
may exit 1 from wherever the KeyboardInterrupt hit; the verdict counts that stop as clean, and an exit 1 after the start
as unclean."""

from __future__ import annotations

from pathlib import Path

from bench.chaos_processor import _worker_started


def test_a_worker_counts_as_started_once_its_faust_worker_logged_its_start(tmp_path: Path) -> None:
    log = tmp_path / "w1.log"
    log.write_bytes(b'Traceback (most recent call last):\n  File "<frozen site>", line 1\nKeyboardInterrupt\n')
    assert not _worker_started(log)
    log.write_bytes(b'{"ts": "...", "logger": "faust.worker", "msg": "[^Worker]: Starting..."}\nRuntimeError: failed\n')
    assert _worker_started(log)
    assert not _worker_started(tmp_path / "missing.log")
