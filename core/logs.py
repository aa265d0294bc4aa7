"""Structured logging: one JSON object per line (or a human format), carrying game_id, signal_id and
client_order_id when the call site passes them in `extra`.

Secrets are never logged by design; as a second line of defence every secret the process knows
(core.config.Secret values, keys registered with `register_secret`) is masked in every line. Masking runs
on the message, its arguments, the `extra` values and the exception text *before* JSON encoding (so a
secret with `"`, `\\` or non-ASCII characters is still found), and once more on the encoded line for the
escaped forms. Each secret is masked in every form it could take in a line (`secret_forms`): as it is,
JSON-/repr-escaped, its UTF-8 bytes as hex or base64, and for key material the other encodings of the
same bytes: a hex key with or without `0x` in any letter case, a base64 key's bytes as hex, a PEM key's
body lines, whole body and DER bytes as hex.

A secret shorter than MIN_SECRET_LEN characters cannot be masked wherever it occurs without mangling
ordinary words ("test" everywhere would go), so settings refuse such secrets at load (core.config); one
registered anyway (a short literal in code) is masked only where a log argument or `extra` value is
exactly that secret.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import sys
import threading
import time
from collections.abc import Mapping
from typing import Any

CONTEXT_FIELDS = ("game_id", "signal_id", "client_order_id", "venue", "market", "topic", "partition", "offset")
MIN_SECRET_LEN = 8
MASK = "***"

_HEX = re.compile(r"(?:0x)?([0-9a-fA-F]+)")
_B64 = re.compile(r"[A-Za-z0-9+/_-]+={0,2}")


class _Masks:
    """The registered forms, longest first (a longer form containing a shorter one is masked whole)."""

    def __init__(self, exact: frozenset[str] = frozenset(), folded: frozenset[str] = frozenset(), short: frozenset[str] = frozenset()) -> None:
        self.exact, self.folded, self.short = exact, folded, short
        self.order = sorted([(f, False) for f in exact] + [(f, True) for f in folded], key=lambda p: -len(p[0]))
        self.patterns = {f: re.compile(re.escape(f), re.IGNORECASE) for f in folded}


_masks = _Masks()
_lock = threading.Lock()


def _b64_forms(data: bytes) -> set[str]:
    std = base64.b64encode(data).decode()
    url = base64.urlsafe_b64encode(data).decode()
    return {std, url, std.rstrip("="), url.rstrip("=")}


def _text_forms(part: str) -> set[str]:
    """`part` as it is and as the escapes a log line may put it through (JSON, repr, JSON inside JSON)."""
    ascii_json = json.dumps(part)[1:-1]
    return {part, ascii_json, json.dumps(part, ensure_ascii=False)[1:-1], repr(part)[1:-1], json.dumps(ascii_json)[1:-1],
            part.encode("unicode_escape").decode("ascii")}


def _decoded_b64(text: str) -> bytes | None:
    if not _B64.fullmatch(text) or len(text) < MIN_SECRET_LEN:
        return None
    padded = text + "=" * (-len(text) % 4)
    try:
        return base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        return None


def secret_forms(value: str | bytes) -> tuple[set[str], set[str]]:
    """(forms to match exactly, forms to match in any letter case) under which `value` could appear in a
    log line. Pure: the unit tests and the secrets integration test reason about it directly."""
    exact: set[str] = set()
    folded: set[str] = set()  # hex: the same bytes in any case
    if isinstance(value, bytes):
        raw = value
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError:
            text = ""
    else:
        text, raw = value, value.encode("utf-8")
    text = text.strip()

    def key_bytes(data: bytes) -> None:
        if len(data) >= MIN_SECRET_LEN // 2:
            folded.add(data.hex())
            exact.update(_b64_forms(data))
            exact.add(repr(data)[2:-1])

    key_bytes(raw.strip() if text else raw)
    if text:
        if "-----BEGIN" in text:  # PEM: each body line, the body, the DER bytes
            body = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("-----") and ":" not in ln]
            parts = [text, "".join(body), *body]
            der = _decoded_b64("".join(body))
            if der is not None:
                key_bytes(der)
        else:
            parts = [text, *(ln.strip() for ln in text.splitlines())]
            m = _HEX.fullmatch(text)
            if m and len(m[1]) % 2 == 0 and len(m[1]) >= 2 * MIN_SECRET_LEN:  # a hex key: with or without 0x, any case
                folded.add(m[1])
                key_bytes(bytes.fromhex(m[1]))
            else:
                decoded = _decoded_b64(text)
                if decoded is not None and len(decoded) >= MIN_SECRET_LEN:  # a base64 key (e.g. the Polymarket L2 secret)
                    key_bytes(decoded)
        for part in parts:
            if len(part) >= MIN_SECRET_LEN:
                exact.update(f for f in _text_forms(part) if len(f) >= MIN_SECRET_LEN)
    exact -= folded
    return {f for f in exact if len(f) >= MIN_SECRET_LEN}, {f for f in folded if len(f) >= MIN_SECRET_LEN}


def register_secret(value: str | bytes) -> None:
    """Mask this value, in every form of `secret_forms`, in every log line from now on."""
    global _masks
    exact, folded = secret_forms(value)
    text = value.decode("utf-8", errors="ignore") if isinstance(value, bytes) else value
    short = {text.strip()} if 0 < len(text.strip()) < MIN_SECRET_LEN else set()
    if not (exact or folded or short):
        return
    with _lock:
        m = _masks
        _masks = _Masks(m.exact | exact, m.folded | folded, m.short | short)


def redact(text: str) -> str:
    m = _masks
    if not m.order:
        return text
    lowered = ""
    for form, fold in m.order:
        if fold:
            lowered = lowered or text.lower()
            if form in lowered:
                text = m.patterns[form].sub(MASK, text)
                lowered = ""
        elif form in text:
            text = text.replace(form, MASK)
            lowered = ""
    return text


def _mask_value(value: Any) -> Any:
    """A log argument or `extra` value with every secret masked (JSON-native scalars stay as they are)."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, Mapping):
        return {k: _mask_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_mask_value(v) for v in value]
    text = value.decode("utf-8", errors="replace") if isinstance(value, (bytes, bytearray)) else str(value)
    return MASK if text.strip() in _masks.short else redact(text)


def _message(record: logging.LogRecord) -> str:
    """record.getMessage() with secrets masked in the arguments before they are formatted in."""
    msg = str(record.msg)
    args = record.args
    if args:
        if isinstance(args, Mapping):
            masked: Any = {k: _arg(v) for k, v in args.items()}
        else:
            masked = tuple(_arg(a) for a in args)
        try:
            msg = msg % masked
        except (TypeError, ValueError):  # e.g. %d given a masked str: format the original, mask the result
            msg = record.getMessage()
    return redact(msg)


def _arg(value: Any) -> Any:
    if isinstance(value, (str, bytes, bytearray)):
        return _mask_value(value)
    return value


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": _message(record),
        }
        for key in CONTEXT_FIELDS:
            value = record.__dict__.get(key)
            if value is not None:
                out[key] = _mask_value(value)
        extra = record.__dict__.get("data")
        if isinstance(extra, dict):
            out.update(_mask_value(extra))
        if record.exc_info:
            out["exc"] = redact(self.formatException(record.exc_info))
        if record.stack_info:
            out["stack"] = redact(self.formatStack(record.stack_info))
        # the escaped forms (a secret inside a logged JSON payload, \uXXXX from ensure_ascii)
        return redact(json.dumps(out, default=str, separators=(",", ":")))


class HumanFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        masked = logging.makeLogRecord(record.__dict__)  # the caller's record stays as it was (other handlers)
        masked.msg, masked.args = _message(record), None
        if record.exc_info:
            masked.exc_text = redact(self.formatException(record.exc_info))
        if record.stack_info:
            masked.stack_info = redact(record.stack_info)
        ctx = " ".join(f"{k}={_mask_value(record.__dict__[k])}" for k in CONTEXT_FIELDS if record.__dict__.get(k) is not None)
        return redact(super().format(masked) + (f" [{ctx}]" if ctx else ""))


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
