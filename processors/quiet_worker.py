"""The Faust worker class used by `arb process` and `faust -A processors.app worker`.

Faust's stock worker shows a terminal spinner that spins on every log record, and to see them it sets
the root logger to DEBUG: every `log.debug` in aiokafka and Faust (one per record sent) then built a
LogRecord that the handler threw away, ~7% of a busy worker's CPU (py-spy, `arb bench process`).
Without the spinner the root logger keeps the configured level.
"""

from __future__ import annotations

import logging

import faust


class QuietWorker(faust.Worker):
    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        self.spinner = None
