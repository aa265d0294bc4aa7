"""The base of the project's own exceptions, and the one failure every command reports the same way."""

from __future__ import annotations


class ArbError(Exception):
    """Base of every exception this project raises for its own failure modes. `retriable`: the same operation may
    succeed if tried again unchanged (as aiokafka's errors say it); callers that retry check it, never the type."""

    retriable: bool = False


class CommandError(ArbError):
    """A failure to report as one line on stderr with exit code `code` (no traceback): raised by the commands and by
    the tools they run (benchmarks, the demo); cli/main.py prints it."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code
