"""freeze_startup_objects moves the objects alive at start-up out of the collector's generations."""

from __future__ import annotations

import gc

from core.heap import freeze_startup_objects


def test_startup_objects_are_frozen_and_later_ones_are_not() -> None:
    gc.unfreeze()
    try:
        freeze_startup_objects()
        frozen = gc.get_freeze_count()
        assert frozen > 1000  # at least the interpreter's and pytest's own objects
        later = [[] for _ in range(100)]
        assert gc.get_freeze_count() == frozen  # objects made afterwards are collected as usual
        assert gc.is_tracked(later[0])
    finally:
        gc.unfreeze()
