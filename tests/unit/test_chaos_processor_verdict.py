"""bench/chaos_processor.py: a worker sent SIGINT while its interpreter was still starting exits 1 with a
KeyboardInterrupt traceback; the verdict counts that stop as clean, and any other exit 1 as unclean."""

from __future__ import annotations

from pathlib import Path

from bench.chaos_processor import _ends_with_interrupt


def test_a_log_ending_with_a_keyboard_interrupt_is_a_stop_during_start_up(tmp_path: Path) -> None:
    log = tmp_path / "w1.log"
    log.write_bytes(b'{"msg": "x"}\n' * 50 + b'Traceback (most recent call last):\n  File "<frozen site>", line 1\nKeyboardInterrupt\n')
    assert _ends_with_interrupt(log)
    log.write_bytes(b"Traceback (most recent call last):\nKeyboardInterrupt\nRuntimeError: the worker failed\n")
    assert not _ends_with_interrupt(log)
    assert not _ends_with_interrupt(tmp_path / "missing.log")
