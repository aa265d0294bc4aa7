"""core.logs.setup_logging: one handler, secrets masked, httpx's per-request lines only at DEBUG.

Issue 27 "Secrets": masking ran on the JSON-encoded line, so a secret with `"`, `\\` or non-ASCII
characters (escaped there) went through; a secret under 8 characters was never masked; the Polymarket
key was masked only as registered (with `0x`, in its case), not as the hex, base64 or case variants code
may print; `arb process` never set up the project's logging at all."""

from __future__ import annotations

import argparse
import base64
import io
import json
import logging
import secrets
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from core import logs
from core.logs import MASK, HumanFormatter, JsonFormatter, register_secret, setup_logging


@pytest.fixture(autouse=True)
def _fresh_masks() -> Iterator[None]:
    """Each test registers its own secrets; the process-wide ones come back afterwards."""
    saved = logs._masks
    logs._masks = logs._Masks()
    yield
    logs._masks = saved


def _logger(fmt: logging.Formatter) -> tuple[logging.Logger, io.StringIO]:
    buf = io.StringIO()
    handler = logging.StreamHandler(buf)
    handler.setFormatter(fmt)
    lg = logging.getLogger(f"test_logs.{secrets.token_hex(4)}")
    lg.handlers[:] = [handler]
    lg.propagate = False
    lg.setLevel(logging.DEBUG)
    return lg, buf


def _decoded(buf: io.StringIO) -> str:
    """The raw JSON lines and every string value in them decoded (what a log reader sees)."""

    def strings(node: Any) -> list[str]:
        if isinstance(node, dict):
            return [s for v in node.values() for s in strings(v)]
        return [node] if isinstance(node, str) else []

    lines = buf.getvalue().splitlines()
    return "\n".join(lines + [s for ln in lines for s in strings(json.loads(ln))])


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


@pytest.mark.parametrize("secret", ['pa"ss-word-quoted', "back\\slash\\secret", "pässwörd-ünïcode", "crlf\r\nsecret-x", "tab\tsecret-yz"])
def test_secrets_with_characters_json_escapes_are_masked(secret: str) -> None:
    register_secret(secret)
    lg, buf = _logger(JsonFormatter())
    lg.warning("login with %s failed", secret, extra={"data": {"payload": {"password": secret}, "raw": json.dumps({"p": secret})}})
    lg.info("repr %r", secret)
    try:
        raise RuntimeError(f"server said {secret!r} is wrong")
    except RuntimeError:
        lg.exception("request failed")
    out = _decoded(buf)
    escaped = {secret, json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1], repr(secret)[1:-1],
               json.dumps(json.dumps(secret)[1:-1])[1:-1]}
    assert not [f for f in escaped if f in out], out
    assert out.count(MASK) >= 5


def test_a_short_secret_is_masked_where_it_is_a_whole_argument_only() -> None:
    register_secret("pw1")
    lg, buf = _logger(JsonFormatter())
    lg.info("password %s", "pw1", extra={"data": {"password": "pw1"}, "venue": "pw1"})
    lg.info("the pw1 in a word stays")  # masking "pw1" everywhere would mangle ordinary text
    first, second = (json.loads(ln) for ln in buf.getvalue().splitlines())
    assert first["msg"] == "password ***" and first["password"] == MASK and first["venue"] == MASK
    assert second["msg"] == "the pw1 in a word stays"


def test_a_hex_key_is_masked_with_or_without_0x_in_any_case_and_as_its_bytes() -> None:
    key = secrets.token_bytes(32)
    register_secret("0x" + key.hex().upper())
    lg, buf = _logger(JsonFormatter())
    variants = [key.hex(), key.hex().upper(), "0x" + key.hex(), "0X" + key.hex().upper(), key.hex()[:10] + key.hex()[10:].upper(),
                base64.b64encode(key).decode(), base64.urlsafe_b64encode(key).decode().rstrip("="), repr(key)]
    for v in variants:
        lg.info("key %s", v)
        lg.info("embedded:%s:end", v)
    out = buf.getvalue().lower()
    assert key.hex() not in out and base64.b64encode(key).decode().lower() not in out
    for v in variants:
        assert v.lower() not in out, v


def test_a_base64_secret_is_masked_as_its_bytes_in_hex_and_the_other_alphabet() -> None:
    raw = bytes(range(200, 232))  # has +/ in standard base64, -_ in urlsafe
    register_secret(base64.urlsafe_b64encode(raw).decode())
    lg, buf = _logger(JsonFormatter())
    for v in (base64.b64encode(raw).decode(), raw.hex(), raw.hex().upper(), base64.urlsafe_b64encode(raw).decode().rstrip("=")):
        lg.info("secret %s", v)
    out = buf.getvalue()
    assert raw.hex() not in out.lower() and base64.b64encode(raw).decode() not in out and out.count(MASK) == 4


def test_a_pem_key_is_masked_line_by_line_whole_and_as_der() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    register_secret(pem)
    lg, buf = _logger(JsonFormatter())
    lg.info("pem %s", pem.decode())
    lg.info("pem bytes %r", pem)
    lg.info("der %s", der.hex())
    lg.info("der %s", base64.b64encode(der).decode())
    out = _decoded(buf)
    body = [ln for ln in pem.decode().splitlines() if not ln.startswith("-----")]
    assert not [ln for ln in body if len(ln) >= 8 and ln in out]
    assert der.hex() not in out.lower() and base64.b64encode(der).decode() not in out


def test_context_fields_and_the_human_format_are_masked_too() -> None:
    secret = "zz-human-secret-é\"q"
    register_secret(secret)
    lg, buf = _logger(HumanFormatter())
    lg.info("a %s b", secret, extra={"client_order_id": secret})
    try:
        raise ValueError(secret)
    except ValueError:
        lg.exception("c")
    assert secret not in buf.getvalue() and buf.getvalue().count(MASK) == 3


def test_the_record_other_handlers_see_is_left_as_it_was() -> None:
    """Masking builds the line; the LogRecord itself stays raw, so a test that captures records (the secrets
    integration test) sees what code tried to log, not what masking made of it."""
    register_secret("raw-record-secret")
    lg, _ = _logger(JsonFormatter())
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    lg.addHandler(Keep())
    lg.info("x %s", "raw-record-secret")
    assert seen[0].getMessage() == "x raw-record-secret"


def test_arb_process_sets_up_the_projects_logging(monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> None:
    """`arb process` used to leave logging to Faust/mode (colour lines on stdout, nothing masked) although
    it holds the SASL password. Faust's worker replaces the root handlers when it starts: ours must win."""
    import core.heap
    import processors.quiet_worker as qw
    from cli.commands import process

    password = "sasl-" + secrets.token_hex(8)
    register_secret(password)

    def execute(self: Any) -> None:
        self._setup_logging()  # what mode's Worker does first when it starts
        logging.getLogger("processors.app").warning("connecting with %s", password)
        logging.getLogger("aiokafka").warning("auth %s failed", password)

    monkeypatch.setattr(qw.QuietWorker, "execute_from_commandline", execute)
    monkeypatch.setattr(core.heap, "freeze_startup_objects", lambda: None)
    monkeypatch.setattr(process, "require_broker", lambda kafka: None)  # no broker here: only the logging is under test
    monkeypatch.setattr(process, "require_topics", lambda *a, **k: None)
    monkeypatch.setenv("ARB_LOG_FORMAT", "json")
    root = logging.getLogger()
    saved = root.handlers[:], root.level, sys.stdout, sys.stderr
    try:
        process.run(argparse.Namespace(bootstrap=None, prefix=None, loglevel=None))
        root.handlers[0].flush()
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        sys.stdout, sys.stderr = saved[2], saved[3]  # mode redirects both into the log
        for name in ("httpx", "httpcore"):
            logging.getLogger(name).setLevel(logging.NOTSET)
    out, err = capfd.readouterr()
    assert password not in out + err
    lines = [json.loads(ln) for ln in err.splitlines() if ln.startswith("{")]
    assert {"connecting with ***", "auth *** failed"} <= {ln["msg"] for ln in lines}
