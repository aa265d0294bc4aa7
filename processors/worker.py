"""A processor worker: the Faust app of `arb process`, whose agent turns `ticks` into `signals`.

One agent consumes `ticks` (keyed by game_id, so every update of a game reaches one worker in order), keeps
each game's latest books in a changelog-backed table (a worker that takes over a partition recovers them),
reads every MarketPairing from `markets` with a plain consumer, runs the detector on every tick and sends
Signals keyed by game_id to `signals`. What the agent did reaches Kafka through the checkpoint
(processors/checkpoint.py: send signals, write state, commit offsets); the delivery guard
(processors/delivery_guard.py) keeps each ticks partition gap-free for the agent. Unreadable ticks go to the
dead-letter topic (processors/triage.py).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Collection, Coroutine, Mapping
from functools import partial
from typing import cast

import faust
from aiokafka.errors import IllegalStateError
from aiokafka.errors import KafkaError as AIOKafkaError
from confluent_kafka import KafkaError, KafkaException, Message, Producer
from confluent_kafka.admin import AdminClient
from faust.transport.consumer import Consumer as FaustConsumer
from faust.types import TP, StreamT
from faust.types.tables import TableT
from mode import Signal as FaustSignal

from core import codec, metrics
from core.backoff import Backoff
from core.kafka import make_admin, make_producer
from core.markets_cache import MarketsCache
from core.progress import StatusLine, metric_total, partitions_text, status_interval_s
from core.registry import RegistryUnavailable
from core.settings import KafkaSettings
from core.topic_admin import led_topics
from core.topics import topic_name
from processors.batching import EventStream, StreamQueue, available_batches
from processors.checkpoint import Checkpoint, Entry, GameState
from processors.delivery_guard import DeliveryGuard
from processors.detector import Detector
from processors.faust_auth import faust_credentials
from processors.faust_codec import register_codecs
from processors.faust_settings import WorkerSettings
from processors.low_latency import LowLatencyConsumer, LowLatencyTransport
from processors.quiet_worker import LeanMonitor
from processors.settings import DetectorSettings
from processors.triage import TickEvent, dead_letter_record, triage
from schemas.records import Signal

log = logging.getLogger(__name__)

_IllegalState: type[Exception] = IllegalStateError  # aiokafka ships no type hints
_KafkaError: type[Exception] = AIOKafkaError


class ProcessorWorker:
    """Builds the Faust app (`self.app`) from the settings it is given; Faust runs it."""

    def __init__(self, kafka: KafkaSettings, settings: WorkerSettings, detection: DetectorSettings) -> None:
        codec.configure(kafka.schema_registry_url, kafka.schema_registry_user_info())
        register_codecs()
        self.batch_max = settings.batch_max
        self.ticks_topic = topic_name("ticks", kafka)
        self.signals_topic = topic_name("signals", kafka)
        self.kafka = kafka
        self._signals: Producer | None = None  # made on the first signal (send_signal)
        self._admin: AdminClient | None = None  # made when Faust subscribes (ready_topics)
        self._send_error: KafkaException | None = None  # the first signal delivery that failed
        self._sent = 0  # signals given to the producer (each one's number)
        self._unacked: set[int] = set()  # numbers of the signals not delivered yet
        # What was given to Faust's producer (changelog states, dead letters) and is not known delivered: see _flush.
        self._faust_sends: list[asyncio.Future[object]] = []
        self._faust_error: RuntimeError | None = None  # the first of them that failed: from then on nothing is committed
        self._unrecovered_logged: int | None = None  # the generation whose partitions without changelog were logged (see place)
        self._request_timeout_s = settings.request_timeout_s  # of a wait for Faust's deliveries, and for committed offsets
        self.markets = MarketsCache(kafka)
        self.markets_loaded = asyncio.Event()
        self.detector = Detector(detection, self.markets.get)
        self.guard = DeliveryGuard(settings.stall_s)
        self.checkpoint = Checkpoint(self._flush, self._write_state, self._commit_ticks)
        # game -> (the value this worker last wrote to the table, its GameState): read back without parsing the JSON
        self._written: dict[str, tuple[object, GameState]] = {}
        brokers = [f"kafka://{h.strip()}" for h in kafka.bootstrap.split(",")]
        self.app = app = faust.App(
            f"{kafka.topic_prefix}{settings.app_id}",
            broker=brokers,
            broker_credentials=faust_credentials(kafka),
            topic_replication_factor=kafka.replication,  # of the table changelog Faust creates
            store=settings.store,
            datadir=settings.datadir,
            topic_partitions=kafka.partitions,
            broker_session_timeout=kafka.session_timeout_ms / 1000,
            consumer_group_instance_id=settings.instance_id.replace("{hostname}", socket.gethostname()) or None,
            broker_request_timeout=settings.request_timeout_s,
            broker_heartbeat_interval=settings.heartbeat_s,
            broker_max_poll_interval=settings.max_poll_interval_s,
            broker_max_poll_records=settings.max_poll_records,
            broker_commit_interval=settings.commit_interval_s,
            producer_linger=kafka.linger_ms / 1000.0,
            consumer_auto_offset_reset="earliest",
            web_enabled=settings.web_port > 0,
            web_port=settings.web_port or 6066,
            # Ticks since the last commit are processed again after a crash and yield the same signal_ids
            # (deterministic), which the executor deduplicates: at-least-once loses nothing there.
            processing_guarantee="at_least_once",
            recovery_consistency_check=settings.recovery_consistency_check,
            Worker="processors.quiet_worker:QuietWorker",
            TableManager="processors.table_manager:PromptTableManager",
            monitor=LeanMonitor(),
        )
        # Before anything asks for the transport (declaring a topic does).
        self._queued: StreamQueue | None = None  # the agent's stream's queue, once it runs
        app.transport = LowLatencyTransport(app.conf.broker_consumer, app, fetch_wait_ms=kafka.fetch_wait_ms,
                                            full_fetch_wait_ms=kafka.cold_fetch_wait_ms,
                                            owned_topic=self.ticks_topic, before_commit=self.checkpoint.commit, backlogged=self.backlogged,
                                            ready_topics=self.ready_topics)

        # Our topics come from `arb topics create` (registry settings); Faust declares only its internal ones
        # (the table changelog, with the table's partition count, before anything can auto-create it).
        # Keys as raw bytes (checked by `triage`): with key_type=str a key that is not UTF-8 made Faust throw
        # KeyDecodeError into the agent.
        self.ticks = app.topic(self.ticks_topic, key_type=bytes, key_serializer="raw", value_serializer="arb-tick", internal=False)
        self.dlq = app.topic(topic_name("dlq", kafka), key_type=str, value_serializer="raw", internal=False)
        # No value_type: with value_type=dict Faust calls `dict.from_data` on every changelog record in recovery
        # and a worker taking over a partition silently starts from empty books. Values are plain JSON, written
        # by the checkpoint into an explicit changelog partition (see _write_state). The agent reads and writes
        # `games.data` directly, yet without default=dict the takeover test failed (a survivor missed a
        # signal): kept, reason not found.
        self.games: TableT[str, object] = app.Table("games", default=dict, partitions=kafka.partitions, key_type=str)

        app.timer(interval=settings.commit_interval_s)(self.commit_processed)
        app.timer(interval=min(max(settings.stall_s / 2, 0.1), 0.5))(self.rewind_dropped)
        app.task(self.load_markets)
        app.agent(self.ticks, name="processors.app.detect")(self.detect)  # the name it always had
        app.on_partitions_assigned.connect(self.on_assigned)
        app.on_partitions_revoked.connect(self.on_revoked)
        rebalanced: FaustSignal[object] = app.on_rebalance_complete  # Faust declares it without its type parameter
        rebalanced.connect(self.on_ready)
        self.status_line = StatusLine("process", status_interval_s(), self.status, rates=("ticks_in", "signals_out"))
        if self.status_line.interval_s > 0:
            app.timer(interval=self.status_line.interval_s)(self.log_status)

    @property
    def consumer(self) -> LowLatencyConsumer:
        return cast(LowLatencyConsumer, self.app.consumer)

    # -- the agent ------------------------------------------------------------------------------------------

    async def detect(self, stream: StreamT[object]) -> None:
        # Faust types a stream's events as EventT[Any]; what the agent reads of them is a TickEvent.
        events = cast("EventStream[TickEvent]", stream)
        self._queued = events.channel.queue  # from now on the fetcher sees a backlog (see `backlogged`)
        # No tick is evaluated before the existing pairings are loaded: a tick of a game whose pairing
        # is not known yet would be folded into the table without being evaluated.
        await self.markets_loaded.wait()
        # Batches of what is already queued (up to `batch_max`): a lone tick is processed at once.
        async for batch in available_batches(events, self.batch_max):
            await self.process(batch)

    async def ready_topics(self, topics: Collection[str]) -> set[str]:
        """Those of the topics the broker knows when asked for them by name, every partition with a leader (see
        LowLatencyConsumerThread.subscribe)."""
        return await asyncio.to_thread(self._led_topics, list(topics))

    def _led_topics(self, topics: list[str]) -> set[str]:
        if self._admin is None:
            self._admin = make_admin(self.kafka)
        return led_topics(self._admin, topics, timeout=5.0)  # one not reachable now is asked again

    def backlogged(self) -> bool:
        """Whether the agent's stream holds a full batch or more not taken yet (processors/low_latency.py: Faust's fetcher
        then lets the agent run after each record it hands over)."""
        return self._queued is not None and self._queued.qsize() >= self.batch_max

    async def process(self, batch: list[TickEvent]) -> None:
        """Fold each tick of the batch into its game's state, send the signals, hand the states to the checkpoint."""
        now = asyncio.get_running_loop().time()
        batch = [e for e in batch if self.guard.accept(e.message.partition, e.message.offset, now)]
        states: dict[str, Entry] = {}
        for event in batch:
            metrics.TICKS_CONSUMED.inc()
            tick, problem = await triage(event)
            if tick is None:
                await self.dead_letter(event, problem or codec.DecodeError("corrupt", "unreadable"))
                continue
            game_id = tick.game_id
            prior = states[game_id][1] if game_id in states else self.prior_state(game_id)
            offset = event.message.offset
            if offset <= prior.offset:
                metrics.TICKS_REPLAYED.inc()
                continue  # already folded in before a crash (see processors/checkpoint.py)
            books, out = self.detector.on_tick(prior.books, tick)
            states[game_id] = (event.message.partition, GameState(books, offset))
            for signal in out:
                await self.send_signal(game_id, signal)
                metrics.SIGNALS.inc()
                metrics.observe(metrics.TICK_TO_SIGNAL, signal.detected_ts, signal.event_ts)
        for game_id, (_, state) in states.items():
            state.memo = self.detector.memory(game_id)
        if self._signals is not None:  # the delivery reports so far: once a batch, not once a signal
            self._signals.poll(0)
        self.checkpoint.processed(states, ((e.message.partition, e.message.offset) for e in batch))

    def prior_state(self, game_id: str) -> GameState:
        """The game's newest state: not yet written (the checkpoint's), else the table's."""
        pending = self.checkpoint.state(game_id)
        if pending is not None:
            return pending
        stored = self.games.data.get(game_id)
        written = self._written.get(game_id)
        # What this worker wrote is read back as it was; anything else (recovered from the changelog, or a store that
        # keeps bytes) is parsed.
        state = written[1] if written is not None and written[0] is stored else GameState.from_json(stored)
        # The table's state may come from another worker, or from before a crash: decide on with the
        # hysteresis that went with it.
        self.detector.restore(game_id, state.memo)
        return state

    async def dead_letter(self, event: TickEvent, error: Exception) -> None:
        metrics.DEAD_LETTERS.labels("processor").inc()
        record = dead_letter_record(event, error)
        log.warning("processor: dead-lettered a ticks record: %s", record.error,
                    extra={"topic": record.source_topic, "partition": record.partition, "offset": record.offset})
        sent = await self.dlq.send(key=event.message.topic, value=codec.encode_record(record))
        self._faust_sends.append(cast("asyncio.Future[object]", sent))

    async def send_signal(self, game_id: str, signal: Signal) -> None:
        # Through librdkafka (core.kafka's producer, keyed by game_id, murmur2 like every producer of this project),
        # not Faust's aiokafka producer: aiokafka's sender is a task on this loop, so a signal left only once the
        # agent's batch was done and the loop came round to it (signal to executor p50 2.1 ms, p99 19 ms at 1,000
        # ticks/s), while librdkafka's own thread sends at once. Delivery reports are served on this loop only
        # (after each batch, and in _flush), so the bookkeeping below needs no lock.
        producer = self._signal_producer()
        value = codec.encode_record(signal)
        self._sent += 1
        seq = self._sent
        self._unacked.add(seq)
        try:
            while True:
                try:
                    producer.produce(self.signals_topic, key=game_id.encode(), value=value, on_delivery=partial(self._on_signal_delivered, seq))
                    break
                except BufferError:  # librdkafka's local queue is full (the broker is away): serve reports until there is room
                    producer.poll(0)
                    await asyncio.sleep(0.01)
        except BaseException:  # refused at once (e.g. too large): never sent, so no flush waits for it; the agent fails
            self._unacked.discard(seq)
            raise

    def _signal_producer(self) -> Producer:
        if self._signals is None:
            self._signals = make_producer(self.kafka)
        return self._signals

    def _on_signal_delivered(self, seq: int, err: KafkaError | None, msg: Message) -> None:
        self._unacked.discard(seq)
        if err is None:
            return
        # A signal that failed after librdkafka's retries would be lost once its tick's offset is committed: _flush
        # refuses to let the checkpoint go on, and the worker stops, so the ticks are processed again from the last commit.
        log.error("processor: a signal could not be sent (%s); stopping the worker", err)
        if self._send_error is None:
            self._send_error = KafkaException(err)
            crash: Coroutine[object, object, None] = self.app.crash(self._send_error)
            asyncio.ensure_future(crash)

    # -- the checkpoint's steps on Faust ---------------------------------------------------------------------

    async def _flush(self) -> None:
        """Wait until every signal sent so far is delivered (raises if one failed), then until every record given to
        Faust's producer so far (the table's changelog, dead letters) is. Signals sent meanwhile are not waited for:
        they belong to later states."""
        if self._signals is not None:
            upto, wait = self._sent, Backoff(0.001, 0.05)
            while True:
                self._signals.poll(0)
                if self._send_error is not None:
                    raise RuntimeError(f"a signal could not be sent: {self._send_error}")
                if not self._unacked or min(self._unacked) > upto:
                    break
                await asyncio.sleep(wait.next_delay())  # a broker away: librdkafka retries until message.timeout.ms, then reports it
        await self.app.producer.flush()
        await self._faust_delivered()

    async def _faust_delivered(self) -> None:
        """Wait until every record given to Faust's producer so far is delivered; raise if one failed or is still out
        after the request timeout (the checkpoint then commits no offset: the ticks are processed again).

        Faust's `producer.flush()` alone is not that: its buffer's flush gives up when no record left the buffer within
        0.1 s and returns with records still in it (faust/transport/producer.py `ProducerBuffer.flush_atmost`,
        faust-streaming 0.15.3), and it ignores failed deliveries. Under rebalances the worker's flush returned with 1-12
        states still in the buffer (`arb bench chaos --scenario processor-rebalance`); the offsets committed
        after it then ran ahead of the changelog, and a worker that took the partition over recovered books without
        those ticks and never processed them again: lost signals. Each record's future (FutureMessage, resolved
        by Faust when the broker acknowledged it) is the delivery report waited for here."""
        if self._faust_error is not None:
            raise self._faust_error
        sent = list(self._faust_sends)
        if not sent:
            return
        done, pending = await asyncio.wait(sent, timeout=self._request_timeout_s)
        self._faust_sends = [f for f in self._faust_sends if not f.done()]
        failed = next((f.exception() for f in done if not f.cancelled() and f.exception() is not None), None)
        if pending or failed is not None or any(f.cancelled() for f in done):
            # Lost for good (or the broker away): later offsets must not be committed over it, so the worker stops, as
            # for a signal (_on_signal_delivered); its successor processes the ticks again from the last commit.
            what = f"{len(pending)} not delivered after {self._request_timeout_s:g} s" if pending else repr(failed) if failed else "cancelled"
            error = RuntimeError(f"a table state or dead letter could not be written ({what}); stopping the worker")
            self._faust_error = error  # the states went out of the checkpoint's pending set: no later commit may pass them
            log.error("processor: %s", error)
            crash: Coroutine[object, object, None] = self.app.crash(error)
            asyncio.ensure_future(crash)
            raise error

    def _write_state(self, partition: int, game_id: str, state: GameState) -> None:
        # Into the game's ticks partition of the changelog: that is the changelog partition Faust gives the
        # worker that owns the ticks partition (use_partitioner would hash the JSON key, a different partition
        # than the ticks producer's hash of the raw game_id).
        value = state.to_json()
        self.games.data[game_id] = value
        self._written[game_id] = (value, state)
        self._faust_sends.append(self.games.send_changelog(partition, game_id, value))

    async def _commit_ticks(self, offsets: Mapping[int, int]) -> bool:
        if self._send_error is not None or self._faust_error is not None:
            return False  # something these offsets cover was lost: the worker is stopping, its successor processes them again
        return await self.consumer.commit_owned(offsets)

    # -- timers, tasks and rebalance signals -----------------------------------------------------------------

    async def commit_processed(self) -> None:
        # Faust commits only what its acks allow; a record it dropped leaves a hole there for good.
        if not self.app.rebalancing:
            await self.checkpoint.commit()

    async def on_revoked(self, sender: object, /, *args: object, signal: object, **kwargs: object) -> None:
        await self.checkpoint.commit()

    async def on_assigned(self, sender: object, /, *args: object, signal: object, **kwargs: object) -> None:
        self.guard.assigned(asyncio.get_running_loop().time())
        self.checkpoint.assigned()
        self._written.clear()  # the table is recovered afresh: parse what it holds now

    async def on_ready(self, sender: object, /, *args: object, signal: object, **kwargs: object) -> None:
        # Sent when the tables are recovered, just before Faust resumes the partitions: from here the worker processes.
        owned = self.owned_ticks()
        await self.place(owned)
        log.info("processor: worker ready: ticks partitions %s, %d pairings known", partitions_text(owned), len(self.markets.pairings),
                 extra={"partitions": owned})

    async def place(self, partitions: list[int]) -> None:
        """Tell the delivery guard where each ticks partition resumes (processors/delivery_guard.py `started`). Should the
        broker not answer, the partitions' ticks are refused and the rewind timer asks again."""
        if not partitions:
            return
        # A ticks partition comes with its changelog partition (Faust's assignor co-partitions them), whose records are
        # the books recovered for it. Without it the books were not recovered: its ticks are refused (they would be
        # folded into empty books, and the signals of the ticks before the committed offset lost) until an assignment
        # brings it. LowLatencyConsumerThread.subscribe is what keeps the group leader from leaving it out.
        changelog = self.games.changelog_topic.get_topic_name()
        assigned = self.consumer.assignment()
        unrecovered = [p for p in partitions if TP(changelog, p) not in assigned]
        if unrecovered:
            if self._unrecovered_logged != self.app.consumer_generation_id:
                self._unrecovered_logged = self.app.consumer_generation_id
                log.error("processor: ticks partitions %s came without their changelog partitions (the group leader's metadata "
                          "lacks topic %s): their books were not recovered, so their ticks wait for the next rebalance",
                          partitions_text(unrecovered), changelog)
            partitions = [p for p in partitions if p not in unrecovered]
            if not partitions:
                return
        generation = self.app.consumer_generation_id
        try:
            starts = await asyncio.wait_for(self.consumer.committed_offsets([TP(self.ticks_topic, p) for p in partitions]), self._request_timeout_s)
        except (_KafkaError, _IllegalState, TimeoutError) as exc:
            log.warning("processor: could not read the committed offsets of ticks partitions %s (%r); asking again shortly",
                        partitions_text(partitions), exc)
            return
        if self.app.consumer_generation_id == generation:  # not a newer assignment meanwhile
            self.guard.started({tp.partition: offset for tp, offset in starts.items()})

    async def load_markets(self) -> None:
        try:  # register what the agent writes now, off the loop: encoding then never asks the registry
            await asyncio.to_thread(codec.warm, ("Signal", "DeadLetter"))
        except RegistryUnavailable as exc:
            log.error("processor: schema registry not reachable at start-up (%s); it will be asked on first use", exc)
        await asyncio.to_thread(self.markets.start)
        self.markets_loaded.set()

    async def rewind_dropped(self) -> None:
        # See processors/delivery_guard.py: records Faust fetched and dropped around a rebalance.
        consumer = cast(FaustConsumer, self.app.consumer)
        if self.app.rebalancing or not consumer.flow_active:
            return
        generation = self.app.consumer_generation_id
        try:
            unknown = [p for p in self.owned_ticks() if p not in self.guard.start]  # `place` failed at the rebalance: ask again
            if unknown:
                await self.place(unknown)
            for tp in sorted(consumer.assignment()):
                if tp.topic != self.ticks_topic:
                    continue
                now = asyncio.get_running_loop().time()
                if tp.partition in self.guard.unplaced and tp.partition in self.guard.start:
                    # Ticks refused before it was known where the partition resumes: rewound there.
                    target = await self._start_of(consumer, tp)
                    if target is None:
                        continue
                    log.warning("processor: partition %d had ticks before its committed offset was known; rewinding to it (%d)",
                                tp.partition, target)
                elif (target := self.guard.gap_rewind(tp.partition, now)) is not None:
                    target = await self._past_deleted(consumer, tp, target)
                    log.warning("processor: partition %d skipped from tick %d; rewinding to it", tp.partition, target)
                else:
                    position = await consumer.position(tp)
                    if not position:
                        continue  # nothing fetched yet
                    expected = self.guard.expected(tp.partition)
                    # Processed, not fetched: records fetched and waiting in Faust's buffers are lag too.
                    metrics.set_lag(tp.topic, tp.partition, consumer.highwater(tp), expected if expected is not None else position)
                    if expected is None:  # nothing arrived since the assignment: the agent needs the start next
                        expected = await self._start_of(consumer, tp)  # None while not known (asked again above)
                    if expected is None or not self.guard.stalled(tp.partition, position, expected, now):
                        continue
                    log.warning("processor: ticks %d..%d of partition %d were fetched but never processed; rewinding to %d",
                                expected, position - 1, tp.partition, expected)
                    target = await self._past_deleted(consumer, tp, expected)
                if self.app.rebalancing or self.app.consumer_generation_id != generation:
                    return  # a target of the assignment before: the new one starts afresh
                metrics.TICKS_REWINDS.inc()
                await consumer.seek_wait({tp: target})
                self.guard.rewound(tp.partition, target, now)
        except _IllegalState:
            return  # the partition was revoked meanwhile; the next assignment starts afresh
        except (_KafkaError, TimeoutError) as exc:  # a lookup the broker did not answer: the timer asks again next time
            log.warning("processor: rewind check failed (%r); trying again shortly", exc)

    async def _past_deleted(self, consumer: FaustConsumer, tp: TP, target: int) -> int:
        """`target`, or the partition's log start if the broker deleted the ticks from `target` on (retention): asked only
        when the partition was rewound to `target` before and it is still missing."""
        if not self.guard.rewound_to(tp.partition, target):
            return target
        kept_from = (await consumer.earliest_offsets(tp)).get(tp)
        if kept_from is None or kept_from <= target:
            return target
        log.error("processor: ticks %d..%d of partition %d were deleted by the broker (retention) before they were processed; going "
                  "on from %d", target, kept_from - 1, tp.partition, kept_from)
        return kept_from

    async def _start_of(self, consumer: FaustConsumer, tp: TP) -> int | None:
        """Where the partition resumes in this assignment: its committed offset, its log start when the group has none
        (asked here, off the start-up path: see LowLatencyConsumer.committed_offsets), None while not known."""
        if tp.partition not in self.guard.start:
            return None
        start = self.guard.start[tp.partition]
        return start if start is not None else (await consumer.earliest_offsets(tp)).get(tp)

    # -- status ----------------------------------------------------------------------------------------------

    def owned_ticks(self) -> list[int]:
        return sorted(tp.partition for tp in self.app.consumer.assignment() if tp.topic == self.ticks_topic)

    def status(self) -> dict[str, object]:
        owned = self.owned_ticks()
        lag = sum(metric_total(metrics.CONSUMER_LAG, topic=self.ticks_topic, partition=str(p)) for p in owned)
        state = "rebalancing" if self.app.rebalancing else "processing" if owned else "idle (no partitions)"
        return {"state": state, "partitions": partitions_text(owned), "ticks_in": metric_total(metrics.TICKS_CONSUMED),
                "signals_out": metric_total(metrics.SIGNALS), "dead_letters": metric_total(metrics.DEAD_LETTERS, role="processor"),
                "lag": lag, "pairings": len(self.markets.pairings)}

    async def log_status(self) -> None:
        self.status_line.log_now()
