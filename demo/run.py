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

from core.settings import KafkaSettings
from core.units import now_us
from demo import acceptance
from demo.collector import WATCHED, Collector
from demo.reconcile import drift, expected_sim_positions, paid_books, sim_positions
from demo.stats import duplicate_orders
from demo.supervisor import ChildFailed, Supervisor, arb_argv
from demo.view import render
from localkafka.run import drop_run_topics, external_settings


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
    game_life: bool = False  # the simulator's games end, resolve, settle and are replaced (DEMO_GAME_LIFE); `arb demo` sets it
    bucket_s: float = 300.0  # the summary's counts per bucket of this many seconds


# `arb demo`'s games have a life (simulators/lifecycle.py), so that exposure is released as games settle and the
# demo trades for as long as it runs: the first games start within 1-6 min (starts fall on whole 5 minutes), one
# a minute (their ends spread out), each trades until 6 min after its start, resolves 20 s later and Kalshi pays
# 10 s after that. A variable set in the environment wins. Benchmarks and tests keep the simulator's defaults
# (games never end) unless they ask. Teams whose games ended play again the same day against a new opponent
# (simulators/scenario.py replacement_game): with one game a team a day, the simulator's 22 games a New York day ran
# out after ~40 minutes and the later games, listed for the next day, never ended within the run. The accounts
# start with 100,000 USD a venue, so that a long run's open positions never drain one.
DEMO_GAME_LIFE = {"ARB_SIM_FIRST_GAME_AFTER_S": "60", "ARB_SIM_GAME_SPACING_S": "60", "ARB_SIM_GAME_DURATION_S": "360",
                  "ARB_SIM_RESOLVE_DELAY_S": "20", "ARB_SIM_KALSHI_SETTLEMENT_TIMER_S": "10",
                  "ARB_SIM_KALSHI_BALANCE": "100000.00", "ARB_SIM_POLY_BALANCE": "100000.00"}
DISCOVER_EVERY_S = 10  # discovery rounds: new games paired, settlements published within this


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
        self.started_us = 0  # the run's measured span (the live loop): the buckets' origin and the last complete one
        self.ended_us = 0
        self.sim_games: list[dict[str, Any]] | None = None  # admin GET /games, refreshed by the loop and the summary

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
        life = {k: v for k, v in DEMO_GAME_LIFE.items() if k not in os.environ} if self.opts.game_life else {}
        sim_env = {**life, "ARB_SIM_POLY_ADDRESS": poly_address, "ARB_SIM_POLY_API_KEY": api_key,
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
            "ARB_POLY_DATA_API_URL": self.urls["gamma_url"],  # the simulator serves the Data API's /positions there (reconciliation)
            "ARB_POLY_ADDRESS": poly_address, "ARB_POLY_API_KEY": api_key,
            "ARB_POLY_PRIVATE_KEY_FILE": _secret_file(self.workdir, "poly-private-key", poly_key),
            "ARB_POLY_API_SECRET_FILE": _secret_file(self.workdir, "poly-l2-secret", l2_secret),
            "ARB_POLY_PASSPHRASE_FILE": _secret_file(self.workdir, "poly-passphrase", passphrase),
        }
        self.venue_env = venue_env
        self.kalshi_account = venue_env["ARB_KALSHI_KEY_ID"]
        self.poly_account = poly_address

        self._progress("demo: starting discovery, feeds, processor, executor and positions ...")
        self.sup.start("discover", arb_argv("discover", "--every", str(DISCOVER_EVERY_S)), venue_env)
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

    def refresh_games(self) -> None:
        try:
            r = httpx.get(self.urls["admin_url"] + "/games", timeout=5)
            r.raise_for_status()
            self.sim_games = list(r.json()["games"])
        except (httpx.HTTPError, ValueError, KeyError):
            pass  # keep the last known list

    def life_line(self) -> str:
        """The view's line on games through their life (folds every fill: called every few seconds)."""
        assert self.collector is not None  # noqa: S101 - set in start()
        with self.collector.lock:
            life = acceptance.game_life(self.sim_games, self.collector.stats)
            pnl, _ = acceptance.realized(self.collector.stats)
        return (f"games listed {life['listed'] if life['listed'] is not None else '?'}   paired {life['paired']}   ended {life['ended'] or 0}   "
                f"resolved {life['resolved'] or 0}   settled {life['settled']}   realized P&L {pnl['settled_sum']} USD (settled games)")

    def loop(self) -> None:
        t0 = time.monotonic()
        self.started_us = now_us()
        tty = sys.stdout.isatty() and not self.opts.json_out
        last_line = last_life = last_log = -5.0
        life = ""
        try:
            while not self.stop_event.is_set():
                elapsed = time.monotonic() - t0
                if self.opts.duration_s and elapsed >= self.opts.duration_s:
                    return
                self.sup.check()
                if elapsed - last_log >= 5:  # the whole order log each time: it grows over a long run
                    self.refresh_order_log()
                    last_log = elapsed
                if self.collector is not None and not self.opts.json_out:
                    if elapsed - last_life >= 5:
                        self.refresh_games()
                        life, last_life = self.life_line(), elapsed
                    with self.collector.lock:
                        screen = render(self.collector.stats, elapsed_s=elapsed, duplicates=self.duplicates, life=life)
                    if tty:
                        sys.stdout.write("\x1b[H\x1b[2J" + screen + "\n")
                        sys.stdout.flush()
                    elif elapsed - last_line >= 5:
                        print(screen.splitlines()[0], flush=True)
                        last_line = elapsed
                self.stop_event.wait(1.0)
        finally:
            self.ended_us = now_us()

    def drain(self, timeout_s: float = 15.0, *, keep_discovery: bool = False) -> None:
        """Stop the sources (discovery unless `keep_discovery`, feeds, processor) and let the executor finish what it
        has, so the summary and the position check see settled signals rather than orders in flight. Discovery
        pairs no signal: kept, it goes on publishing the settlements of games that end meanwhile."""
        self.sup.stop({"produce", "process"} if keep_discovery else {"discover", "produce", "process"})
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

    def wait_for_settlements(self, timeout_s: float) -> None:
        """Give discovery (still running) the time to publish the settlements of the games the simulator finalized
        by now, so that the summary does not count a game that finalized in the last seconds as unsettled."""
        assert self.collector is not None  # noqa: S101 - set in start()
        deadline = time.monotonic() + timeout_s
        while True:
            self.refresh_games()
            with self.collector.lock:
                life = acceptance.game_life(self.sim_games, self.collector.stats)
            if not life["unsettled"] or time.monotonic() >= deadline or not any(c.name == "discover" and c.alive() for c in self.sup.children):
                return
            time.sleep(1.0)

    def positions_check(self, tries: int = 3) -> tuple[bool | None, dict[str, Any]]:
        """Our positions (fills, less what settlements paid out) against the simulator's. A game can finalize between
        reading the simulator's accounts and our settlements: a drift is read again (a race does not repeat)."""
        from core.config import load
        from simulators.settings import SimSettings

        assert self.collector is not None  # noqa: S101 - set in start()
        poly_redeemed = load(SimSettings).poly_redeem == "auto"  # the simulator's setting: it reads the same environment
        d: dict[str, Any] = {}
        for attempt in range(tries):
            try:
                accounts = httpx.get(self.urls["admin_url"] + "/accounts", timeout=5).json()
            except (httpx.HTTPError, ValueError) as exc:
                return None, {"error": str(exc)}
            with self.collector.lock:
                st = self.collector.stats
                fills, pairings, settlements = list(st.fills.values()), dict(st.pairings), dict(st.settlements)
            ours = expected_sim_positions(fills, pairings, paid_books(settlements.values(), poly_redeemed=poly_redeemed))
            d = drift(ours, sim_positions(accounts, self.kalshi_account, self.poly_account))
            if not d:
                return True, {}
            if attempt + 1 < tries:
                time.sleep(2.0)
        return False, d

    def summary(self) -> dict[str, Any]:
        self.refresh_order_log()
        # The simulator's ground truth, kept for "what happened?" after the demo stopped.
        (self.workdir / "sim_orders.json").write_text(json.dumps(self.order_log, indent=1))
        assert self.collector is not None  # noqa: S101 - set in start()
        self.wait_for_settlements(2 * DISCOVER_EVERY_S + 5)
        out = self.lifecycle_summary()
        with self.collector.lock:
            out = {**self.collector.stats.summary(self.duplicates), **out}
        out["positions_match"], out["position_drift"] = self.positions_check()
        return out

    def lifecycle_summary(self) -> dict[str, Any]:
        """Buckets, games through their life, realized P&L and the acceptance verdicts (demo/acceptance.py)."""
        assert self.collector is not None  # noqa: S101 - set in start()
        bucket_us = int(self.opts.bucket_s * 1_000_000)
        end = self.ended_us or now_us()
        start = self.started_us or end  # loop() not run (a test driving the demo itself): no bucket is complete
        with self.collector.lock:
            st = self.collector.stats
            pnl, by_game = acceptance.realized(st)
            rows = acceptance.buckets(st, start, bucket_us, end, by_game)
            life = acceptance.game_life(self.sim_games, st)
            signals, expired = len(st.signals), st.count("EXPIRED")
        n_complete = acceptance.complete_buckets(start, bucket_us, end)
        return {"run_s": round((end - start) / 1e6, 1), "bucket_s": self.opts.bucket_s, "complete_buckets": n_complete, "buckets": rows,
                "expired": expired, "expired_share": round(expired / signals, 4) if signals else None, "games": life, "realized_pnl": pnl,
                "acceptance": acceptance.verdicts(rows, n_complete, signals, expired, life, pnl)}

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
        demo.drain(keep_discovery=True)
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
