"""`arb notify`'s own failure mode, under core.errors.ArbError (and a ValueError, as it always was: the receiver
refuses it like undecodable JSON)."""

from __future__ import annotations

from core.errors import ArbError


class BadPayload(ArbError, ValueError):
    """Not an Alertmanager webhook payload (the receiver answers 400)."""
