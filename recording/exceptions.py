"""The recording's own failure mode, under core.errors.ArbError (and a ValueError, as it always was)."""

from __future__ import annotations

from core.errors import ArbError


class RecordingError(ArbError, ValueError):
    """A recording file is missing or not one of ours."""
