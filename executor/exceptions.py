"""The executor's own failure modes, all under core.errors.ArbError. None is `retriable`: what the executor
sends again is decided by executor/answers.py alone, and a transaction is retried inside executor/txn.py."""

from __future__ import annotations

from core.errors import ArbError
from core.supervise import RoleFailed
from venues import errors


class Fenced(ArbError):
    """Another executor owns this partition now (or the transaction failed fatally): stop using it."""


class WorkerFailed(RoleFailed):
    """A partition worker failed; the executor stopped so its group reassigns the partitions."""


class AmbiguousFillCost(errors.Unknown):
    """A Kalshi order's fill cost fits both readings: its fills must say which (KalshiTransport.find asks for them)."""
