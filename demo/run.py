"""Orchestrates the demo: broker, simulators, discovery, feeds, processor, executor and positions as
separate `arb` processes (like production), a live view, and a JSON summary at the end."""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import secrets
import signal
import socket
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx

from core.run_kafka import drop_run_topics, external_settings
from core.settings import KafkaSettings
from demo.collector import WATCHED, Collector
from demo.reconcile import drift, expected_sim_positions, sim_positions
from demo.stats import duplicate_orders
from demo.supervisor import ChildFailed, Supervisor, arb_argv
from demo.view import render


@dataclass(frozen=True)
class DemoOptions:
    duration_s: float = 0.0  # 0 = until Ctrl-C
    json_out: bool = False
    games: int = 6
    seed: int = 7
    arb_rate_per_min: float = 30.0
    updates_per_s: float = 10.0
    workdir: Path | None = None
    keep_workdir: bool = False
    positions: bool = True
    live_ticks: bool = True  # False: the collector leaves ticks out (a benchmark reads them afterwards)
    bootstrap: str | None = None  # an external Kafka (topics of the run's own, deleted at the end); None: a local Kafka (arb broker)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _secret_file(workdir: Path, name: str, value: str) -> str:
    path = workdir / name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value)
    return str(path)


def _poly_wallet() -> tuple[str, str]:
    """A throwaway Polymarket wallet: (private key hex, lowercase address)."""
    from venues.polymarket.signing import address_of

    key = secrets.token_bytes(32)
    return key.hex(), address_of(key)


class Demo:
    def __init__(self, opts: DemoOptions, kafka: KafkaSettings) -> None:
        self.opts = opts
        self.workdir = opts.workdir or Path(tempfile.mkdtemp(prefix="arb-demo-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.kafka = kafka
        self.sup = Supervisor(self.workdir, {**os.environ, "ARB_LOG_FORMAT": "json", "PYTHONUNBUFFERED": "1"})
        self.stop_event = threading.Event()
        self.urls: dict[str, Any] = {}
        self.venue_env: dict[str, str] = {}
        self.collector: Collector | None = None
        self.duplicates: int | None = None
        self.order_log: list[dict[str, Any]] = []
        self.external_kafka = False

    def _progress(self, text: str) -> None:
        if not self.opts.json_out:
            print(text, file=sys.stderr, flush=True)

    # --- start-up ----------------------------------------------------------------------------------

    def start(self) -> None:
        self._progress(f"demo: working directory {self.workdir} (child logs there)")
        port = _free_port()
        if self.opts.bootstrap:
            self.kafka = external_settings(self.kafka, self.opts.bootstrap, "demo")
            self.external_kafka = True
        else:
            self.kafka = replace(self.kafka, bootstrap=f"127.0.0.1:{port}")
        kenv = {"ARB_BOOTSTRAP": self.kafka.bootstrap, "ARB_TOPIC_PREFIX": self.kafka.topic_prefix, "ARB_PARTITIONS": str(self.kafka.partitions)}
        if not self.external_kafka:
            self._progress("demo: starting Apache Kafka ...")
            broker = self.sup.start("broker", arb_argv("broker", "--port", str(port), "--no-topics"), kenv)
            self.sup.wait_for_log(broker, "broker listening", 60)
        topics = self.sup.start("topics", arb_argv("topics", "create"), kenv)
        if topics.proc is None or topics.proc.wait(timeout=120) != 0:
            raise ChildFailed(f"arb topics create failed:\n{topics.tail()}")
        self.sup.children.remove(topics)

        self._progress("demo: starting the venue simulators ...")
        poly_key, poly_address = _poly_wallet()
        l2_secret = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
        passphrase = secrets.token_hex(16)
        api_key = "demo-" + secrets.token_hex(8)
        kalshi_pem = self.workdir / "kalshi.pem"
        sim_env = {"ARB_SIM_POLY_ADDRESS": poly_address, "ARB_SIM_POLY_API_KEY": api_key,
                   "ARB_SIM_POLY_SECRET_FILE": _secret_file(self.workdir, "sim-poly-secret", l2_secret),
                   "ARB_SIM_POLY_PASSPHRASE_FILE": _secret_file(self.workdir, "sim-poly-passphrase", passphrase)}
        sim = self.sup.start("sim", arb_argv("sim", "--seed", str(self.opts.seed), "--games", str(self.opts.games),
                                             "--updates-per-s", str(self.opts.updates_per_s), "--arb-rate-per-min", str(self.opts.arb_rate_per_min),
                                             "--kalshi-tier", "premier", "--kalshi-private-key-out", str(kalshi_pem)),
                             sim_env, stdout_pipe=True)
        self.urls = self.sup.read_json_line(sim, 60)
        if not self.urls.get("gamma_url"):
            raise ChildFailed("the simulator serves no Polymarket venue in this build")
        venue_env = {
            **kenv,
            "ARB_KALSHI_REST_URL": self.urls["kalshi_url"], "ARB_KALSHI_WS_URL": self.urls["kalshi_ws_url"],
            "ARB_KALSHI_KEY_ID": self.urls.get("kalshi_key_id", "sim-kalshi-key"), "ARB_KALSHI_PRIVATE_KEY_FILE": str(kalshi_pem),
            "ARB_KALSHI_TIER": "premier",
            "ARB_POLY_CLOB_URL": self.urls["poly_clob_url"], "ARB_POLY_WS_URL": self.urls["poly_ws_url"], "ARB_GAMMA_URL": self.urls["gamma_url"],
            "ARB_POLY_ADDRESS": poly_address, "ARB_POLY_API_KEY": api_key,
            "ARB_POLY_PRIVATE_KEY_FILE": _secret_file(self.workdir, "poly-private-key", poly_key),
            "ARB_POLY_API_SECRET_FILE": _secret_file(self.workdir, "poly-l2-secret", l2_secret),
            "ARB_POLY_PASSPHRASE_FILE": _secret_file(self.workdir, "poly-passphrase", passphrase),
        }
        self.venue_env = venue_env
        self.kalshi_account = venue_env["ARB_KALSHI_KEY_ID"]
        self.poly_account = poly_address

        self._progress("demo: starting discovery, feeds, processor, executor and positions ...")
        self.sup.start("discover", arb_argv("discover", "--every", "10"), venue_env)
        self.sup.start("produce", arb_argv("produce", "all"), venue_env)
        self.sup.start("process", arb_argv("process"), venue_env)
        self.sup.start("execute", arb_argv("execute"), venue_env)
        if self.opts.positions and importlib.util.find_spec("cli.commands.positions") is not None:
            self.sup.start("positions", arb_argv("positions", "serve"), venue_env)
        watched = WATCHED if self.opts.live_ticks else tuple(t for t in WATCHED if t != "ticks")
        self.collector = Collector(self.kafka, watched).start()

    # --- running -----------------------------------------------------------------------------------

    def refresh_order_log(self) -> None:
        try:
            r = httpx.get(self.urls["admin_url"] + "/orders", timeout=5)
            r.raise_for_status()
            self.order_log = r.json()["orders"]
            self.duplicates = duplicate_orders(self.order_log)
        except (httpx.HTTPError, ValueError, KeyError):
            pass  # keep the last known value; the final summary refreshes again

    def loop(self) -> None:
        t0 = time.monotonic()
        tty = sys.stdout.isatty() and not self.opts.json_out
        last_line = 0.0
        while not self.stop_event.is_set():
            elapsed = time.monotonic() - t0
            if self.opts.duration_s and elapsed >= self.opts.duration_s:
                return
            self.sup.check()
            self.refresh_order_log()
            if self.collector is not None and not self.opts.json_out:
                with self.collector.lock:
                    screen = render(self.collector.stats, elapsed_s=elapsed, duplicates=self.duplicates)
                if tty:
                    sys.stdout.write("\x1b[H\x1b[2J" + screen + "\n")
                    sys.stdout.flush()
                elif elapsed - last_line >= 5:
                    print(screen.splitlines()[0], flush=True)
                    last_line = elapsed
            self.stop_event.wait(1.0)

    def drain(self, timeout_s: float = 15.0) -> None:
        """Stop the sources (discovery, feeds, processor) and let the executor finish what it has, so the
        summary and the position check see settled signals rather than orders in flight."""
        self.sup.stop({"discover", "produce", "process"})
        deadline = time.monotonic() + timeout_s
        quiet_since = time.monotonic()
        last = -1
        while time.monotonic() < deadline and self.collector is not None:
            with self.collector.lock:
                st = self.collector.stats
                pending = len(set(st.signals) - set(st.outcomes))
                seen = len(st.order_results) + len(st.outcomes)
            if seen != last:
                last, quiet_since = seen, time.monotonic()
            if pending == 0 and time.monotonic() - quiet_since > 1.0:
                return
            time.sleep(0.2)

    def summary(self) -> dict[str, Any]:
        from core.markets_cache import MarketsCache

        self.refresh_order_log()
        # The simulator's ground truth, kept for "what happened?" after the demo stopped.
        (self.workdir / "sim_orders.json").write_text(json.dumps(self.order_log, indent=1))
        assert self.collector is not None  # noqa: S101 - set in start()
        with self.collector.lock:
            out = self.collector.stats.summary(self.duplicates)
            fills = list(self.collector.stats.fills.values())
        markets = MarketsCache(self.kafka).start(wait_s=10)
        try:
            ours = expected_sim_positions(fills, dict(markets.pairings))
        finally:
            markets.stop()
        try:
            accounts = httpx.get(self.urls["admin_url"] + "/accounts", timeout=5).json()
            d = drift(ours, sim_positions(accounts, self.kalshi_account, self.poly_account))
            out["positions_match"], out["position_drift"] = not d, d
        except (httpx.HTTPError, ValueError) as exc:
            out["positions_match"], out["position_drift"] = None, {"error": str(exc)}
        return out

    def shutdown(self) -> None:
        if self.collector is not None:
            self.collector.stop()
        self.sup.stop_all()
        if self.external_kafka:
            drop_run_topics(self.kafka, "demo")


def run_demo(opts: DemoOptions, kafka: KafkaSettings) -> int:
    demo = Demo(opts, kafka)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: demo.stop_event.set())
    code = 0
    summary: dict[str, Any] | None = None
    try:
        demo.start()
        demo.loop()
        demo.drain()
        summary = demo.summary()
    except ChildFailed as exc:
        print(f"demo: {exc}", file=sys.stderr, flush=True)
        code = 1
    finally:
        demo.shutdown()
    if summary is not None:
        if opts.json_out:
            print(json.dumps(summary), flush=True)
        else:
            print(json.dumps(summary, indent=2), flush=True)
    return code
