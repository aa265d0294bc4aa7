"""The exactly-once execution loop: `arb execute [--paper]` (design.md "Exactly-once execution").

Threads and tasks:
- one thread polls the `signals` consumer (read_committed, no auto-commit) and runs the rebalance
  callbacks; records go to a per-partition asyncio queue;
- one asyncio task per assigned partition p: fence (init_transactions on `{prefix}executor-{p}`),
  recover p, then handle its signals one by one, in order. Partitions run concurrently.

Per signal: skip if an Outcome exists; EXPIRED past the deadline; REJECTED by kill switch, breaker or
risk; else commit the legs' INTENTs in a transaction of their own, send the legs only after that commit,
settle any imbalance (each step with its own INTENT first), then commit results, fills, the Outcome and
the consumed offset in one transaction.

A signal with a pending leg (Polymarket `delayed`) commits what is known with a PENDING Outcome and the
consumed offset; a follow-up task looks the leg up until it is final and then settles the signal.

On revoke: the partition starts no new venue call; the signal in flight is finished (or left to the next
owner's recovery) before the callback returns.

A worker that fails (fenced, or an error it cannot handle) never leaves its partition stranded: the
process stops with an error so the group gives the partition to a healthy member, whose recovery
finishes what was in flight. A bad signal is a dead letter with a REJECTED Outcome, never a failure.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from core import codec, metrics
from core.backoff import Backoff
from core.control import ControlState, control_record
from core.dlq import dead_letter, send_dead_letter
from core.kafka import make_consumer, make_producer
from core.progress import StatusLine, by_text, metric_by, metric_total, partitions_text, status_interval_s
from core.registry import RegistryUnavailable
from core.settings import KafkaSettings
from core.topics import topic_name
from core.units import now_us
from executor.checkpoint import format_checkpoint, parse_checkpoint, start_offsets
from executor.exceptions import Fenced, WorkerFailed
from executor.ledger import TERMINAL, Ledger
from executor.orders import (
    LegResult,
    OrderRequest,
    fill_records,
    intent_event,
    leg_requests,
    outcome_record,
    result_event,
)
from executor.recovery_reader import offsets_since, read_partition
from executor.settlement import Settler, not_sent
from executor.txn import PartitionWriter
from executor.venue_client import VenueClient
from schemas.records import Control, Fill, OrderEvent, Outcome, Signal

if TYPE_CHECKING:
    from executor.admission import Admission

log = logging.getLogger(__name__)
IO_THREADS = 64  # enough for every partition's fencing + recovery at once (threads mostly wait on the network)



class _Stop:
    """What a worker's queue holds after its partition's last record: stop."""


_STOP = _Stop()
PRUNE_EVERY = 1000  # signals between two prunings of a partition's ledger (decided before the dedup horizon)


@dataclass
class PartitionWorker:
    partition: int
    queue: asyncio.Queue[Message | _Stop] = field(default_factory=asyncio.Queue)
    revoked: threading.Event = field(default_factory=threading.Event)
    recovered: threading.Event = field(default_factory=threading.Event)
    future: Future[None] | None = None
    ledger: Ledger = field(default_factory=Ledger)
    # One transaction at a time on the partition's producer: the signal loop and pending follow-ups share it.
    txn: asyncio.Lock = field(default_factory=asyncio.Lock)
    followups: set[asyncio.Task[None]] = field(default_factory=set)
    unhedged: dict[str, dict[str, int]] = field(default_factory=dict)  # signal_id -> venue -> contracts, for UNKNOWN outcomes


@dataclass
class Stats:
    signals: int = 0
    skipped_duplicate: int = 0
    expired: int = 0
    rejected: int = 0
    executed: int = 0
    unknown: int = 0
    dead_letters: int = 0
    recovered_intents: int = 0
    pending: int = 0
    worker_failures: int = 0
    recovery_records: int = 0  # records read by recoveries (from each partition's checkpoint)


Gate = Callable[[Signal], "str | None"]


class ExecutorService:
    def __init__(self, kafka: KafkaSettings, clients: Mapping[str, VenueClient], *, gate: Gate, settler: Settler,
                 paper: bool = False, group_id: str | None = None, recovery_window_us: int = 5_000_000,
                 pending_timeout_us: int = 30_000_000, dedup_horizon_us: int = 600_000_000, revoke_wait_s: float = 10.0,
                 sequential: bool = False, instance_id: str | None = None,
                 on_outcome: Callable[[Outcome], None] | None = None) -> None:
        """`instance_id`: Kafka static membership (group.instance.id, ARB_EXEC_INSTANCE_ID): a restart with the same id
        is given its partitions back at once, without waiting for the dead process's session to time out."""
        self.kafka = kafka
        self.clients = clients
        self.gate = gate
        self.settler = settler
        self.paper = paper
        self.group_id = group_id or f"{kafka.paper_prefix if paper else ''}{kafka.topic_prefix}executor"
        self.instance_id = instance_id or None
        self.signals_topic = topic_name("signals", kafka)
        self.recovery_window_us = recovery_window_us
        self.pending_timeout_us = pending_timeout_us
        self.dedup_horizon_us = dedup_horizon_us
        self.failure: BaseException | None = None  # why a partition worker failed (the process then stops)
        self.revoke_wait_s = revoke_wait_s
        self.sequential = sequential
        self.on_outcome = on_outcome
        self.control: ControlState | None = None  # the ControlState reader, when build() made one
        self.on_recovered: Callable[[int], None] | None = None  # blocking hook run (in a thread) after a partition's recovery, before its first signal
        self.admission: Admission | None = None  # executor/admission.py: hard limits and balances, when attached
        self.workers: dict[int, PartitionWorker] = {}
        self.stats = Stats()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._consumer: Consumer | None = None
        self._group_meta: object = None  # the consumer's ConsumerGroupMetadata (opaque), for transactional offset commits
        self._stop = threading.Event()
        self._dlq = make_producer(kafka)
        # One INFO line every ARB_STATUS_INTERVAL_S, from the poll thread (core/progress.py).
        self.status = StatusLine("execute", status_interval_s(), self._status, rates=("signals_in",))

    def _status(self) -> dict[str, object]:
        """What a person watching the log needs: partitions, recovery, signals in, outcomes by state, pending, lag, kill switch."""
        workers = list(self.workers.values())
        owned = [w.partition for w in workers]
        recovering = [w.partition for w in workers if not w.recovered.is_set()]
        state = "stopping" if self._stop.is_set() else "no partitions" if not workers else "recovering" if recovering else "trading"
        kill = None
        if self.control is not None:
            kill = "ENGAGED" if self.control.kill_switch() else "off" if self.control.healthy else "UNKNOWN"
        return {"state": state, "mode": "paper" if self.paper else "live", "partitions": partitions_text(owned),
                "recovering": partitions_text(recovering) if recovering else None, "signals_in": self.stats.signals,
                "outcomes": by_text(metric_by(metrics.OUTCOMES, "state")), "pending": sum(len(w.followups) for w in workers),
                "lag": sum(metric_total(metrics.CONSUMER_LAG, topic=self.signals_topic, partition=str(p)) for p in owned),
                "kill_switch": kill}

    # ---- lifecycle ------------------------------------------------------------------------------

    def stop(self) -> None:
        self._stop.set()

    def ready(self) -> bool:
        """Partitions assigned, fenced and recovered: new signals are being consumed."""
        workers = list(self.workers.values())
        return bool(workers) and all(w.recovered.is_set() for w in workers)

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        # Every partition's blocking Kafka work (fencing, recovery read, commits) runs in a thread: asyncio's
        # default pool (cpu + 4 threads) made 12 partitions recover in waves after a restart.
        self._loop.set_default_executor(ThreadPoolExecutor(max_workers=IO_THREADS, thread_name_prefix="executor-io"))
        # Register what we write now (a registry that cannot be reached fails the start, not a signal in flight).
        await asyncio.to_thread(codec.warm, ("OrderEvent", "Fill", "Outcome", "DeadLetter", "Control"))
        if self.control is not None:
            # No signal is consumed before the kill switch's state is known (a reader that failed instead makes
            # the risk gate reject every signal with the reason: fail closed).
            await asyncio.to_thread(self.control.wait_loaded)
        if self.admission is not None:  # balances read before the first signal (a venue down now: retried, signals rejected)
            await self.admission.start()
        await asyncio.to_thread(self._poll_thread)
        if self.failure is not None:
            raise WorkerFailed(f"a partition worker failed: {self.failure}") from self.failure

    def _fail(self, worker: PartitionWorker, exc: BaseException) -> None:
        """A worker that cannot go on: stop the whole process (visibly) so the group rebalances the partition
        to a healthy member; never keep it assigned and unread."""
        reason = "fenced" if isinstance(exc, Fenced) else type(exc).__name__
        self.stats.worker_failures += 1
        metrics.WORKER_FAILURES.labels(reason).inc()
        log.error("partition %d worker failed (%s): stopping the executor so the group reassigns its partitions", worker.partition, exc,
                  extra={"partition": worker.partition})
        if self.failure is None:
            self.failure = exc
        self._stop.set()

    def _poll_thread(self) -> None:
        static = {"group.instance.id": self.instance_id} if self.instance_id else {}
        consumer = make_consumer(self.kafka, self.group_id, wait="follow", **static)  # cooperative-sticky, as every group consumer (core.kafka)
        self._consumer = consumer
        self._group_meta = None
        consumer.subscribe([self.signals_topic], on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_revoke)
        lag_at = 0.0
        try:
            while not self._stop.is_set():
                msg = consumer.poll(0.05)
                if time.monotonic() - lag_at >= 1.0:
                    lag_at = time.monotonic()
                    metrics.observe_lag(consumer)
                    self.status.maybe_log()
                # Read only here: the metadata call blocks while another thread is inside poll(). Taken
                # after every poll, it follows rebalances (it carries the generation for the txn commit).
                self._group_meta = _group_metadata(consumer)
                if msg is None:
                    continue
                err = msg.error()
                if err is not None:
                    # e.g. FENCED_INSTANCE_ID: another executor runs with our ARB_EXEC_INSTANCE_ID (librdkafka hands it
                    # over as an event of code _FATAL whose fatal() is False: the code decides)
                    if err.fatal() or err.code() == KafkaError._FATAL:
                        log.error("signals consumer: fatal error: %s; stopping the executor", err)
                        self.failure = self.failure or KafkaException(err)
                        self._stop.set()
                        break
                    log.warning("signals consumer: %s", err)
                    continue
                worker = self.workers.get(msg.partition() or 0)
                if worker is not None and not worker.revoked.is_set():
                    self.loop.call_soon_threadsafe(worker.queue.put_nowait, msg)
        finally:
            consumer.close()  # runs on_revoke for what we still own: in-flight work finishes first
            self._flush_dlq()

    def _flush_dlq(self) -> None:
        self._dlq.flush(5.0)

    # ---- rebalance callbacks (poll thread) ----------------------------------------------------

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise RuntimeError("executor not running")
        return self._loop

    def _current_group_metadata(self) -> object:
        return self._group_meta

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._group_meta = _group_metadata(consumer)  # the new generation, before any worker commits
        for tp in partitions:
            worker = PartitionWorker(tp.partition)
            self.workers[tp.partition] = worker
            worker.future = asyncio.run_coroutine_threadsafe(self._worker(worker), self.loop)
            log.info("assigned signals partition %d", tp.partition, extra={"partition": tp.partition})

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # In-flight signals of the revoked partitions commit while we wait below, and the poll loop (which
        # refreshes the metadata after each poll) is blocked here: give them this generation's metadata.
        self._group_meta = _group_metadata(consumer)
        for tp in partitions:
            worker = self.workers.pop(tp.partition, None)
            if worker is None:
                continue
            worker.revoked.set()
            self.loop.call_soon_threadsafe(worker.queue.put_nowait, _STOP)
            if worker.future is not None:
                try:
                    worker.future.result(timeout=self.revoke_wait_s)
                except Exception as exc:
                    log.warning("partition %d worker ended: %s", tp.partition, exc, extra={"partition": tp.partition})
            log.info("revoked signals partition %d", tp.partition, extra={"partition": tp.partition})

    # ---- per-partition worker (event loop) ----------------------------------------------------

    async def _worker(self, worker: PartitionWorker) -> None:
        p = worker.partition
        writer = PartitionWriter(self.kafka, p, paper=self.paper)
        try:
            await asyncio.to_thread(writer.init)
            await self._recover(worker, writer)
            if self.on_recovered is not None:  # e.g. the risk state catches up with the partition's fills before trading it
                await asyncio.to_thread(self.on_recovered, p)
            worker.recovered.set()
            while not worker.revoked.is_set():
                msg = await worker.queue.get()
                if isinstance(msg, _Stop) or worker.revoked.is_set():
                    break
                await self._handle(worker, writer, msg)
            if worker.followups:  # pending legs: finish them if they can within the revoke wait, else recovery will
                await asyncio.wait(set(worker.followups), timeout=self.revoke_wait_s / 2)
        except Exception as exc:
            if isinstance(exc, Fenced) and worker.revoked.is_set():
                # Revoked, and the new owner fenced us while a signal was still being settled: that is the
                # handover, not a failure; the new owner's recovery finishes the signal.
                log.warning("partition %d: fenced by its new owner after the revoke: %s", p, exc, extra={"partition": p})
            else:
                if not isinstance(exc, Fenced):
                    log.exception("partition %d worker failed", p, extra={"partition": p})
                self._fail(worker, exc)
        finally:
            for task in list(worker.followups):
                task.cancel()
            await asyncio.to_thread(writer.close)

    async def _commit_intents(self, worker: PartitionWorker, writer: PartitionWriter, intents: list[OrderEvent]) -> None:
        async with worker.txn:
            for ev in intents:  # its records all come after the ends known now (the recovery checkpoint)
                worker.ledger.mark(ev.signal_id, writer.known_ends())
            await asyncio.to_thread(writer.commit_intents, intents)  # Fenced propagates: never send
        for ev in intents:
            worker.ledger.apply(ev)

    async def _commit_results(self, worker: PartitionWorker, writer: PartitionWriter, events: list[OrderEvent], fills: list[Fill],
                              outcome: Outcome | None, offsets: list[TopicPartition], group: Callable[[], object] | None,
                              controls: list[Control] | None = None) -> None:
        async with worker.txn:
            if offsets:  # the consumed offset carries the recovery checkpoint, atomically (executor/checkpoint.py)
                finishing = outcome.signal_id if outcome is not None and outcome.state in TERMINAL else None
                cp = format_checkpoint(*worker.ledger.checkpoint(writer.known_ends(), finishing))
                offsets = [TopicPartition(tp.topic, tp.partition, tp.offset, metadata=cp) for tp in offsets]
            await asyncio.to_thread(writer.commit_results, events, fills, outcome, offsets, group, controls or [])

    async def _recover(self, worker: PartitionWorker, writer: PartitionWriter) -> None:
        """After fencing: fold partition p of orders/outcomes from its checkpoint; resolve every possibly-sent
        intent by looking it up (never re-sending); settle and write the Outcome of every unfinished signal."""
        p = worker.partition
        topics = [writer.orders_topic, writer.outcomes_topic]
        t0 = time.monotonic()
        found: dict[str, tuple[int, int] | None] = {}

        def start_at(consumer: Consumer) -> dict[str, int] | None:
            found["start"] = self._recovery_start(consumer, p, topics)
            return None if found["start"] is None else dict(zip(topics, found["start"], strict=True))

        highs: dict[str, int] = {}
        read = await asyncio.to_thread(read_partition, self.kafka, topics, p, start=start_at, group_id=self.group_id, highs_out=highs)
        records, bad = read  # not unpacked in the await: mypy would infer the call in an Any context
        start = found.get("start")
        log.info("recovery of partition %d read %d records from %s in %.0f ms", p, len(records), "its checkpoint" if start else "the beginning",
                 (time.monotonic() - t0) * 1000, extra={"partition": p})
        writer.saw_ends(highs)
        self.stats.recovery_records += len(records) + bad
        if bad:
            log.error("recovery of partition %d: %d undecodable records ignored", p, bad, extra={"partition": p})
        for rec in records:
            if isinstance(rec, (OrderEvent, Outcome)):  # partitions of `orders` and `outcomes` hold nothing else
                worker.ledger.apply(rec)
        for signal_id, intents in worker.ledger.unfinished_signals().items():
            worker.ledger.mark(signal_id, start or (0, 0))
            await self._recover_signal(worker, writer, signal_id, intents)

    def _recovery_start(self, consumer: Consumer, p: int, topics: list[str]) -> tuple[int, int] | None:
        """Where to read `orders` p and `outcomes` p from: the checkpoint committed with the group's offset of
        `signals` p, or the dedup horizon if that is earlier; None (everything) without a checkpoint."""
        committed = consumer.committed([TopicPartition(self.signals_topic, p)], timeout=10)
        checkpoint = parse_checkpoint(committed[0].metadata if committed else None)
        if checkpoint is None:
            return None
        since = offsets_since(consumer, topics, p, (now_us() - self.dedup_horizon_us) // 1000)
        return start_offsets(checkpoint, (since[topics[0]], since[topics[1]]))

    async def _recover_signal(self, worker: PartitionWorker, writer: PartitionWriter, signal_id: str, intents: list[OrderEvent]) -> None:
        # v2 intents carry their deadline; v1 ones get intent time + the recovery window. Each possibly-sent
        # order (no result, or a pending one) is looked up, never re-sent (executor/venue_client.py).
        reqs = [_request_from_intent(ev, ev.deadline_ts or ev.intent_ts + self.recovery_window_us) for ev in intents]
        results: dict[str, LegResult] = {}
        events: list[OrderEvent] = []
        fills: list[Fill] = []
        for req, ev in zip(reqs, intents, strict=True):
            known = worker.ledger.result_for(req.client_order_id)
            if known is not None and known.type != "ACK":
                results[req.client_order_id] = _result_from_event(known)
                # A result whose fills did not land (a leaked result of an aborted transaction) gets them
                # again: fills are derived from results, with deterministic ids (a copy folds onto the first).
                fills += fill_records(req, results[req.client_order_id], paper=self.paper, ts=now_us())
                continue
            self.stats.recovered_intents += 1
            until = None if known is None else now_us() + self.pending_timeout_us
            res = await self.clients[req.venue].resolve(req, why="recovery", until_us=until)
            if res.type == "ACK" and known is not None:
                res = LegResult("UNKNOWN", reason=f"still pending {self.pending_timeout_us // 1_000_000} s after recovery",
                                venue_order_id=res.venue_order_id, acked_ts=now_us())
            results[req.client_order_id] = res
            events.append(result_event(req, res, intent_ts=ev.intent_ts, paper=self.paper))
            fills += fill_records(req, res, paper=self.paper, ts=now_us())
        signal = _recovered_signal(signal_id, reqs[0])
        base = sorted((r for r in reqs if r.step == 0), key=_leg_index)
        steps = [r for r in reqs if r.step > 0]
        outcome, more_events, more_fills = await self._settle(worker, writer, signal, base, steps, results)
        await self._finish(worker, writer, events + more_events, fills + more_fills, outcome, [], None)
        log.warning("recovered signal: %s", outcome.state, extra={"signal_id": signal_id, "partition": worker.partition})
        if outcome.state == "PENDING":
            self._follow_up(worker, writer, signal, base, steps, results)

    async def _handle(self, worker: PartitionWorker, writer: PartitionWriter, msg: Message) -> None:
        p = worker.partition
        offsets = [TopicPartition(self.signals_topic, p, (msg.offset() or 0) + 1)]
        group = self._current_group_metadata  # read at commit time: the generation may move meanwhile
        self.stats.signals += 1
        if self.stats.signals % PRUNE_EVERY == 0:
            worker.ledger.prune(now_us() - self.dedup_horizon_us)
        raw = msg.value()
        try:
            signal = await codec.decode_record_async(raw or b"", Signal)  # a registry lookup never blocks the loop
        except (codec.DecodeError, RegistryUnavailable) as exc:
            await self._dead_letter(worker, writer, msg, exc, None, offsets, group)
            return
        sid = signal.signal_id
        if worker.ledger.has_terminal_outcome(sid) or worker.ledger.has_intents(sid):
            # Already decided (a redelivery, or a signal recovery just settled): only move the offset.
            self.stats.skipped_duplicate += 1
            await self._commit_results(worker, writer, [], [], None, offsets, group)
            return
        now = now_us()
        if now > signal.deadline_ts:
            self.stats.expired += 1
            await self._finish(worker, writer, [], [], outcome_record(signal, "EXPIRED", paper=self.paper, ts=now,
                               reason=f"received {(now - signal.deadline_ts) // 1000} ms after its deadline"), offsets, group)
            return
        try:
            # Hard limits first (whatever the signal claims), then the risk gate, then the venues' balances.
            reason = self.admission.limits(signal) if self.admission is not None else None
            reason = reason or self.gate(signal)
            if reason is None and self.admission is not None:
                reason = await self.admission.reserve(signal)
            reqs = leg_requests(signal) if reason is None else []
            reqs = [await self.clients[r.venue].prepare(r) for r in reqs]
        except Exception as exc:
            # A signal we cannot turn into orders (unknown market, malformed leg, ...) is a bad input: a dead
            # letter and a REJECTED outcome, and the partition goes on.
            log.exception("signal cannot be prepared", extra={"signal_id": sid})
            await self._dead_letter(worker, writer, msg, exc, signal, offsets, group)
            return
        if reason is not None:
            self.stats.rejected += 1
            await self._finish(worker, writer, [], [], outcome_record(signal, "REJECTED", paper=self.paper, ts=now, reason=reason), offsets, group)
            return
        if not reqs:
            await self._finish(worker, writer, [], [], outcome_record(signal, "NOT_FILLED", paper=self.paper, ts=now,
                               reason="not sent: no common size fits every venue's order precision"), offsets, group)
            return
        intents = [intent_event(r, now_us=now_us(), paper=self.paper) for r in reqs]
        await self._commit_intents(worker, writer, intents)
        results = await self._send_legs(worker, reqs)
        events = [result_event(r, results[r.client_order_id], intent_ts=ev.intent_ts, paper=self.paper) for r, ev in zip(reqs, intents, strict=True)]
        fills = [f for r in reqs for f in fill_records(r, results[r.client_order_id], paper=self.paper, ts=now_us())]
        for r in reqs:
            res = results[r.client_order_id]
            metrics.observe(metrics.SIGNAL_TO_ORDER, res.sent_ts, signal.detected_ts)
            metrics.observe(metrics.TICK_TO_ORDER, res.sent_ts, signal.event_ts)
            metrics.observe(metrics.ORDER_ROUND_TRIP.labels(r.venue), res.acked_ts, res.sent_ts)
        if len({results[r.client_order_id].filled for r in reqs}) > 1:
            metrics.ONE_SIDED.inc()
        steps: list[OrderRequest] = []
        outcome, more_events, more_fills = await self._settle(worker, writer, signal, reqs, steps, results)
        self.stats.executed += 1
        await self._finish(worker, writer, events + more_events, fills + more_fills, outcome, offsets, group)
        if outcome.state == "PENDING":
            self._follow_up(worker, writer, signal, reqs, steps, results)

    async def _dead_letter(self, worker: PartitionWorker, writer: PartitionWriter, msg: Message, exc: Exception,
                           signal: Signal | None, offsets: list[TopicPartition], group: Callable[[], object]) -> None:
        self.stats.dead_letters += 1
        p = worker.partition
        try:
            send_dead_letter(self._dlq, self.kafka, _dead_letter_record(msg, p, exc))
        except Exception as dlq_exc:  # e.g. a record too large for the dead-letter topic: say so, never stop the partition
            log.error("could not dead-letter signals record %d/%d: %s", p, msg.offset() or 0, dlq_exc, extra={"partition": p})
        if signal is None:
            await self._commit_results(worker, writer, [], [], None, offsets, group)
            return
        self.stats.rejected += 1
        await self._finish(worker, writer, [], [], outcome_record(signal, "REJECTED", paper=self.paper, ts=now_us(),
                           reason=f"invalid signal: {type(exc).__name__}: {exc}"[:500]), offsets, group)

    def _follow_up(self, worker: PartitionWorker, writer: PartitionWriter, signal: Signal, base: list[OrderRequest],
                   steps: list[OrderRequest], results: dict[str, LegResult]) -> None:
        self.stats.pending += 1
        task = asyncio.get_running_loop().create_task(self._resolve_pending(worker, writer, signal, base, steps, results))
        worker.followups.add(task)
        task.add_done_callback(worker.followups.discard)

    async def _resolve_pending(self, worker: PartitionWorker, writer: PartitionWriter, signal: Signal, base: list[OrderRequest],
                               steps: list[OrderRequest], results: dict[str, LegResult]) -> None:
        """Look each pending order up until it is final, record it and its fills, then settle the signal."""
        try:
            events: list[OrderEvent] = []
            fills: list[Fill] = []
            until = now_us() + self.pending_timeout_us
            for req in base + steps:
                if results[req.client_order_id].type != "ACK":
                    continue
                res = await self.clients[req.venue].resolve(req, why="pending", until_us=until)
                if res.type == "ACK":
                    res = LegResult("UNKNOWN", reason=f"still pending {self.pending_timeout_us // 1_000_000} s after it was accepted",
                                    venue_order_id=res.venue_order_id, acked_ts=now_us())
                results[req.client_order_id] = res
                intent = worker.ledger.intents.get(req.client_order_id)
                events.append(result_event(req, res, intent_ts=intent.intent_ts if intent else now_us(), paper=self.paper))
                fills += fill_records(req, res, paper=self.paper, ts=now_us())
            outcome, more_events, more_fills = await self._settle(worker, writer, signal, base, steps, results)
            await self._finish(worker, writer, events + more_events, fills + more_fills, outcome, [], None)
            if outcome.state == "PENDING":  # a completion/unwind step answered `delayed`: follow it up too
                self._follow_up(worker, writer, signal, base, steps, results)
        except asyncio.CancelledError:
            raise  # revoked: the next owner's recovery resumes from the PENDING outcome
        except Exception as exc:
            log.exception("follow-up of a pending signal failed", extra={"signal_id": signal.signal_id})
            self._fail(worker, exc)

    async def _send_legs(self, worker: PartitionWorker, reqs: list[OrderRequest]) -> dict[str, LegResult]:
        if not self.sequential:
            out = await asyncio.gather(*(self._send(worker, r) for r in reqs))
            return {r.client_order_id: res for r, res in zip(reqs, out, strict=True)}
        results: dict[str, LegResult] = {}
        for r in reqs:  # in signal order; stop at the first leg that filled nothing
            if results and not any(v.filled for v in results.values()):
                results[r.client_order_id] = LegResult("CANCELLED", reason="not sent: an earlier leg filled nothing")
                continue
            results[r.client_order_id] = await self._send(worker, r)
        return results

    async def _send(self, worker: PartitionWorker, req: OrderRequest) -> LegResult:
        # Once a signal's intents are committed it is in flight: it is finished even if the partition is
        # revoked meanwhile (the revoke callback waits for it). Revocation only stops NEW signals.
        return await self.clients[req.venue].place(req)

    async def _settle(self, worker: PartitionWorker, writer: PartitionWriter, signal: Signal, base: list[OrderRequest],
                      steps: list[OrderRequest], results: dict[str, LegResult]) -> tuple[Outcome, list[OrderEvent], list[Fill]]:
        """Run the leg-risk policy until the legs are balanced or the policy gives up. Every step is an
        order of its own: INTENT committed first, then sent."""
        events: list[OrderEvent] = []
        fills: list[Fill] = []
        unsent_wait = Backoff(0.1, 1.0)
        while True:
            nxt = self.settler.next_steps(signal, base, steps, results, now_us())
            if not nxt:
                break
            # Steps are orders like the base legs: prepared (Polymarket: signed, its hash in the INTENT, so
            # recovery can look it up), intent first, then sent.
            prepared: list[OrderRequest] = []
            for r in nxt:
                try:
                    prepared.append(await self.clients[r.venue].prepare(r))
                except Exception as exc:  # e.g. its market left `markets`: this step cannot be sent; the policy goes on
                    log.error("step %s cannot be prepared: %s", r.client_order_id, exc, extra={"signal_id": r.signal_id})
                    results[r.client_order_id] = LegResult("REJECT", reason=f"not sent: cannot prepare it: {exc}")
                    steps.append(r)
            nxt = prepared
            if not nxt:
                await asyncio.sleep(unsent_wait.next_delay())
                continue
            intents = [intent_event(r, now_us=now_us(), paper=self.paper) for r in nxt]
            await self._commit_intents(worker, writer, intents)
            out = await asyncio.gather(*(self._send(worker, r) for r in nxt))
            for r, ev, res in zip(nxt, intents, out, strict=True):
                results[r.client_order_id] = res
                steps.append(r)
                events.append(result_event(r, res, intent_ts=ev.intent_ts, paper=self.paper))
                fills += fill_records(r, res, paper=self.paper, ts=now_us())
            if all(not_sent(res) for res in out):
                await asyncio.sleep(unsent_wait.next_delay())  # e.g. the venue's breaker is open: wait for its half-open probe
            else:
                unsent_wait.reset()
        outcome = self.settler.outcome(signal, base, steps, results, paper=self.paper, ts=now_us())
        if outcome.state == "UNKNOWN":
            worker.unhedged[outcome.signal_id] = self.settler.unhedged(base, steps, results)
        return outcome, events, fills

    async def _finish(self, worker: PartitionWorker, writer: PartitionWriter, events: list[OrderEvent], fills: list[Fill],
                      outcome: Outcome, offsets: list[TopicPartition], group: Callable[[], object] | None) -> None:
        unhedged = worker.unhedged.pop(outcome.signal_id, {}) if outcome.state == "UNKNOWN" else {}
        alerts = self._alert_records(outcome, unhedged) if outcome.state == "UNKNOWN" else []
        await self._commit_results(worker, writer, events, fills, outcome, offsets, group, alerts)
        if self.admission is not None:  # the signal's balance hold goes with the next balance read
            self.admission.on_outcome(outcome)
        for ev in events:
            worker.ledger.apply(ev)
        worker.ledger.apply(outcome)
        for ev in events:
            if ev.type != "INTENT":
                metrics.ORDERS.labels(ev.venue, ev.type).inc()
        metrics.OUTCOMES.labels(outcome.state).inc()
        if outcome.state == "UNWOUND":
            metrics.UNWINDS.inc()
        if outcome.state == "UNKNOWN":
            self.stats.unknown += 1
            log.error("outcome UNKNOWN: an operator must check the venues (%s)", outcome.reason,
                      extra={"signal_id": outcome.signal_id, "game_id": outcome.game_id})
            for venue, size in (unhedged or {"UNKNOWN": 0}).items():
                metrics.UNHEDGED.labels(venue).inc(size)
        if self.on_outcome is not None:
            self.on_outcome(outcome)
        log.info("outcome %s", outcome.state, extra={"signal_id": outcome.signal_id, "game_id": outcome.game_id})

    def _alert_records(self, outcome: Outcome, unhedged: dict[str, int]) -> list[Control]:
        """An UNKNOWN outcome is an alert: an `alert:<VENUE>` record on `control` (shown by `arb status`), committed
        in the outcome's own transaction (no outcome without its alert), besides the log line and
        `arb_unhedged_contracts{venue}`; the risk gate sees the outcome like any other."""
        return [control_record(f"alert:{venue}", "ALERT", True, reason=outcome.reason, source="executor (paper)" if self.paper else "executor",
                               value={"signal_id": outcome.signal_id, "game_id": outcome.game_id, "unhedged_contracts": size})
                for venue, size in (unhedged or {"UNKNOWN": 0}).items()]


def _group_metadata(consumer: Consumer) -> object:
    # confluent-kafka's stub types the ConsumerGroupMetadata as Any: opaque here, only handed back to the producer
    return cast(object, consumer.consumer_group_metadata())


def _dead_letter_record(msg: Message, partition: int, exc: Exception) -> dict[str, object]:
    # core.dlq builds the DeadLetter as a dict[str, Any]: read here as plain objects (it goes straight to the codec)
    return cast("dict[str, object]", dead_letter(msg.topic() or "", partition, msg.offset() or 0, msg.key(), msg.value(), exc, "executor"))


def _recovered_signal(signal_id: str, first: OrderRequest) -> Signal:
    """The signal as recovery knows it, from its orders: its id, game and deadline (all the leg-risk policy and the
    Outcome read of it); the rest, not in the orders, left empty."""
    return Signal(signal_id=signal_id, game_id=first.game_id, legs=[], size=0, cost=0, edge=0, event_ts=0,
                  deadline_ts=first.deadline_us, input_tick_ids=[], input_received_ts=[], detected_ts=0)


def _leg_index(req: OrderRequest) -> int:
    return req.leg_index


def _request_from_intent(ev: OrderEvent, deadline_us: int) -> OrderRequest:
    return OrderRequest(
        client_order_id=ev.client_order_id, signal_id=ev.signal_id, game_id=ev.game_id, leg_index=ev.leg_index,
        step=ev.step, venue=ev.venue, market=ev.market, book=ev.market, side=ev.side, action=ev.action,
        limit_price=ev.limit_price, size=ev.size, deadline_us=deadline_us, signed_order=ev.signed_order,
        venue_order_id=ev.venue_order_id,
    )


def _result_from_event(ev: OrderEvent) -> LegResult:
    """The result an OrderEvent records (an INTENT is no result: recovery reads results only)."""
    if ev.type == "INTENT":
        raise ValueError(f"{ev.client_order_id}: an INTENT is not a result")
    return LegResult(ev.type, filled=ev.filled_size, fill_cost=ev.fill_cost, fee=ev.fee, venue_order_id=ev.venue_order_id,
                     reason=ev.reason, sent_ts=ev.sent_ts, acked_ts=ev.acked_ts)
