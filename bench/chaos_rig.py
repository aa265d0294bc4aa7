"""The test rig of `arb bench chaos`: a local Apache Kafka (localkafka/broker.py) or --bootstrap's, simulator child, restartable executor child, the
signal stream, a live outcome counter, and the pure folds that judge a run.

Heavy imports stay inside functions: `arb` imports every bench module at start-up.
"""

from __future__ import annotations

import json
import os
import signal as signals
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from localkafka.broker import die_with_parent

ASSIGNED = b"assigned signals partition"
HANDLED = b'"msg":"outcome '  # the executor's log line per Outcome of a signal it consumed

# (game_id, Kalshi market A, Kalshi market B, outcome A, outcome B): two YES legs of one no-draw game
Pair = tuple[str, str, str, str, str]


def log(msg: str) -> None:
    print(f"bench chaos: {msg}", file=sys.stderr, flush=True)


class Rig:
    """A Kafka (a local Apache Kafka, or an external one) + simulator child + executor child (SIGKILLable, restartable)."""

    def __init__(self, workdir: Path, *, session_timeout_ms: int, executor_env: dict[str, str] | None = None, games: int = 6,
                 polymarket: bool = False, sim_env: dict[str, str] | None = None, bootstrap: str | None = None,
                 label: str = "bench chaos") -> None:
        """`polymarket`: the simulator gets throwaway Polymarket credentials (`arb sim --credentials-out`) and the
        executor the matching ARB_POLY_* env, so it trades both venues (its MarketsCache still needs the
        MarketPairing records on `markets`: publish_pairings). `sim_env`: extra ARB_SIM_* settings. `bootstrap`: an
        external Kafka instead of a local one (topics of the run's own, deleted by `close`: localkafka/run.py)."""
        self.workdir = workdir
        self.executor: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self._log_mark = 0  # size of execute.log when the current executor started
        self.exec_log_path = workdir / "execute.log"
        self.exec_log = self.exec_log_path.open("ab")
        self.extra_env = executor_env or {}
        from core.kafka import make_admin
        from core.topic_admin import ensure_topics
        from localkafka.run import run_kafka

        # A local Kafka for the run, or the topics of the run's own on --bootstrap's, gone when the rig closes.
        self._on_kafka = ExitStack()
        self.kafka = self._on_kafka.enter_context(run_kafka(bootstrap, f"chaos{os.getpid()}x{int(time.time())}.", label, session_timeout_ms))
        try:
            ensure_topics(make_admin(self.kafka), self.kafka)
            self._start_sim(games, polymarket, sim_env)
        except BaseException:
            self._on_kafka.close()
            raise

    def _start_sim(self, games: int, polymarket: bool, sim_env: dict[str, str] | None) -> None:
        workdir = self.workdir
        self.creds = workdir / "creds"  # polymarket: everything `arb sim --credentials-out` writes (mode 0600 secrets)
        self.key = self.creds / "kalshi.pem" if polymarket else workdir / "kalshi.pem"
        # Duplicate client ids are refused only while the first order rests, as at Kalshi: a re-sent IOC
        # would execute again, and the order log would show it.
        keys = ["--credentials-out", str(self.creds)] if polymarket else ["--kalshi-private-key-out", str(self.key)]
        env = dict(os.environ)
        if polymarket:  # the generated wallet, never an address from the caller's environment
            env = {k: v for k, v in env.items() if not k.startswith(("ARB_SIM_POLY_ADDRESS", "ARB_SIM_POLY_SECRET", "ARB_SIM_POLY_PASSPHRASE"))}
        self.sim = subprocess.Popen([*die_with_parent(), sys.executable, "-m", "cli", "sim", "--games", str(games), "--updates-per-s", "0",
                                     "--arb-rate-per-min", "0", "--kalshi-tier", "unlimited", "--kalshi-duplicate-coid", "open", *keys],
                                    stdout=subprocess.PIPE, stderr=(workdir / "sim.log").open("ab"), start_new_session=True,
                                    env={**env, **(sim_env or {})})
        assert self.sim.stdout is not None  # noqa: S101
        line = self.sim.stdout.readline()
        if not line:
            raise RuntimeError(f"the simulator exited; see {workdir / 'sim.log'}")
        self.urls: dict[str, str] = json.loads(line)
        self.poly_env: dict[str, str] = {}
        if polymarket:
            ids = dict(ln.split("=", 1) for ln in (self.creds / "client.env").read_text().splitlines() if "=" in ln)
            self.poly_env = {"ARB_POLY_CLOB_URL": self.urls["poly_clob_url"], "ARB_POLY_WS_URL": self.urls["poly_ws_url"],
                             "ARB_POLY_ADDRESS": ids["ARB_POLY_ADDRESS"], "ARB_POLY_API_KEY": ids["ARB_POLY_API_KEY"],
                             "ARB_POLY_PRIVATE_KEY_FILE": str(self.creds / "poly-private-key"),
                             "ARB_POLY_API_SECRET_FILE": str(self.creds / "poly-l2-secret"),
                             "ARB_POLY_PASSPHRASE_FILE": str(self.creds / "poly-passphrase")}

    def env(self) -> dict[str, str]:
        return {**os.environ, "ARB_BOOTSTRAP": self.kafka.bootstrap, "ARB_TOPIC_PREFIX": self.kafka.topic_prefix,
                "ARB_SESSION_TIMEOUT_MS": str(self.kafka.session_timeout_ms), "ARB_KALSHI_REST_URL": self.urls["kalshi_url"],
                "ARB_KALSHI_WS_URL": self.urls["kalshi_ws_url"], "ARB_KALSHI_KEY_ID": self.urls["kalshi_key_id"],
                "ARB_KALSHI_PRIVATE_KEY_FILE": str(self.key), "ARB_KALSHI_TIER": "premier", "ARB_EXEC_MAX_ORDERS_PER_S": "1000",
                "ARB_EXEC_BREAKER_THRESHOLD": "5", "ARB_EXEC_BREAKER_COOLDOWN_MS": "1000", "ARB_EXEC_RECOVERY_WINDOW_MS": "2000",
                "ARB_EXEC_LOOKUP_GRACE_MS": "1000", "ARB_LOG_FORMAT": "json",
                # static membership, as the compose stack runs it: a restarted executor is not kept waiting for its
                # dead predecessor's session timeout (docs/operations.md "Scaling and restarts")
                "ARB_EXEC_INSTANCE_ID": "chaos-executor", **self.poly_env, **self.extra_env}

    def start_executor(self) -> None:
        self.exec_log.flush()
        self._log_mark = self.exec_log_path.stat().st_size
        # when the process was started, in the log's own format: restart phases can be timed from the log alone
        self.exec_log.write((json.dumps({"ts": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                                         "level": "INFO", "logger": "bench", "msg": "bench: executor process started"}) + "\n").encode())
        self.exec_log.flush()
        self.executor = subprocess.Popen([*die_with_parent(), sys.executable, "-m", "cli", "execute"], env=self.env(), stdout=self.exec_log,
                                         stderr=self.exec_log, start_new_session=True)
        self.starts += 1

    def executor_logged(self, needle: bytes) -> bool:
        """The current executor's log has `needle` (ASSIGNED: it then fences and recovers; HANDLED: it is
        handling new signals)."""
        with self.exec_log_path.open("rb") as f:
            f.seek(self._log_mark)
            return needle in f.read()

    def wait_assigned(self, timeout_s: float) -> bool:
        return self.wait_logged(ASSIGNED, timeout_s)

    def wait_logged(self, needle: bytes, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.executor_logged(needle):
                return True
            if self.executor is not None and self.executor.poll() is not None:
                raise RuntimeError(f"the executor exited with {self.executor.returncode}; see {self.exec_log_path}")
            time.sleep(0.05)
        return False

    def kill_executor(self) -> None:
        if self.executor is not None and self.executor.poll() is None:
            os.killpg(self.executor.pid, signals.SIGKILL)
            self.executor.wait()

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        import httpx

        r = httpx.request(method, self.urls["admin_url"] + path, json=body, timeout=10)
        r.raise_for_status()
        return r.json()

    def close(self) -> None:
        for proc in (self.executor, self.sim):
            if proc is None or proc.poll() is not None:
                continue
            os.killpg(proc.pid, signals.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signals.SIGKILL)
                proc.wait()
        self._on_kafka.close()
        self.exec_log.close()


NO_FEE = {"model": "NONE", "rate_ppm": 0, "multiplier_ppm": 1_000_000, "exponent": 1}


def kalshi_book(ticker: str, outcome: str, outcomes: list[str]) -> dict[str, Any]:
    """A MarketPairing book of one Kalshi market, without fees: the scenarios' signals claim none, and the executor
    admits only signals whose legs its pairing confirms (executor/limits.py). The simulator charges its fees anyway."""
    return {"venue": "KALSHI", "market": ticker, "event": ticker.rsplit("-", 1)[0], "tick_size": 100, "min_size": 100, "fee": NO_FEE,
            "seconds_delay": 0, "neg_risk": False, "exchange_version": 0, "exchange_index": -1,
            "instruments": [{"market": ticker, "side": "YES", "label": outcome, "pays_on": [outcome]},
                            {"market": ticker, "side": "NO", "label": f"not {outcome}", "pays_on": [o for o in outcomes if o != outcome]}]}


def pair_pairing(pair: Pair) -> dict[str, Any]:
    """The MarketPairing of a deep pair's game (its two Kalshi markets)."""
    game, a, b, oa, ob = pair
    league, date = game.split("-")[:2]
    return {"game_id": game, "league": league, "game_date": date, "start_ts": None, "away": oa, "home": ob, "outcomes": [oa, ob],
            "updated_ts": 0, "books": [kalshi_book(a, oa, [oa, ob]), kalshi_book(b, ob, [oa, ob])]}


def publish_pairings(rig: Rig, pairings: Iterable[dict[str, Any]]) -> None:
    """Put the scenario's games on `markets`, as discovery would: the executor trades only paired games."""
    from core import codec
    from core.kafka import make_producer
    from core.topics import topic_name

    p = make_producer(rig.kafka)
    for rec in pairings:
        p.produce(topic_name("markets", rig.kafka), key=rec["game_id"], value=codec.encode("MarketPairing", rec))
    if p.flush(15) != 0:
        raise RuntimeError("the MarketPairing records were not all delivered")


def deep_pairs(rig: Rig) -> list[Pair]:
    """Both team markets of every no-draw game, with deep frozen books (0.44 / 0.45) so a YES+YES pair can
    fill and a one-sided fill can be unwound within the executor's unwind ladder."""
    out: list[Pair] = []
    for g in rig.admin("GET", "/games")["games"]:
        if g.get("draw_possible"):
            continue
        a, b = g["kalshi_markets"][g["away"]], g["kalshi_markets"][g["home"]]
        for m in (a, b):
            rig.admin("POST", "/book", {"venue": "kalshi", "book_id": m, "bids": [["0.4400", "100000.00"]],
                                        "asks": [["0.4500", "100000.00"]]})
        out.append((g["game_id"], a, b, g["away"], g["home"]))
    if not out:
        raise RuntimeError("the simulator has no no-draw game")
    return out


def make_signal(i: int, pair: Pair, ttl_us: int, now: int, run: str) -> dict[str, Any]:
    """An intra-Kalshi YES+YES signal for 1 contract at 0.45 + 0.45 (edge 0.10 before fees)."""
    from core.ids import signal_id

    game, a, b, oa, ob = pair
    legs = [{"venue": "KALSHI", "market": m, "book": m, "side": "YES", "limit_price": 4500, "size": 100, "expected_fee": 0,
             "pays_on": [o]} for m, o in ((a, oa), (b, ob))]
    ticks = [f"KALSHI:{a}:{run}:{i}", f"KALSHI:{b}:{run}:{i}"]
    return {"signal_id": signal_id(game, legs, ticks), "game_id": game, "legs": legs, "size": 100, "cost": 9000 * 100,
            "edge": 1000 * 100, "event_ts": now, "deadline_ts": now + ttl_us, "input_tick_ids": ticks,
            "input_received_ts": [now, now], "detected_ts": now}


class Streamer(threading.Thread):
    """Produces `n` signals to `signals` at a steady rate, keyed by game (the executor's partitioning)."""

    def __init__(self, rig: Rig, pairs: list[Pair], n: int, rate: float, ttl_s: float,
                 at_index: dict[int, Any] | None = None) -> None:
        super().__init__(daemon=True, name="chaos-streamer")
        self.rig, self.pairs, self.n, self.rate, self.ttl_us = rig, pairs, n, rate, int(ttl_s * 1e6)
        self.at_index = at_index or {}  # i -> callable run just before signal i (fault switches)
        self.sent: dict[str, int] = {}  # signal_id -> produce time (us)
        self.run_id = f"{os.getpid()}{int(time.time())}"
        self.error: BaseException | None = None
        self._produced = threading.Condition()
        self.done = False

    def wait_next(self, timeout_s: float) -> bool:
        """Until the next signal has been handed to the producer (False at the end of the stream)."""
        with self._produced:
            before = len(self.sent)
            return self._produced.wait_for(lambda: len(self.sent) > before or self.done, timeout_s) and len(self.sent) > before

    def next_signal(self, i: int, now: int) -> dict[str, Any]:
        """Signal i of the stream (produced at `now`, µs); a scenario overrides it (other legs, books set first)."""
        return make_signal(i, self.pairs[i % len(self.pairs)], self.ttl_us, now, self.run_id)

    def run(self) -> None:
        try:
            self._run()
        except BaseException as exc:  # reported by the caller after join()
            self.error = exc
        finally:
            with self._produced:
                self.done = True
                self._produced.notify_all()

    def _run(self) -> None:
        from core import codec
        from core.kafka import make_producer
        from core.topics import topic_name
        from core.units import now_us

        producer = make_producer(self.rig.kafka)
        topic = topic_name("signals", self.rig.kafka)
        t0 = time.monotonic()
        for i in range(self.n):
            delay = t0 + i / self.rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            if i in self.at_index:
                self.at_index[i]()
                t0 = time.monotonic() - i / self.rate  # a switch may wait: the rate goes on from here, no burst
            now = now_us()
            sig = self.next_signal(i, now)
            producer.produce(topic, key=sig["game_id"], value=codec.encode("Signal", sig))
            producer.poll(0)
            with self._produced:
                self.sent[sig["signal_id"]] = now
                self._produced.notify_all()
        with self._produced:
            self.done = True
            self._produced.notify_all()  # wake wait_next(): the stream is over
        if producer.flush(30) != 0:
            raise RuntimeError("signals were not all delivered to the broker")


class OutcomeWatcher(threading.Thread):
    """Follows every partition of `outcomes` (read_committed) for progress lines and the drain wait; the
    verdict comes from a fresh read at the end (`read_outcomes`)."""

    def __init__(self, rig: Rig) -> None:
        super().__init__(daemon=True, name="chaos-outcomes")
        self.rig = rig
        self.terminal: set[str] = set()
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def count(self, ids: Iterable[str]) -> int:
        return len(self.terminal.intersection(ids))

    def run(self) -> None:
        from confluent_kafka import OFFSET_BEGINNING, TopicPartition

        from core import codec
        from core.kafka import make_consumer
        from core.topics import partitions, topic_name

        consumer = make_consumer(self.rig.kafka, None, wait="cold")
        topic = topic_name("outcomes", self.rig.kafka)
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions("outcomes", self.rig.kafka))])
        try:
            while not self._stop.is_set():
                msg = consumer.poll(0.1)
                if msg is None or msg.error() or msg.value() is None:
                    continue
                try:
                    type_name, rec = codec.decode_with_type(msg.value() or b"")
                except codec.DecodeError:
                    continue
                if type_name == "Outcome" and rec["state"] != "PENDING":
                    self.terminal.add(rec["signal_id"])
        finally:
            consumer.close()


def read_outcomes(rig: Rig) -> dict[str, list[dict[str, Any]]]:
    """Every terminal Outcome record of the run, read afresh from `outcomes`, by signal_id."""
    from core.topics import partitions, topic_name
    from executor.recovery_reader import read_partition
    from schemas.records import Outcome, to_dict

    records: list[dict[str, Any]] = []
    topic = topic_name("outcomes", rig.kafka)
    for p in range(partitions("outcomes", rig.kafka)):
        recs, _ = read_partition(rig.kafka, [topic], p)
        records += [to_dict(r) for r in recs if isinstance(r, Outcome)]  # the folds and the evidence files read dicts
    return fold_outcomes(records)


# ---- pure folds -------------------------------------------------------------------------------------


def fold_outcomes(records: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Terminal Outcome records by signal_id, in log order (the first one is the one that counts)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        if r["state"] != "PENDING":
            out.setdefault(r["signal_id"], []).append(r)
    return out


@dataclass(frozen=True)
class OutcomeVerdict:
    without_outcome: list[str]
    with_two_outcomes: list[str]  # more than one committed terminal Outcome for one signal, identical or not
    first_state: dict[str, str]


def judge_outcomes(wanted: Iterable[str], outcomes: dict[str, list[dict[str, Any]]]) -> OutcomeVerdict:
    wanted = list(wanted)
    without = [s for s in wanted if s not in outcomes]
    two: list[str] = []
    first: dict[str, str] = {}
    for s in wanted:
        recs = outcomes.get(s)
        if not recs:
            continue
        first[s] = recs[0]["state"]
        # read_committed never shows an aborted copy: a second terminal record, even an identical one, is a
        # second committed decision
        if len(recs) > 1:
            two.append(s)
    return OutcomeVerdict(without, two, first)


def duplicate_orders(order_log: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """client_order_id -> its accepted creates, for every id the venue accepted more than once (a leg
    executed twice: ids are deterministic per signal, leg and step, so a re-send reuses the id)."""
    accepted: dict[str, list[dict[str, Any]]] = {}
    for r in order_log:
        if r["kind"] == "create" and r["accepted"] and r.get("client_order_id"):
            accepted.setdefault(r["client_order_id"], []).append(r)
    return {c: rs for c, rs in accepted.items() if len(rs) > 1}


def count_log_lines(path: Path, needle: str) -> list[dict[str, Any]]:
    """The executor's JSON log records whose message starts with `needle` (non-JSON lines are skipped)."""
    out: list[dict[str, Any]] = []
    for line in path.read_text(errors="replace").splitlines():
        if needle not in line:
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict) and str(rec.get("msg", "")).startswith(needle):
            out.append(rec)
    return out
