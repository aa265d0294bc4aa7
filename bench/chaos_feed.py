"""Feed fault scenarios of `arb bench chaos`: the whole pipeline (as `arb demo` starts it: simulator,
discovery, both feeds, processor, executor) while the simulator's WebSockets misbehave.

feed-disconnect: both venues drop every WebSocket, `--kills` times; the feeds reconnect, resubscribe and
  re-snapshot.
feed-seq-gap: Kalshi skips one seq number, `--kills` times; the feed must mark that subscription's books
  RESYNCING, re-snapshot and only then publish OK books again.
feed-silence: both venues keep their sockets open and answer pings but deliver no data for SILENCE_S,
  `--kills` times, while the simulator's books go on changing. Data silence alone is no fault (quiet markets
  send nothing), so the feeds must find the books that changed meanwhile with the REST book check (short
  intervals here, FEED_ENV), flag them RESYNCING and keep them so while the socket is silent, and recover once
  the venue speaks again.
malformed-frames: both venues send their next 3 data messages cut in half (invalid JSON), `--kills`
  times; the feed must not build a book across a lost message (Kalshi: the seq gap that follows;
  Polymarket, which has no seq: the feed cannot know what was lost and must re-sync).

The verdict, against the simulator's ground truth:
- wrong_books: once the faults are over and the simulator's market driver is paused, markets whose newest
  OK tick differs from the simulator's book (top ARB_FEED_DEPTH levels), or whose newest tick is neither
  OK nor STALE: a book left wrong or unsynced by a fault;
- unsignalled_faults: gap or silence faults after which no market of the venue published a non-OK tick
  (a gap or a silent socket read as a calm market);
- ok_ticks_while_silent: OK ticks of a market after the feed flagged it (its first non-OK tick of the fault)
  and before its venue spoke again;
- duplicate_orders: client_order_ids placed twice, from the simulator's order log;
- recovery_s: per fault, from its end until every market of the venue had an OK tick again;
- signals, orders: what the pipeline did meanwhile (trades go on; they must not come from wrong books);
- after the sources stop and the executor settles: lost_signals (signals without an outcome), lost_ticks
  (ticks the processor's group never consumed), invalid_book_trades (signals with an order that used a
  tick flagged not OK or the newest OK tick of a wrong book).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import threading
import time
from typing import Any

from bench.chaos_counts import with_counts

SILENCE_S = 8.0  # length of each feed-silence fault
# The feed child's book check in feed-silence: every book quiet for 1 s is checked, fast enough to go round
# every market of the default 20 games within a fault.
FEED_ENV = {"ARB_FEED_BOOK_CHECK_S": "1.0", "ARB_FEED_BOOK_CHECK_CONFIRM_S": "0.5", "ARB_FEED_BOOK_CHECKS_PER_S": "20",
            "ARB_FEED_SNAPSHOT_TIMEOUT_S": "3.0"}
VENUES = ("kalshi", "polymarket")


class TickLog:
    """Every tick of the `ticks` topic, in a background thread: [(received wall time µs, tick)]."""

    def __init__(self, kafka: Any) -> None:
        from confluent_kafka import OFFSET_BEGINNING, TopicPartition

        from core.kafka import make_consumer
        from core.topics import topic_name

        self.ticks: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._c = make_consumer(kafka, None)
        topic = topic_name("ticks", kafka)
        self._c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(kafka.partitions)])
        self._t = threading.Thread(target=self._run, name="tick-log", daemon=True)

    def start(self) -> TickLog:
        self._t.start()
        return self

    def _run(self) -> None:
        from core import codec

        while not self._stop.is_set():
            for m in self._c.consume(500, 0.2):
                if m.error() is None and m.value():
                    try:
                        t = codec.decode(m.value() or b"", "Tick")
                    except codec.DecodeError:
                        continue
                    with self.lock:
                        self.ticks.append(t)

    def stop(self) -> None:
        self._stop.set()
        self._t.join(5)
        self._c.close()

    def snapshot(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.ticks)


def _wait_ok_since(log: TickLog, markets: set[str], since_us: int, timeout_s: float) -> float | None:
    """Seconds until every market had an OK tick received after `since_us` (None: not within timeout)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        fresh = {t["market"] for t in log.snapshot() if t["status"] == "OK" and t["received_ts"] > since_us}
        if markets <= fresh:
            return round(time.time() - since_us / 1e6, 2)
        time.sleep(0.2)
    return None


def _truth(games: list[dict[str, Any]]) -> dict[str, tuple[str, str, bool]]:
    """Tick market -> (simulator venue, book id, inverted): Kalshi tickers; Polymarket token 0 is the
    book as it is, token 1 its complement."""
    out: dict[str, tuple[str, str, bool]] = {}
    for g in games:
        for ticker in g["kalshi_markets"].values():
            out[ticker] = ("kalshi", ticker, False)
        for pm in g["poly_markets"]:
            out[pm["token_ids"][0]] = ("polymarket", pm["condition_id"], False)
            out[pm["token_ids"][1]] = ("polymarket", pm["condition_id"], True)
    return out


def _levels(levels: list[dict[str, int]]) -> list[tuple[int, int]]:
    return [(lv["price"], lv["size"]) for lv in levels]


def run(args: argparse.Namespace) -> dict[str, Any]:
    from bench.chaos_processor import unconsumed
    from core.config import load
    from core.settings import KafkaSettings
    from core.topics import topic_name
    from core.units import ONE_DOLLAR
    from demo.run import Demo, DemoOptions
    from producers.settings import FeedSettings

    if args.scenario == "feed-silence":
        os.environ.update(FEED_ENV)  # read by the feed child the Demo starts
    depth = load(FeedSettings).depth
    opts = DemoOptions(duration_s=0, json_out=True, games=args.games, seed=args.seed, arb_rate_per_min=30, updates_per_s=20, positions=False,
                       bootstrap=args.bootstrap)
    demo = Demo(opts, load(KafkaSettings, overrides={"topic_prefix": "chaos."}))
    log: TickLog | None = None
    ok = False
    try:
        demo.start()
        admin = demo.urls["admin_url"]
        import httpx

        http = httpx.Client(base_url=admin, timeout=10)
        log = TickLog(demo.kafka).start()
        truth = _truth(http.get("/games").json()["games"])
        # The markets the feeds carry: every paired market, once each has had an OK book.
        deadline = time.monotonic() + 90
        markets: set[str] = set()
        while time.monotonic() < deadline:
            seen = {t["market"] for t in log.snapshot() if t["status"] == "OK"}
            if seen and seen == markets:
                break
            markets = seen
            time.sleep(3)  # the set stops growing once discovery's pairings are all subscribed
        if not markets:
            demo.sup.check()  # a child that died at start-up is the likeliest cause: say which, with its log
            statuses: dict[str, int] = {}
            for t in log.snapshot():
                statuses[t["status"]] = statuses.get(t["status"], 0) + 1
            tails = "\n".join(f"--- {c.name} ({c.log_path}):\n{c.tail(25)}" for c in demo.sup.children if c.name in ("discover", "produce"))
            raise RuntimeError(f"no OK tick within 90 s of start-up (ticks seen by status: {statuses or 'none'}); "
                               f"child logs kept in {demo.workdir}\n{tails}")
        by_venue = {v: {m for m in markets if truth.get(m, ("", "", False))[0] == v} for v in VENUES}
        venues = ("kalshi",) if args.scenario == "feed-seq-gap" else VENUES
        print(f"bench chaos: {len(markets)} markets live; {args.kills} faults", flush=True, file=sys.stderr)

        recovery: list[float] = []
        unrecovered = unsignalled = ok_while_silent = 0
        for _ in range(args.kills):
            time.sleep(args.interval)
            start_us = int(time.time() * 1e6)
            if args.scenario == "feed-disconnect":
                for v in venues:
                    http.post(f"/faults/{v}/disconnect").raise_for_status()
            elif args.scenario == "feed-seq-gap":
                http.post("/faults/kalshi", json={"seq_skip": 1}).raise_for_status()
            elif args.scenario == "malformed-frames":
                for v in venues:
                    http.post(f"/faults/{v}", json={"malformed": 3}).raise_for_status()
            else:
                for v in venues:
                    http.post(f"/faults/{v}", json={"silence": True}).raise_for_status()
                time.sleep(SILENCE_S)
                for v in venues:
                    http.post(f"/faults/{v}", json={"silence": False}).raise_for_status()
            end_us = int(time.time() * 1e6)
            for v in venues:
                took = _wait_ok_since(log, by_venue[v], end_us, 60)
                if took is None:
                    unrecovered += 1
                else:
                    recovery.append(took)
                ticks = [t for t in log.snapshot() if t["market"] in by_venue[v] and start_us <= t["received_ts"]]
                if args.scenario in ("feed-seq-gap", "feed-silence") and not any(t["status"] != "OK" for t in ticks):
                    unsignalled += 1
                if args.scenario == "feed-silence":
                    # OK ticks of a market after the feed flagged it (the book check found it wrong) and before the
                    # venue spoke again: nothing the silent socket delivered can have made it right. Counted from
                    # the flag, not from the fault's start: frames the venue queued before going quiet can still
                    # arrive later on a loaded machine, and they are real data.
                    flagged: dict[str, int] = {}
                    for t in ticks:
                        if t["status"] != "OK":
                            flagged.setdefault(t["market"], t["received_ts"])
                    ok_while_silent += sum(1 for t in ticks if t["status"] == "OK" and t["market"] in flagged
                                           and flagged[t["market"]] < t["received_ts"] < end_us)

        # Ground truth: freeze the market and compare every book with the feed's newest tick of it.
        http.post("/driver", json={"running": False}).raise_for_status()
        # Every tick of the last changes must be in: wait until none arrives for 2 s (on a loaded
        # machine the feed -> Kafka -> reader path lags by seconds).
        quiet_deadline = time.monotonic() + 30
        count, still_since = len(log.snapshot()), time.monotonic()
        while time.monotonic() < quiet_deadline and time.monotonic() - still_since < 2.0:
            time.sleep(0.25)
            if (n := len(log.snapshot())) != count:
                count, still_since = n, time.monotonic()
        # With the driver paused the venues go quiet; a book may still be STALE, which is right. Its levels are
        # those of its newest OK tick.
        newest: dict[str, dict[str, Any]] = {}
        newest_ok: dict[str, dict[str, Any]] = {}
        for t in log.snapshot():
            if t["market"] in markets:
                newest[t["market"]] = t
                if t["status"] == "OK":
                    newest_ok[t["market"]] = t
        wrong: list[str] = []
        examples: list[dict[str, Any]] = []
        for m in sorted(markets):
            venue, book_id, inverted = truth[m]
            b = http.get("/book", params={"venue": venue, "book_id": book_id}).json()
            bids, asks = [tuple(x) for x in b["bids"]], [tuple(x) for x in b["asks"]]
            if inverted:
                bids, asks = [(ONE_DOLLAR - p, s) for p, s in asks], [(ONE_DOLLAR - p, s) for p, s in bids]
            t = newest_ok[m]
            if newest[m]["status"] not in ("OK", "STALE") or _levels(t["bids"]) != bids[:depth] or _levels(t["asks"]) != asks[:depth]:
                wrong.append(m)
                if len(examples) < 3:
                    examples.append({"market": m, "status": newest[m]["status"], "tick": [_levels(t["bids"])[:3], _levels(t["asks"])[:3]],
                                     "venue": [bids[:3], asks[:3]]})
        # Stop the sources, let the executor settle every signal, then judge signals, ticks and trades.
        demo.drain(30.0)
        demo.refresh_order_log()
        assert demo.collector is not None  # noqa: S101
        with demo.collector.lock:
            st = demo.collector.stats
            summary = st.summary(demo.duplicates)
            without_outcome = len(set(st.signals) - set(st.outcomes))
            traded = {o["signal_id"]: st.signals[o["signal_id"]]["input_tick_ids"] for o in st.order_results.values()
                      if o.get("signal_id") in st.signals}
        # A trade from an invalid book: an order for a signal that used a tick flagged not OK, or the newest
        # OK tick of a book found wrong above.
        bad_ticks = {t["tick_id"] for t in log.snapshot() if t["status"] != "OK"} | {newest_ok[m]["tick_id"] for m in wrong}
        invalid_trades = sum(1 for inputs in traded.values() if bad_ticks.intersection(inputs))
        lost_ticks = unconsumed(demo.kafka, topic_name("ticks", demo.kafka))
        ok = not (wrong or unsignalled or unrecovered or ok_while_silent or demo.duplicates or without_outcome or invalid_trades or lost_ticks)
        recovery_s = {"median": round(statistics.median(recovery), 2), "max": max(recovery)} if recovery else None
        result = {
            "scenario": args.scenario, "faults": args.kills, "markets": len(markets),
            "wrong_books": len(wrong), "unsignalled_faults": unsignalled, "unrecovered_faults": unrecovered,
            "ok_ticks_while_silent": ok_while_silent, "duplicate_orders": demo.duplicates,
            "recovery_s": recovery_s,
            "ticks": len(log.snapshot()), "signals": summary.get("signals"), "orders": summary.get("orders"), "traded_signals": len(traded),
            **({"wrong_markets": wrong[:10], "wrong_examples": examples} if wrong else {}), **({} if ok else {"workdir": str(demo.workdir)}),
        }
        return with_counts(result, {"duplicate_orders": demo.duplicates, "lost_signals": without_outcome, "lost_ticks": lost_ticks,
                                    "invalid_book_trades": invalid_trades, "recovery_s": recovery_s},
                           {"recovery_s": "no fault recovered"} if recovery_s is None else None)
    finally:
        if log is not None:
            log.stop()
        demo.shutdown()
        if ok:
            shutil.rmtree(demo.workdir, ignore_errors=True)  # kept (child logs) when the verdict fails
