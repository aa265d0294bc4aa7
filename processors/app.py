"""The processor's Faust app: `arb process`, or equally `faust -A processors.app worker`.

Importing this module creates nothing. `arb process` calls `create_app` with its settings; `app`, the attribute
`faust -A processors.app` looks up, is built from the environment the first time it is asked for (PEP 562).
The worker itself is processors/worker.py.
"""

from __future__ import annotations

import faust

from core.config import load
from core.settings import KafkaSettings
from processors.faust_settings import WorkerSettings
from processors.retired_settings import with_retired
from processors.settings import DetectorSettings
from processors.worker import ProcessorWorker


def create_app(kafka: KafkaSettings | None = None, worker: WorkerSettings | None = None,
               detection: DetectorSettings | None = None) -> faust.App:
    """The app of one processor worker; a setting not given is read from the environment."""
    return ProcessorWorker(kafka or with_retired(load(KafkaSettings)), worker or load(WorkerSettings),
                           detection or load(DetectorSettings)).app


_app: faust.App | None = None


def __getattr__(name: str) -> faust.App:
    if name != "app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    global _app
    if _app is None:
        _app = create_app()
    return _app
