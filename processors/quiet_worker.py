"""The Faust worker class and monitor sensor used by `arb process` and `faust -A processors.app worker`.

Faust's stock worker shows a terminal spinner that spins on every log record, and to see them it sets
the root logger to DEBUG: every `log.debug` in aiokafka and Faust (one per record sent) then built a
LogRecord that the handler threw away, ~7% of a busy worker's CPU (py-spy, `arb bench process`).
Without the spinner the root logger keeps the configured level.
"""

from __future__ import annotations

import logging
from time import monotonic
from typing import Any

import faust
from faust.sensors.monitor import Monitor
from faust.types import TP, EventT, Message, StreamT

from processors.faust_meta import ServiceMeta


class QuietWorker(faust.Worker, metaclass=ServiceMeta):
    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        self.spinner = None


class LeanMonitor(Monitor, metaclass=ServiceMeta):
    """Faust's Monitor sensor without its per-event bookkeeping (counters, timestamps and dicts on every
    message in, event in/out and message out: ~4% of a busy worker). Faust's web server is off and the
    worker's metrics are our own (core.metrics). Kept: the time each partition's stream last took an event,
    which Faust's stall check reads (without it, every partition was reported as "Stream has not started
    processing" at ERROR once `stream_processing_timeout` had passed). Other hooks are left as they are."""

    def on_message_in(self, tp: TP, offset: int, message: Message) -> None:
        pass

    def on_stream_event_in(self, tp: TP, offset: int, stream: StreamT, event: EventT) -> dict[Any, Any] | None:
        self.stream_inbound_time[tp] = monotonic()
        return None

    def on_stream_event_out(self, tp: TP, offset: int, stream: StreamT, event: EventT, state: dict[Any, Any] | None = None) -> None:
        pass

    def on_message_out(self, tp: TP, offset: int, message: Message) -> None:
        pass
