"""Retired ARB_FAUST_* names, each a duplicate of a setting every Kafka client reads (core/settings.py).

One setting per thing: the worker now takes ARB_FETCH_WAIT_MS, ARB_LINGER_MS and ARB_SESSION_TIMEOUT_MS like every
other client. A deployment that still sets an old name keeps its value for the processor (as before: the old name
applied to the processor only), with one warning per name and process. Not in cli/settings_index.py: `arb config`
shows only the current names.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Optional

from core.config import load, setting, settings_docs
from core.settings import KafkaSettings

log = logging.getLogger(__name__)


# Optional[...], not `X | None`: core/config.py converts only typing.Union.
@dataclass(frozen=True)
class RetiredWorkerSettings:
    fetch_wait_ms: Optional[int] = setting("ARB_FAUST_FETCH_WAIT_MS", None, "Retired: ARB_FETCH_WAIT_MS.")  # noqa: UP045
    linger_ms: Optional[int] = setting("ARB_FAUST_LINGER_MS", None, "Retired: ARB_LINGER_MS.")  # noqa: UP045
    session_timeout_s: Optional[float] = setting("ARB_FAUST_SESSION_TIMEOUT_S", None, "Retired: ARB_SESSION_TIMEOUT_MS (in milliseconds).")  # noqa: UP045


# retired field -> (the KafkaSettings field it sets, the new variable, its value from the old one's)
REPLACEMENTS: dict[str, tuple[str, str, Callable[[float], int]]] = {
    "fetch_wait_ms": ("fetch_wait_ms", "ARB_FETCH_WAIT_MS", int),
    "linger_ms": ("linger_ms", "ARB_LINGER_MS", int),
    "session_timeout_s": ("session_timeout_ms", "ARB_SESSION_TIMEOUT_MS", lambda v: round(v * 1000)),
}
_warned: set[str] = set()


def with_retired(kafka: KafkaSettings, env: Mapping[str, str] | None = None) -> KafkaSettings:
    """`kafka` for the processor worker: with the value of each retired name still set in `env` (default: the
    environment), and a warning the first time each is seen."""
    retired = load(RetiredWorkerSettings, env)
    changes: dict[str, int] = {}
    for doc in settings_docs([__name__]):  # RetiredWorkerSettings's fields, in declaration order
        value: object = getattr(retired, doc.field)
        if not isinstance(value, (int, float)):  # None: not set
            continue
        field, new_env, convert = REPLACEMENTS[doc.field]
        changes[field] = convert(value)
        old_env = doc.env
        if old_env not in _warned:
            _warned.add(old_env)
            log.warning("%s is retired: set %s=%s instead (the same for every Kafka client); used for the processor this time",
                        old_env, new_env, changes[field])
    if not changes:
        return kafka
    return dataclasses.replace(kafka, fetch_wait_ms=changes.get("fetch_wait_ms", kafka.fetch_wait_ms),
                               linger_ms=changes.get("linger_ms", kafka.linger_ms),
                               session_timeout_ms=changes.get("session_timeout_ms", kafka.session_timeout_ms))
