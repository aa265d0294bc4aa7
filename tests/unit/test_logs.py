"""core.logs.setup_logging: one handler, secrets masked, httpx's per-request lines only at DEBUG."""

from __future__ import annotations

import logging

from core.logs import setup_logging


def test_httpx_request_lines_are_quiet_unless_debug() -> None:
    try:
        setup_logging("json", "INFO")
        assert not logging.getLogger("httpx").isEnabledFor(logging.INFO)
        assert logging.getLogger("httpx").isEnabledFor(logging.WARNING)
        assert logging.getLogger("executor.service").isEnabledFor(logging.INFO)
        setup_logging("json", "DEBUG")
        assert logging.getLogger("httpx").isEnabledFor(logging.INFO)
    finally:
        for name in ("httpx", "httpcore"):
            logging.getLogger(name).setLevel(logging.NOTSET)
        logging.getLogger().setLevel(logging.WARNING)
