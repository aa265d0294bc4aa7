"""Structured logging: one JSON object per line (or a human format), carrying game_id, signal_id and
client_order_id when the call site passes them in `extra`.

Secrets are never logged by design; as a second line of defence every secret value the process knows
(core.config.Secret values and keys registered with `register_secret`) is masked in every line.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time

CONTEXT_FIELDS = ("game_id", "signal_id", "client_order_id", "venue", "market", "topic", "partition", "offset")

_secrets: set[str] = set()
_lock = threading.Lock()


def register_secret(value: str | bytes) -> None:
    """Mask this value (and each of its lines, for PEM keys) in every log line from now on."""
    text = value.decode(errors="ignore") if isinstance(value, bytes) else value
    with _lock:
        for part in [text, *text.splitlines()]:
            part = part.strip()
            if len(part) >= 8 and not part.startswith("-----"):
                _secrets.add(part)


def redact(text: str) -> str:
    if not _secrets:
        return text
    for s in tuple(_secrets):
        if s in text:
            text = text.replace(s, "***")
    return text


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key in CONTEXT_FIELDS:
            value = record.__dict__.get(key)
            if value is not None:
                out[key] = value
        extra = record.__dict__.get("data")
        if isinstance(extra, dict):
            out.update(extra)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return redact(json.dumps(out, default=str, separators=(",", ":")))


class HumanFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        ctx = " ".join(f"{k}={record.__dict__[k]}" for k in CONTEXT_FIELDS if record.__dict__.get(k) is not None)
        return redact(super().format(record) + (f" [{ctx}]" if ctx else ""))


def setup_logging(fmt: str = "json", level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else HumanFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request at INFO: a line per order and per venue lookup, written on the executor's
    # hot path. What was sent is in `orders`; at DEBUG the lines come back.
    quiet = logging.WARNING if root.getEffectiveLevel() > logging.DEBUG else logging.NOTSET
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(quiet)
