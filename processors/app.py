"""The Faust app: `arb process`, or equally `faust -A processors.app worker`.

One agent consumes `ticks` (keyed by game_id, so every update of a game reaches one worker in order),
keeps each game's latest books in a changelog-backed table (a worker that takes over a partition
recovers them), reads every MarketPairing from `markets` with a plain consumer, runs the detector on
every tick and sends Signals keyed by game_id to `signals`. Processing is at-least-once: after a crash
some ticks are reprocessed and yield the same signal_ids, which the executor deduplicates.

A `ticks` record the agent cannot read (a key that is not UTF-8, a value that does not decode, a schema
registry that cannot answer) goes to the dead-letter topic with its bytes (`triage`); the agent goes on.
Keys reach the agent as raw bytes: Faust's own key decoding raised KeyDecodeError into the agent.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any, cast

import faust
from aiokafka.errors import IllegalStateError
from faust.transport.consumer import Consumer as FaustConsumer
from faust.types import TP

from core import codec, metrics
from core.config import load
from core.dlq import dead_letter, decode_key
from core.markets_cache import MarketsCache
from core.progress import StatusLine, metric_total, partitions_text, status_interval_s
from core.registry import RegistryUnavailable
from core.settings import KafkaSettings
from core.topics import topic_name
from processors import low_latency
from processors.batching import available_batches
from processors.delivery_guard import DeliveryGuard
from processors.detector import Detector
from processors.faust_auth import faust_credentials
from processors.faust_codec import Undecodable, register_codecs, resolve
from processors.faust_settings import WorkerSettings
from processors.quiet_worker import LeanMonitor
from processors.settings import DetectorSettings

log = logging.getLogger(__name__)


async def triage(event: Any) -> tuple[dict[str, Any] | None, Exception | None]:
    """(the Tick, None) for a record the agent can process, else (None, why it goes to the dead-letter topic)."""
    key = event.message.key
    if key is not None:
        try:
            decode_key(key)
        except codec.DecodeError as exc:
            return None, exc
    value = await resolve(event.value)  # a registry lookup, if one is needed, runs in a thread
    if isinstance(value, Undecodable):
        return None, value.error
    if not isinstance(value, dict):
        return None, codec.DecodeError("corrupt", f"not a Tick: {type(value).__name__}")
    return value, None


def dead_letter_record(event: Any, error: Exception) -> dict[str, Any]:
    """The DeadLetter of a `ticks` record, with its original key and value bytes."""
    msg = event.message
    value = event.value
    raw = value.data if isinstance(value, Undecodable) else msg.value
    return dead_letter(msg.topic, msg.partition, msg.offset, msg.key, raw, error, "processor")


def create_app(kafka: KafkaSettings | None = None, worker: WorkerSettings | None = None) -> faust.App:
    kafka = kafka or load(KafkaSettings)
    codec.configure(kafka.schema_registry_url, kafka.schema_registry_user_info())
    worker = worker or load(WorkerSettings)
    register_codecs()
    low_latency.LowLatencyTransport.fetch_wait_ms = worker.fetch_wait_ms
    app = faust.App(
        f"{kafka.topic_prefix}{worker.app_id}",
        broker=[f"kafka://{h.strip()}" for h in kafka.bootstrap.split(",")],
        broker_credentials=faust_credentials(kafka),
        topic_replication_factor=kafka.replication,  # of the table changelog Faust creates
        store=worker.store,
        datadir=worker.datadir,
        topic_partitions=kafka.partitions,
        broker_session_timeout=worker.session_timeout_s,
        consumer_group_instance_id=worker.instance_id.replace("{hostname}", socket.gethostname()) or None,
        broker_request_timeout=worker.request_timeout_s,
        broker_heartbeat_interval=worker.heartbeat_s,
        broker_max_poll_interval=worker.max_poll_interval_s,
        broker_max_poll_records=worker.max_poll_records,
        broker_commit_interval=worker.commit_interval_s,
        producer_linger=worker.linger_ms / 1000.0,
        consumer_auto_offset_reset="earliest",
        web_enabled=worker.web_port > 0,
        web_port=worker.web_port or 6066,
        # After a crash the ticks since the last commit are processed again and yield the same signal_ids
        # (deterministic), which the executor deduplicates: at-least-once loses nothing there.
        processing_guarantee="at_least_once",
        recovery_consistency_check=worker.recovery_consistency_check,
        Worker="processors.quiet_worker:QuietWorker",
        TableManager="processors.table_manager:PromptTableManager",
        monitor=LeanMonitor(),
    )
    app._new_transport = lambda: low_latency.LowLatencyTransport(app.conf.broker_consumer, app)  # type: ignore[method-assign]
    app._new_producer_transport = lambda: low_latency.LowLatencyTransport(app.conf.broker_producer, app)  # type: ignore[method-assign]

    # Our topics come from `arb topics create` (registry settings); Faust declares only its internal ones
    # (the table changelog, with the table's partition count, before anything can auto-create it).
    # Keys as raw bytes (checked by `triage`): with key_type=str a key that is not UTF-8 made Faust throw
    # KeyDecodeError into the agent.
    ticks = app.topic(topic_name("ticks", kafka), key_type=bytes, key_serializer="raw", value_serializer="arb-tick", internal=False)
    dlq = app.topic(topic_name("dlq", kafka), key_type=str, value_serializer="raw", internal=False)
    # No value_type: with value_type=dict Faust calls `dict.from_data` on every changelog record in recovery
    # and a worker taking over a partition silently starts from empty books. Values are plain JSON.
    # State is written before each commit, outside any one event, into an explicit changelog partition
    # (see flush_states). The agent reads and writes `games.data` directly, yet without default=dict the
    # takeover test failed (a survivor missed a signal): kept, reason not found.
    games = app.Table("games", default=dict, partitions=kafka.partitions, key_type=str)
    markets = MarketsCache(kafka)
    processor = Detector(load(DetectorSettings), markets.get)

    markets_loaded = asyncio.Event()
    # Each game's newest state, not yet written to the table, with the ticks partition it belongs to.
    # Writing it (one changelog record) after every batch cost ~15% of a busy worker; it is written
    # before every offset commit instead, and when partitions are revoked (the next owner recovers it).
    # Reads look here first.
    # A state is {"books": {market: Tick}, "offset": offset of the last tick folded in, "memo": the
    # detector's hysteresis for the game after that tick}. The changelog is
    # never behind the committed offsets, but it can be ahead of them: after a crash the ticks between
    # are consumed again, and those at or below a state's offset are skipped (folding them again would
    # pair an old book with newer ones). Their signals were sent: the producer is flushed (signals
    # delivered) before states are written.
    pending: dict[str, tuple[int, dict[str, Any]]] = {}

    async def flush_states() -> bool:
        """Write the pending states (after delivering their signals); whether there were any."""
        if not pending:
            return False
        # Only the states whose signals the flush below delivers: the agent goes on while it waits,
        # and a state written ahead of its signals would make a restarted worker skip their ticks.
        snapshot = list(pending.items())
        await app.producer.flush()
        for game_id, entry in snapshot:
            partition, state = entry
            # Into the game's ticks partition of the changelog: that is the changelog partition Faust
            # gives the worker that owns the ticks partition (use_partitioner would hash the JSON key,
            # a different partition than the ticks producer's hash of the raw game_id).
            games.data[game_id] = state
            games.send_changelog(partition, game_id, state)
            if pending.get(game_id) is entry:
                del pending[game_id]
        return True

    # The offsets of `ticks` are committed here, not by Faust (see processors/delivery_guard.py): per
    # partition, up to the tick after the last one the agent processed, once the states holding those
    # ticks are written (and, before them, their signals delivered). Updated with `pending`, at the end
    # of each batch.
    processed_to: dict[int, int] = {}
    committed_to: dict[int, int] = {}
    ticks_name = ticks.get_topic_name()

    async def commit_ticks() -> None:
        marks = {p: o for p, o in processed_to.items() if o > committed_to.get(p, -1)}
        if await flush_states():
            await app.producer.flush()
        if marks and await cast(low_latency.LowLatencyConsumer, app.consumer).commit_owned({TP(ticks_name, p): o for p, o in marks.items()}):
            for p, o in marks.items():
                committed_to[p] = max(committed_to.get(p, -1), o)

    app.arb_before_commit = commit_ticks  # type: ignore[attr-defined]  # awaited by LowLatencyConsumer
    app.arb_owned_commit_topic = ticks_name  # type: ignore[attr-defined]  # Faust's commits leave it out

    @app.timer(interval=worker.commit_interval_s)
    async def commit_processed() -> None:
        # Faust commits only what its acks allow; a record it dropped leaves a hole there for good.
        if not app.rebalancing:
            await commit_ticks()

    async def on_revoked(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        await commit_ticks()

    guard = DeliveryGuard(worker.stall_s)

    async def on_assigned(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        guard.assigned(asyncio.get_running_loop().time())
        processed_to.clear()
        committed_to.clear()

    app.on_partitions_assigned.connect(on_assigned)
    app.on_partitions_revoked.connect(on_revoked)
    signals_topic = topic_name("signals", kafka)

    def on_signal_sent(fut: asyncio.Future[Any]) -> None:
        # A send that failed after aiokafka's retries would otherwise be lost silently once the tick's
        # offset is committed: stop the worker instead, so the ticks are processed again from the last
        # commit (Faust flushes the producer before every commit).
        if not fut.cancelled() and fut.exception() is not None:
            log.error("processor: a signal could not be sent (%r); stopping the worker", fut.exception())
            asyncio.ensure_future(app.crash(fut.exception() or RuntimeError("signal send failed")))

    async def send_signal(game_id: str, signal: dict[str, Any]) -> None:
        # Straight to the producer with our own encoding: Faust's Topic.send path (FutureMessage, the
        # serializer registry, the producer buffer task) cost ~20% of a busy worker (py-spy). aiokafka
        # partitions by the key (murmur2, like every producer of this project).
        fut = await app.producer.send(signals_topic, game_id.encode(), codec.encode("Signal", signal), None, None, None)
        cast(asyncio.Future, fut).add_done_callback(on_signal_sent)

    @app.timer(interval=min(max(worker.stall_s / 2, 0.1), 0.5))
    async def rewind_dropped() -> None:
        # See processors/delivery_guard.py: records Faust fetched and dropped around a rebalance.
        consumer = cast(FaustConsumer, app.consumer)
        if app.rebalancing or not consumer.flow_active:
            return
        try:
            for tp in sorted(consumer.assignment()):
                if tp.topic != ticks_name:
                    continue
                now = asyncio.get_running_loop().time()
                target = guard.gap_rewind(tp.partition, now)
                if target is not None:
                    log.warning("processor: partition %d skipped from tick %d; rewinding to it", tp.partition, target)
                else:
                    position = await consumer.position(tp)
                    if not position:
                        continue  # nothing fetched yet
                    expected = guard.expected(tp.partition)
                    # Processed, not fetched: records fetched and waiting in Faust's buffers are lag too.
                    metrics.set_lag(tp.topic, tp.partition, consumer.highwater(tp), expected if expected is not None else position)
                    if expected is None:
                        # Nothing arrived since the assignment: the agent needs the committed offset
                        # next (Faust's record of it, the position it seeked to), else the first one.
                        committed = consumer._committed_offset.get(tp)
                        expected = committed if committed is not None else (await consumer.earliest_offsets(tp)).get(tp)
                    if expected is None or not guard.stalled(tp.partition, position, expected, now):
                        continue
                    log.warning("processor: ticks %d..%d of partition %d were fetched but never processed; rewinding to %d",
                                expected, position - 1, tp.partition, expected)
                    target = expected
                if app.rebalancing:
                    return
                metrics.TICKS_REWINDS.inc()
                await consumer.seek_wait({tp: target})
                guard.rewound(tp.partition, target, now)
        except IllegalStateError:
            return  # the partition was revoked meanwhile; the next assignment starts afresh

    @app.task
    async def load_markets() -> None:
        try:  # register what the agent writes now, off the loop: encoding then never asks the registry
            await asyncio.to_thread(codec.warm, ("Signal", "DeadLetter"))
        except RegistryUnavailable as exc:
            log.error("processor: schema registry not reachable at start-up (%s); it will be asked on first use", exc)
        await asyncio.to_thread(markets.start)
        markets_loaded.set()

    @app.agent(ticks)
    async def detect(stream: Any) -> None:
        # No tick is evaluated before the existing pairings are loaded: a tick of a game whose pairing
        # is not known yet would be folded into the table without being evaluated.
        await markets_loaded.wait()
        # Batches of what is already queued (up to `batch_max`): a lone tick is processed at once.
        async for batch in available_batches(stream, worker.batch_max):
            now = asyncio.get_running_loop().time()
            committed = cast(FaustConsumer, app.consumer)._committed_offset
            batch = [e for e in batch if guard.accept(e.message.partition, e.message.offset, now, committed.get(e.message.tp))]
            states: dict[str, tuple[int, dict[str, Any]]] = {}
            for event in batch:
                metrics.TICKS_CONSUMED.inc()
                tick, problem = await triage(event)
                if tick is None:
                    metrics.DEAD_LETTERS.labels("processor").inc()
                    record = dead_letter_record(event, problem or codec.DecodeError("corrupt", "unreadable"))
                    log.warning("processor: dead-lettered a ticks record: %s", record["error"],
                                extra={"topic": record["source_topic"], "partition": record["partition"], "offset": record["offset"]})
                    await dlq.send(key=event.message.topic, value=codec.encode("DeadLetter", record))
                    continue
                game_id = tick["game_id"]
                # The table holds each game's latest Tick per market (changelog-backed: a worker taking
                # over the partition recovers it); the detector folds the tick in and evaluates the game.
                if game_id in states:
                    prior = states[game_id][1]
                elif game_id in pending:
                    prior = pending[game_id][1]
                else:
                    prior = games.data.get(game_id) or {}
                    # The table's state may come from another worker, or from before a crash: decide
                    # on with the hysteresis that went with it.
                    processor.restore(game_id, prior.get("memo"))
                offset = event.message.offset
                if offset <= prior.get("offset", -1):
                    metrics.TICKS_REPLAYED.inc()
                    continue  # already folded in before a crash (see pending)
                books, out = processor.on_tick(prior.get("books", {}), tick)
                states[game_id] = (event.message.partition, {"books": books, "offset": offset})
                for signal in out:
                    await send_signal(game_id, signal)
                    metrics.SIGNALS.inc()
                    metrics.observe(metrics.TICK_TO_SIGNAL, signal["detected_ts"], signal["event_ts"])
            for game_id, (_, state) in states.items():
                state["memo"] = processor.memory(game_id)
            pending.update(states)
            for event in batch:
                msg = event.message
                if msg.offset >= processed_to.get(msg.partition, -1):
                    processed_to[msg.partition] = msg.offset + 1

    def owned_ticks() -> list[int]:
        return sorted(tp.partition for tp in cast(FaustConsumer, app.consumer).assignment() if tp.topic == ticks_name)

    async def on_ready(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        # Sent when the tables are recovered, just before Faust resumes fetching: from here the worker processes.
        log.info("processor: worker ready: ticks partitions %s, %d pairings known", partitions_text(owned_ticks()), len(markets.pairings),
                 extra={"partitions": owned_ticks()})

    app.on_rebalance_complete.connect(on_ready)

    def status() -> dict[str, Any]:
        owned = owned_ticks()
        lag = sum(metric_total(metrics.CONSUMER_LAG, topic=ticks_name, partition=str(p)) for p in owned)
        state = "rebalancing" if app.rebalancing else "processing" if owned else "idle (no partitions)"
        return {"state": state, "partitions": partitions_text(owned), "ticks_in": metric_total(metrics.TICKS_CONSUMED),
                "signals_out": metric_total(metrics.SIGNALS), "dead_letters": metric_total(metrics.DEAD_LETTERS, role="processor"),
                "lag": lag, "pairings": len(markets.pairings)}

    status_line = StatusLine("process", status_interval_s(), status, rates=("ticks_in", "signals_out"))
    if status_line.interval_s > 0:
        @app.timer(interval=status_line.interval_s)
        async def log_status() -> None:
            status_line.log_now()

    app.conf.arb_markets = markets  # for tests and status
    return app


app = create_app()
