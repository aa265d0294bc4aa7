"""Issue 27 "Secrets": no secret leaves a run, in any form.

`arb execute` (against the simulators, one signal filled on both venues) and `arb process` (ticks ->
signals) run as subprocesses with throwaway secrets read from `*_FILE`s the way a deployment reads them:
the Kalshi PEM, the Polymarket wallet key (hex, no `0x`), L2 secret and passphrase (with `"` and `\\`), the
Kafka SASL password (with non-ASCII), a librdkafka `ssl.key.password` in ARB_KAFKA_EXTRA_FILE and a Schema
Registry password. Each process's log records are captured as the code builds them (Logger.makeRecord:
message, arguments, extras, exception), at DEBUG, *before* any formatter: masking is the second line of
defence and must not hide code that tries to log a secret. Searched, for each secret as it is, JSON/repr
escaped, as hex (any case, with or without 0x), base64, and for keys their bytes and the PEM's lines, body
and DER: those records, the roles' stderr (the masked lines), every record (key, value, headers) of every
topic of the run, and every file the run wrote (the Faust data directory included)."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import re
import secrets
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import OFFSET_BEGINNING, KafkaError, TopicPartition
from cryptography.hazmat.primitives import serialization

from core import codec
from core.config import Secret
from core.kafka import make_admin, make_consumer, make_producer
from core.settings import KafkaSettings
from core.topic_admin import ensure_topics
from core.topics import topic_name
from core.units import now_us
from simulators.runner import Simulator
from simulators.settings import SimSettings
from tests.conftest import REPO
from tests.factories import NO_FEE, kalshi_book, pairing, tick
from tests.kafka_helpers import read_records
from venues.polymarket.eip712 import address_of

pytestmark = pytest.mark.integration
KALSHI_FEE = {"model": "KALSHI_QUADRATIC", "rate_ppm": 70_000, "multiplier_ppm": 1_000_000, "exponent": 1}
POLY_FEE = {"model": "POLYMARKET_POWER", "rate_ppm": 30_000, "multiplier_ppm": 1_000_000, "exponent": 1}
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


# --- capturing log records as built ----------------------------------------------------------------------------------
def _record_text(record: logging.LogRecord) -> str:
    parts = [record.name, str(record.msg), repr(record.args)]
    try:
        parts.append(record.getMessage())
    except Exception as exc:  # a bad format string: the parts above still hold what was passed
        parts.append(f"<unformattable: {exc}>")
    if record.exc_info and record.exc_info[1] is not None:
        parts.append("".join(traceback.format_exception(*record.exc_info)))
    if record.stack_info:
        parts.append(record.stack_info)
    parts += [f"{k}={v!r} {v}" for k, v in record.__dict__.items() if k not in _STANDARD]  # `extra`
    return "\n".join(parts)


def tap(path: str) -> None:
    """From now on write every log record this process builds to `path` (one JSON string a line), before
    handlers and formatters see it. Used in the role subprocesses (see _role)."""
    out = open(path, "a", encoding="utf-8", buffering=1)  # open for the life of the process
    lock = threading.Lock()
    make = logging.Logger.makeRecord

    def make_record(self: logging.Logger, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make(self, *args, **kwargs)
        line = json.dumps(_record_text(record))
        with lock:
            out.write(line + "\n")
        return record

    logging.Logger.makeRecord = make_record  # type: ignore[method-assign]


def _role(argv: list[str], env: dict[str, str], workdir: Path, name: str) -> subprocess.Popen[bytes]:
    boot = (f"import sys; from tests.integration.test_secrets import tap; tap({str(workdir / (name + '.records'))!r}); "
            f"from cli.main import main; sys.exit(main({argv!r}))")
    return subprocess.Popen([sys.executable, "-c", boot], cwd=REPO, env=env, stdout=(workdir / f"{name}.out").open("ab"),
                            stderr=(workdir / f"{name}.err").open("ab"))


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


# --- the forms a secret can take ---------------------------------------------------------------------------------------
def _encodings(data: bytes) -> set[bytes]:
    std, url = base64.b64encode(data), base64.urlsafe_b64encode(data)
    return {data.hex().encode(), std, url, std.rstrip(b"="), url.rstrip(b"="), repr(data)[2:-1].encode()}


def leak_forms(secret: str) -> set[bytes]:
    """Every form of `secret` a leak could take (written here independently of core.logs.secret_forms). Hex
    forms are matched in any letter case by `_found`."""
    text = secret.strip()
    forms = {text.encode(), json.dumps(text)[1:-1].encode(), json.dumps(text, ensure_ascii=False)[1:-1].encode(),
             repr(text)[1:-1].encode(), text.encode("unicode_escape")} | _encodings(text.encode())
    hex_key = re.fullmatch(r"(?:0[xX])?([0-9a-fA-F]+)", text)
    if "-----BEGIN" in text:
        body = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("-----")]
        der = base64.b64decode("".join(body))
        forms |= {ln.encode() for ln in body if len(ln) >= 16} | {"".join(body).encode(), der} | _encodings(der)
    elif hex_key and len(hex_key[1]) % 2 == 0:
        key = bytes.fromhex(hex_key[1])
        forms |= {key, b"0x" + key.hex().encode()} | _encodings(key)
    elif re.fullmatch(r"[A-Za-z0-9_-]{16,}={0,2}", text) and len(text.rstrip("=")) % 4 != 1:  # base64 (the L2 secret)
        key = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        forms |= {key} | _encodings(key)
    return {f for f in forms if len(f) >= 8}


def _found(haystack: bytes, needles: dict[str, set[bytes]]) -> list[str]:
    lower = haystack.lower()
    hits = []
    for name, forms in needles.items():
        for f in forms:
            if f in haystack or (re.fullmatch(rb"(0x)?[0-9a-fA-F]+", f) and f.lower() in lower):
                hits.append(f"{name} as {f[:24]!r}...")
    return hits


# --- the run -----------------------------------------------------------------------------------------------------------
@pytest.fixture
async def sim_and_secrets(tmp_path: Path) -> AsyncIterator[tuple[Simulator, dict[str, str], Path]]:
    wallet = secrets.token_bytes(32)
    l2 = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    passphrase = f'pp"\\{secrets.token_hex(12)}'  # quote and backslash: escaped in a JSON line
    settings = SimSettings(games=2, updates_per_s=0, arb_rate_per_min=0, autostart=False, kalshi_tier="unlimited",
                           poly_address=address_of(wallet), poly_api_key="secrets-test-key", poly_secret=Secret(l2),
                           poly_passphrase=Secret(passphrase))
    async with Simulator(settings) as sim:
        assert sim.kalshi_private_key is not None
        pem = sim.kalshi_private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                   serialization.NoEncryption()).decode()
        values = {"kalshi.pem": pem, "poly-private-key": wallet.hex(), "poly-l2-secret": l2, "poly-passphrase": passphrase,
                  "kafka-sasl-password": f"sasl-pä\"ss\\wörd-{secrets.token_hex(8)}", "ssl-key-password": f"sslkey-{secrets.token_hex(10)}",
                  "registry-password": f"registry-{secrets.token_hex(10)}"}
        secret_dir = tmp_path / "secrets"  # outside the run's directory: only the run's own files are searched
        secret_dir.mkdir(mode=0o700)
        for name, value in values.items():
            f = secret_dir / name
            f.write_text(value)
            f.chmod(0o400)
        (secret_dir / "kafka-extra").write_text(f"ssl.key.password={values['ssl-key-password']};message.timeout.ms=30000")
        (secret_dir / "kafka-extra").chmod(0o400)
        yield sim, values, secret_dir


def _env(kafka: KafkaSettings, secret_dir: Path, **more: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARB_")}
    return env | {"ARB_BOOTSTRAP": kafka.bootstrap, "ARB_TOPIC_PREFIX": kafka.topic_prefix, "ARB_LOG_LEVEL": "DEBUG", "ARB_LOG_FORMAT": "json",
                  "ARB_KAFKA_SASL_PASSWORD_FILE": str(secret_dir / "kafka-sasl-password"),
                  "ARB_KAFKA_EXTRA_FILE": str(secret_dir / "kafka-extra"),
                  "ARB_SCHEMA_REGISTRY_USER": "arb", "ARB_SCHEMA_REGISTRY_PASSWORD_FILE": str(secret_dir / "registry-password")} | more


def _sim_signal(sim: Simulator, kafka: KafkaSettings) -> dict[str, Any]:
    """Publish the pairing of one simulator game with crossed books on both venues; the signal that fills them."""
    game = next(g for g in sim.world.games.values() if not g.draw_possible)
    pm = game.poly_markets[0]
    away_tok, home_tok = pm.token_ids
    kalshi = game.kalshi_markets[game.away]
    # Without fees, so that the signal below (expected fees 0) passes the executor's own check of its legs (executor/limits.py).
    pairing_rec = {"game_id": game.game_id, "league": game.league, "game_date": game.date, "start_ts": None, "away": game.away, "home": game.home,
                   "outcomes": [game.away, game.home], "updated_ts": 0, "books": [
                       kalshi_book(kalshi, game.away, [game.away, game.home], NO_FEE),
                       {"venue": "POLYMARKET", "market": pm.condition_id, "event": pm.slug, "tick_size": pm.tick, "min_size": 500, "fee": NO_FEE,
                        "seconds_delay": 0, "neg_risk": False, "exchange_version": 2, "exchange_index": 0,
                        "instruments": [{"market": away_tok, "side": "YES", "label": game.away, "pays_on": [game.away]},
                                        {"market": home_tok, "side": "YES", "label": game.home, "pays_on": [game.home]}]}]}
    p = make_producer(kafka)
    p.produce(topic_name("markets", kafka), key=game.game_id, value=codec.encode("MarketPairing", pairing_rec))
    assert p.flush(10) == 0
    sim.world.set_book("KALSHI", kalshi, bids=[(4300, 5000)], asks=[(4500, 5000)])
    sim.world.set_book("POLYMARKET", pm.condition_id, bids=[(5000, 5000)], asks=[(5600, 5000)])
    t = now_us()
    legs = [{"venue": "KALSHI", "market": kalshi, "book": kalshi, "side": "YES", "limit_price": 4500, "size": 1000, "expected_fee": 0,
             "pays_on": [game.away]},
            {"venue": "POLYMARKET", "market": home_tok, "book": pm.condition_id, "side": "YES", "limit_price": 5000, "size": 1000,
             "expected_fee": 0, "pays_on": [game.home]}]
    return {"signal_id": "secrets-1", "game_id": game.game_id, "legs": legs, "size": 1000, "cost": 9500 * 1000, "edge": 500 * 1000, "event_ts": t,
            "deadline_ts": t + 20_000_000, "input_tick_ids": ["a", "b"], "input_received_ts": [t, t], "detected_ts": t}


def _every_record(kafka: KafkaSettings, prefixes: tuple[str, ...]) -> Iterator[bytes]:
    """Key, value and headers of every record of every topic whose name holds one of `prefixes`, aborted
    transactions included, to the end of each partition."""
    md = make_admin(kafka).list_topics(timeout=10)
    tps = [TopicPartition(t, p, OFFSET_BEGINNING) for t, tm in md.topics.items() if any(x in t for x in prefixes) for p in tm.partitions]
    assert tps
    c = make_consumer(kafka, None, **{"isolation.level": "read_uncommitted", "enable.partition.eof": True})
    try:
        c.assign(tps)
        left = {(tp.topic, tp.partition) for tp in tps}
        deadline = time.monotonic() + 60
        while left:
            assert time.monotonic() < deadline, f"partitions not read to the end: {sorted(left)[:5]}"
            m = c.poll(0.2)
            if m is None:
                continue
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    left.discard((m.topic(), m.partition()))
                continue
            yield (m.key() or b"") + b"\0" + (m.value() or b"") + b"\0" + b"".join(k.encode() + b"=" + (v or b"") for k, v in m.headers() or [])
    finally:
        c.close()


@pytest.mark.timeout(300)
async def test_no_secret_leaves_a_run_in_any_form(topics: KafkaSettings, sim_and_secrets: tuple[Simulator, dict[str, str], Path],
                                                 tmp_path: Path) -> None:
    sim, values, secret_dir = sim_and_secrets
    run = tmp_path / "run"
    run.mkdir()
    proc_kafka = replace(topics, topic_prefix="p" + topics.topic_prefix)  # the processor on its own topics: its signals are not executed
    assert all(r.ok for r in ensure_topics(make_admin(proc_kafka), proc_kafka))

    signal = _sim_signal(sim, topics)
    executor = _role(["execute"], _env(topics, secret_dir, **{
        "ARB_KALSHI_REST_URL": sim.kalshi_url, "ARB_KALSHI_WS_URL": sim.kalshi_ws_url, "ARB_KALSHI_KEY_ID": sim.settings.kalshi_key_id,
        "ARB_KALSHI_PRIVATE_KEY_FILE": str(secret_dir / "kalshi.pem"), "ARB_KALSHI_TIER": "unlimited",
        "ARB_POLY_CLOB_URL": sim.poly_clob_url, "ARB_POLY_API_KEY": "secrets-test-key",
        "ARB_POLY_PRIVATE_KEY_FILE": str(secret_dir / "poly-private-key"), "ARB_POLY_API_SECRET_FILE": str(secret_dir / "poly-l2-secret"),
        "ARB_POLY_PASSPHRASE_FILE": str(secret_dir / "poly-passphrase"), "ARB_EXEC_RECOVERY_WINDOW_MS": "500", "ARB_EXEC_LOOKUP_GRACE_MS": "500"}),
        run, "execute")
    processor = _role(["process"], _env(proc_kafka, secret_dir, **{
        "ARB_PROCESSOR_ID": "secrets", "ARB_FAUST_DATADIR": str(run / "faust"), "ARB_SESSION_TIMEOUT_MS": "6000",
        "ARB_FAUST_REQUEST_TIMEOUT_S": "20"}), run, "process")
    try:
        p = make_producer(proc_kafka)
        game = "nfl-20261129-buf-kc"
        p.produce(topic_name("markets", proc_kafka), key=game, value=codec.encode("MarketPairing", pairing(game)))
        assert p.flush(10) == 0
        for t in (tick("K-BUF", asks=[(4500, 1000)], game_id=game, ts=1_795_000_000_000_000),
                  tick("K-KC", asks=[(5000, 1000)], game_id=game, ts=1_795_000_000_001_000, seq=2)):
            p.produce(topic_name("ticks", proc_kafka), key=game, value=codec.encode("Tick", t))
        p.produce(topic_name("signals", topics), key=signal["game_id"], value=codec.encode("Signal", signal))
        assert p.flush(10) == 0
        outcomes = await asyncio.to_thread(read_records, topics, topic_name("outcomes", topics), 1, 90)
        assert codec.decode(outcomes[0].value(), "Outcome")["state"] == "FILLED", (run / "execute.err").read_text()[-3000:]
        await asyncio.to_thread(read_records, proc_kafka, topic_name("signals", proc_kafka), 1, 120)  # the processor worked
    finally:
        _stop(executor)
        _stop(processor)

    needles = {name: leak_forms(v) for name, v in values.items()}
    records = [json.loads(ln) for name in ("execute", "process") for ln in (run / f"{name}.records").read_text().splitlines()]
    assert len(records) > 100 and any("rdkafka" in r or "aiokafka" in r for r in records)  # DEBUG lines of both roles were seen
    leaks = [f"log record: {hit}: {r[:300]!r}" for r in records for hit in _found(r.encode(), needles)]
    for f in sorted(run.rglob("*")):  # every file the run wrote: the roles' output, the Faust data directory
        if f.is_file():
            leaks += [f"file {f.relative_to(run)}: {hit}" for hit in _found(f.read_bytes(), needles)]
    n = 0
    for rec in await asyncio.to_thread(lambda: list(_every_record(topics, (topics.topic_prefix,)))):
        n += 1
        leaks += [f"Kafka record: {hit}" for hit in _found(rec, needles)]
    assert n >= 5  # markets, signals, orders, fills, outcomes, the processor's topics
    assert not leaks, "\n".join(leaks[:20])
