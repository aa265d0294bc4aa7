"""Discovery's own failure modes, all under core.errors.ArbError. Each stays a ValueError too (a bad input), so
every `except ValueError` that caught it before still does."""

from __future__ import annotations

from core.errors import ArbError


class AliasError(ArbError, ValueError):
    """The alias file is malformed or ambiguous."""


class OverrideError(ArbError, ValueError):
    """The override file is malformed."""


class UnknownFee(ArbError, ValueError):
    """The market's fee parameters cannot be established: the market must not be traded."""
