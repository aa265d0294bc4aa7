"""The worker's Kafka transport: Faust's aiokafka driver with a short fetch wait, and the `ticks` offsets committed
by the worker's checkpoint (processors/checkpoint.py) instead of by Faust.

Faust's public API has no place for either, so this module overrides private methods of Faust and sets private
members of aiokafka. Both libraries are pinned in pyproject.toml, and tests/unit/test_library_patches.py fails when
the code patched here changes upstream.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Container, Coroutine, Iterable, Mapping
from types import CodeType, CoroutineType
from typing import TYPE_CHECKING, ClassVar, Protocol, cast

import aiokafka
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, AppT
from faust.types.transports import ConsumerT
from mode.services import WaitResults
from mode.utils.types.trees import NodeT
from yarl import URL

from core.backoff import Backoff
from processors.faust_meta import ServiceMeta
from processors.resumed import Resumed

log = logging.getLogger(__name__)

# aiokafka ships no type hints: the private members patched here, typed.
Plan = tuple[object, object, float, object, object]  # Fetcher._get_actions_per_node: (requests, resets, timeout, ...)


class _TunedConsumer(Protocol):  # aiokafka.AIOKafkaConsumer
    _fetch_max_wait_ms: int
    _retry_backoff_ms: int

    @property
    def _fetcher(self) -> _Fetcher: ...


class _Fetcher(Protocol):  # aiokafka.consumer.fetcher.Fetcher
    _prefetch_backoff: float
    _fetch_max_wait_ms: int  # of the next fetch request it builds
    _records: Mapping[object, object]  # partition -> records fetched and not yet taken by the app
    _in_flight: set[int]  # nodes with a fetch in flight
    _pending_tasks: set[asyncio.Task[object]]
    _get_actions_per_node: Callable[[object], Plan]


class _PartitionState(Protocol):  # aiokafka.consumer.subscription_state.TopicPartitionState
    @property
    def paused(self) -> bool: ...

    @property
    def has_valid_position(self) -> bool: ...


class _Assignment(Protocol):  # aiokafka.consumer.subscription_state.Assignment
    @property
    def tps(self) -> frozenset[object]: ...

    def state_value(self, tp: object) -> _PartitionState: ...


class LowLatencyConsumerThread(faust_aiokafka.AIOKafkaConsumerThread, metaclass=ServiceMeta):
    """Faust's consumer "thread", run as a service on the worker's own event loop instead of a thread of its own.

    Why (`arb bench process`, one broker, three runs each, alternating, 2026-12-07): in its thread, every fetch crossed
    two event loops (the agent's `getmany` call queued to the thread's loop, the records handed back), and the two
    threads took turns at the interpreter lock; the tick -> signal hop was p50 2.0 ms, p99 10–12 ms, the burst rate
    7,800–8,600 ticks/s. On the one loop: p50 1.6–1.9 ms, p99 6.4 ms (one run 37), burst 8,100–9,500. Faust put the
    consumer in a thread so that an agent blocking its loop (`time.sleep`) would not miss heartbeats; this worker's
    agent never blocks (decoding that may wait for a registry runs in a worker thread: processors/faust_codec.py).
    Created with `thread_loop` = the worker's loop (`LowLatencyConsumer._new_consumer_thread`), so the aiokafka
    consumer, its fetcher and its heartbeat run there; `start` runs mode's `_serve` as a task where mode starts a
    thread, and calls meant for the thread are awaited directly."""

    async def start(self) -> None:  # mode's ServiceThread.start, with a task for the thread
        self._thread_started.set()
        running: asyncio.Future[None] = self.parent_loop.create_future()
        self._thread_running = running  # _serve sets it once the consumer started
        serving = self.parent_loop.create_task(self._serve(), name="faust-consumer")
        serving.add_done_callback(self._served)
        self._serving = serving  # referenced: the loop keeps only weak references to tasks
        try:
            await asyncio.wait((running, serving), return_when=asyncio.FIRST_COMPLETED)
            if not running.done():  # _serve ended before the consumer started (mode's crash() would have set it)
                running.cancel()
                serving.result()  # its exception, if any
                raise RuntimeError("Faust's consumer stopped before it started")
            await running
        finally:
            self._thread_running = None

    def _served(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self.set_shutdown()  # as mode's thread does when _serve raises (it has crashed the app already)

    async def _gather_remaining_tasks(self) -> None:
        # mode cancels every task left on the thread's loop when the thread ends: here that loop is the worker's.
        return None

    async def call_thread(self, fun: Callable[..., object], *args: object, **kwargs: object) -> object:
        # Already on the consumer's loop: no queue, no hand-back. Some calls are plain functions (subscribe).
        result = fun(*args, **kwargs)
        return await cast(Awaitable[object], result) if isinstance(result, Awaitable) else result

    async def subscribe(self, topics: Iterable[str]) -> None:
        """Faust's subscribe, once the broker answers a metadata request for each topic with all its partitions led.

        Faust creates its internal topics (the table's changelog) just before it subscribes, and the group leader
        assigns partitions from the metadata its consumer fetched when it subscribed: a topic missing there is left out
        of every assignment ("Ignoring missing topic", faust/assignor/partition_assignor.py) until that consumer's
        metadata is next refreshed (`consumer_metadata_max_age_ms`, 5 minutes). Seen on a loaded machine: the broker
        still answered "unknown topic" for the changelog 1.1 s after creating it, so the first worker handed partitions
        to the second without their changelog partitions; that worker's books were not recovered, and the signals of
        the ticks before its committed offsets were lost (processor-rebalance). The check is a request for those topics
        by name, as the consumer's own is: on Kafka 4.4 a listing of all topics showed a new topic up to tens of ms
        before such a request did."""
        wanted = set(topics)
        transport = cast(LowLatencyTransport, self.transport)
        timeout_s = float(self.app.conf.broker_request_timeout)
        loop = asyncio.get_running_loop()
        began = loop.time()
        wait = Backoff(0.01, 0.5)
        missing = wanted - await transport.ready_topics(wanted)
        waited_for = sorted(missing)
        while missing and loop.time() - began < timeout_s:
            await asyncio.sleep(wait.next_delay())
            missing -= await transport.ready_topics(missing)
        if missing:
            log.warning("processor: topics %s are not in the broker's metadata after %g s; subscribing anyway (their partitions are "
                        "assigned once a group leader sees them)", sorted(missing), timeout_s)
        elif waited_for:
            log.info("processor: waited %.2f s for topics %s to be in the broker's metadata before subscribing", loop.time() - began, waited_for)
        await super().subscribe(wanted)

    async def committed(self, partitions: Collection[TP]) -> dict[TP, int | None]:
        """The group's committed offset of each partition (None: none), asked of the broker (aiokafka's public
        `committed`, concurrently: one round trip each)."""
        consumer = cast(_Committing, self._ensure_consumer())
        tps = list(partitions)
        return dict(zip(tps, await asyncio.gather(*(consumer.committed(tp) for tp in tps)), strict=True))

    def _create_worker_consumer(self, transport: faust_aiokafka.Transport) -> aiokafka.AIOKafkaConsumer:
        consumer: _TunedConsumer = super()._create_worker_consumer(transport)
        # Why (measured on Kafka, README "Where the time goes"): Faust hard-codes fetch_max_wait_ms=1500 and aiokafka
        # backs off 100 ms (not configurable) after an empty fetch and before re-fetching a partition whose records
        # are still buffered; each showed up as ~100 ms stalls of the tick -> signal hop. Set before start() builds the
        # Fetcher from them (its prefetch back-off in on_start below).
        consumer._fetch_max_wait_ms = cast(LowLatencyTransport, transport).fetch_wait_ms
        consumer._retry_backoff_ms = cast(LowLatencyTransport, transport).fetch_wait_ms
        return consumer

    async def on_start(self) -> None:
        await super().on_start()  # creates the consumer (above) and starts it: its Fetcher exists from here
        consumer: _TunedConsumer = self._ensure_consumer()
        fetcher = consumer._fetcher
        transport = cast(LowLatencyTransport, self.transport)
        fetcher._prefetch_backoff = transport.fetch_wait_ms / 1000
        app_consumer = cast(_Reading, self.consumer)
        _plan_fetch_rounds(fetcher, transport.fetch_wait_ms, transport.full_fetch_wait_ms, lambda: app_consumer._active_partitions)


class _Committing(Protocol):  # aiokafka.AIOKafkaConsumer
    async def committed(self, partition: TP) -> int | None: ...


class _Reading(Protocol):  # faust.transport.consumer.Consumer
    _active_partitions: Container[object] | None  # the partitions the app takes records of (None: all assigned)


def _plan_fetch_rounds(fetcher: _Fetcher, short_wait_ms: int, full_wait_ms: int, reading: Callable[[], Container[object] | None]) -> None:
    """Two changes to how aiokafka's fetch routine plans a round (`_get_actions_per_node`).

    The fetch wait: a fetch returns as soon as a record arrives for any partition in it, so its wait matters only
    for the partitions left out of it: those whose fetched records the app has not taken yet, paused ones, and
    ones without a position. A record for one of those waits until the fetch in flight comes back. So a round
    that leaves out a partition the app reads (`reading()`: Faust's active partitions, the ticks in steady state,
    the changelog in recovery) waits `short_wait_ms` (ARB_FETCH_WAIT_MS), and one that asks for all of them
    `full_wait_ms` (ARB_COLD_FETCH_WAIT_MS): an idle worker fetches a few times a second instead of ~400, CPU of
    its own and the broker's that the hot path needs (docs/performance.md "Where the time goes"). Partitions
    Faust paused (its pause only stops taking their records, so aiokafka keeps the ones it fetched: the table's
    changelog after recovery) are not read and do not count.

    A race in the routine that stalled it for `fetcher_timeout` (200 ms): a fetch task clears its node from
    `_in_flight` in a done-callback. When the routine is woken by something else (the app consumed records) in
    the same loop step in which the fetch finishes, it drops the task from its pending set and plans the next
    round before that callback has run: the node still looks busy, so nothing is fetched from it, and with no
    task left to wait for the routine sleeps the full `fetcher_timeout`. Seen: ~200 ms sleeps after a round that
    planned no fetch while every ticks partition was empty, unpaused and had no fetch pending. At 1,000 ticks/s
    that was the end-to-end p99 of ~250 ms (85 ms with this). Planning a round with fewer live tasks than busy
    nodes now waits one loop step, for the callback, and plans again."""
    plan = fetcher._get_actions_per_node

    def plan_round(assignment: object) -> Plan:
        fetcher._fetch_max_wait_ms = short_wait_ms if _leaves_out_a_partition(fetcher, assignment, reading()) else full_wait_ms
        requests, resets, timeout, invalid_metadata, resume_futures = plan(assignment)
        live = sum(1 for task in fetcher._pending_tasks if not task.done())
        if len(fetcher._in_flight) > live:
            timeout = 0
        return requests, resets, timeout, invalid_metadata, resume_futures

    fetcher._get_actions_per_node = plan_round


def _leaves_out_a_partition(fetcher: _Fetcher, assignment: object, reading: Container[object] | None) -> bool:
    """Whether a fetch planned now would leave out a partition the app reads (see _plan_fetch_rounds). `reading` is
    only tested for membership, never iterated: Faust changes it while the fetcher's task waits."""
    if assignment is None:
        return True
    tracked = cast(_Assignment, assignment)
    buffered = fetcher._records
    for tp in tracked.tps:
        if reading is not None and tp not in reading:
            continue
        if tp in buffered:
            return True
        state = tracked.state_value(tp)
        if state.paused or not state.has_valid_position:
            return True
    return False


class _Flag(Protocol):
    def is_set(self) -> bool: ...


class _Callback(Protocol):
    @property
    def __code__(self) -> CodeType: ...


class _Backlog(Protocol):
    @property
    def backlogged(self) -> Callable[[], bool]: ...


class _Delivering(Protocol):  # what _wait_first reads of the consumer (a mode.Service)
    @property
    def callback(self) -> _Callback: ...

    @property
    def transport(self) -> _Backlog: ...

    @property
    def _stopped(self) -> _Flag: ...

    @property
    def _crashed(self) -> _Flag: ...


# mode's own, typed for this module (mode types them with Any)
class _WaitFirst(Protocol):
    def __call__(self, service: _Delivering, /, *coros: object, timeout: object = None) -> Awaitable[object]: ...


if TYPE_CHECKING:
    _service_wait_first: _WaitFirst
else:
    _service_wait_first = faust_aiokafka.Consumer.wait_first  # mode.Service's
_wait_results = cast(Callable[[list[object], list[object], bool], object], WaitResults)


def _close(waitable: object) -> None:
    if isinstance(waitable, Coroutine):
        waitable.close()  # never started: closed, so that Python does not warn it was never awaited


async def _wait_first(self: _Delivering, *coros: object, timeout: object = None) -> object:  # noqa: ASYNC109 - Service's signature
    """Service.wait_first, with the record handed to the callback (see LowLatencyConsumer) run by hand first."""
    delivery = coros[0] if len(coros) == 2 and timeout is None else None
    code = cast("CodeType | None", getattr(self.callback, "__code__", None))  # none (a partial): Faust's own wait_first
    if isinstance(delivery, CoroutineType) and code is not None and delivery.cr_code is code:
        suspended = coros[1]
        try:
            pending = delivery.send(None)
        except StopIteration:
            _close(suspended)
            if self.transport.backlogged():
                # The stream has enough queued: let it take some before the next record. Unthrottled, a burst filled
                # the stream's buffer to Faust's high-pressure mark, which pauses every partition, and with every
                # partition paused Faust's fetcher sleeps a whole second (Consumer._wait_next_records).
                await asyncio.sleep(0)
            if self._stopped.is_set() or self._crashed.is_set():
                return _wait_results([], [], True)
            return _wait_results([delivery], [None], False)
        except BaseException:
            _close(suspended)
            raise
        return await _service_wait_first(self, Resumed(delivery, pending), suspended)
    return await _service_wait_first(self, *coros, timeout=timeout)


class LowLatencyConsumer(faust_aiokafka.Consumer, metaclass=ServiceMeta):
    """Faust's consumer, whose commits of the transport's `owned_topic` are the checkpoint's: Faust commits what
    its acks allow, and a record it dropped around a rebalance leaves a hole there for good
    (processors/delivery_guard.py).

    Faust's fetcher (`Consumer._drain_messages`) hands every record to the app's callback (decode, flow control,
    into the stream's queue) with `wait_first(callback(message), suspend_flow.wait())`: four tasks created, raced
    and three cancelled per record, ~28 µs of CPU each and several event-loop steps between two records, a large
    part of a busy worker's CPU. `wait_first` here runs the callback by hand first: a record it delivers without
    waiting for anything (nearly all) costs no task at all; one that has to wait (flow control during a
    rebalance, a full producer buffer or stream queue) is raced from where it stopped, as Faust does. Typed
    apart (`_wait_first`): mode types `wait_first` with Any."""

    if not TYPE_CHECKING:
        wait_first = _wait_first

    def _new_consumer_thread(self) -> LowLatencyConsumerThread:
        beacon: NodeT[object] = self.beacon  # mode types it NodeT[Any]
        return LowLatencyConsumerThread(self, loop=self.loop, thread_loop=self.loop, beacon=beacon)  # one loop: see the class

    async def _commit_offsets(self, offsets: Mapping[TP, int], start_new_transaction: bool = True) -> bool:
        # Whenever Faust commits (on its interval, on revocation, at shutdown), the checkpoint commits too.
        await cast(LowLatencyTransport, self.transport).before_commit()
        return bool(await super()._commit_offsets(offsets, start_new_transaction=start_new_transaction))

    async def _commit(self, offsets: Mapping[TP, int]) -> bool:
        # Faust goes on committing every other topic, and its bookkeeping as if it had committed this one too.
        owned = cast(LowLatencyTransport, self.transport).owned_topic
        rest = {tp: offset for tp, offset in offsets.items() if tp.topic != owned}
        return True if not rest else bool(await super()._commit(rest))

    async def committed_offsets(self, partitions: Collection[TP]) -> dict[TP, int | None]:
        """The group's committed offset of each partition (None: none), asked of the broker's group coordinator. Not
        the log start of those without one: that request waits behind the fetch in flight on the partition leader's
        connection (measured: ~250 ms at every restart of a worker, the cold fetch wait)."""
        return await cast(LowLatencyConsumerThread, self._thread).committed(partitions)

    async def commit_owned(self, offsets: Mapping[int, int]) -> bool:
        """Commit offsets ({partition: offset}) of the owned topic, once what they depend on is written."""
        owned = cast(LowLatencyTransport, self.transport).owned_topic
        return bool(await super()._commit({TP(owned, p): o for p, o in offsets.items()}))


async def _nothing_to_write() -> None:
    return None


def _never_backlogged() -> bool:
    return False


async def _all_ready(topics: Collection[str]) -> set[str]:
    return set(topics)


class LowLatencyTransport(faust_aiokafka.Transport, metaclass=ServiceMeta):
    """Set as the app's transport (`app.transport = ...`, Faust's public setter) before anything asks for it."""

    Consumer: ClassVar[type[ConsumerT]] = LowLatencyConsumer

    def __init__(self, url: list[URL], app: AppT, *, fetch_wait_ms: int, full_fetch_wait_ms: int, owned_topic: str = "",
                 before_commit: Callable[[], Awaitable[None]] = _nothing_to_write, backlogged: Callable[[], bool] = _never_backlogged,
                 ready_topics: Callable[[Collection[str]], Awaitable[set[str]]] = _all_ready) -> None:
        super().__init__(url, app)
        self.fetch_wait_ms = fetch_wait_ms  # of a fetch that leaves a partition out, and the fetch back-offs
        self.full_fetch_wait_ms = full_fetch_wait_ms  # of one that asks for every partition the app reads
        self.owned_topic = owned_topic  # committed by `before_commit` (via commit_owned), never by Faust
        self.before_commit = before_commit
        self.backlogged = backlogged  # whether the agent's stream has enough queued (the fetcher then yields after each record)
        self.ready_topics = ready_topics  # those of the topics the broker's metadata has, every partition with a leader
