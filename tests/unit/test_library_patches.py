"""The private code of Faust and aiokafka that the processor patches or relies on is the code it was measured with.

processors/low_latency.py overrides private methods of faust-streaming and mode and sets private members of aiokafka;
processors/worker.py relies on when Faust's table recovery sends `on_rebalance_complete`. Both libraries are pinned in pyproject.toml. An
upgrade that changes any function below fails here: re-check what the message names, re-run
`arb bench process --json` (hop p99, burst rate) and `arb bench chaos --scenario processor-kill --json` (0 lost),
then record the new hash.
"""

from __future__ import annotations

import hashlib
import inspect
import re
import tomllib
from collections.abc import Callable
from importlib.metadata import version
from typing import Any

import aiokafka
import pytest
from aiokafka.consumer.fetcher import Fetcher
from aiokafka.consumer.subscription_state import Assignment
from faust.assignor.partition_assignor import PartitionAssignor
from faust.tables.recovery import Recovery
from faust.transport import consumer as faust_consumer
from faust.transport.conductor import Conductor
from faust.transport.drivers import aiokafka as faust_aiokafka
from mode.services import Service
from mode.threads import QueueServiceThread, ServiceThread

from tests.conftest import REPO

FAUST_THREAD = faust_aiokafka.AIOKafkaConsumerThread
FAUST_CONSUMER = faust_aiokafka.Consumer

# (the function, its source's sha256 prefix as measured, what to re-check when it changes)
PATCHED: list[tuple[Callable[..., Any], str, str]] = [
    (FAUST_THREAD._create_worker_consumer, "c2701bfc3e6f6cad",
     "LowLatencyConsumerThread._create_worker_consumer: Faust still builds the AIOKafkaConsumer here, unstarted, with a "
     "hard-coded fetch_max_wait_ms (else set the wait through Faust and drop the override)"),
    (FAUST_THREAD.on_start, "38b4e8bd1e10723a",
     "LowLatencyConsumerThread.on_start: the consumer is created and started there, so its Fetcher exists afterwards"),
    (FAUST_CONSUMER._new_consumer_thread, "0870ec53dea75083",
     "LowLatencyConsumer._new_consumer_thread builds the thread with the same arguments"),
    (FAUST_CONSUMER._commit, "a20eec84e4b2ed50",
     "LowLatencyConsumer._commit / commit_owned: Faust's commit of {TP: offset} still goes straight to the broker"),
    (faust_consumer.Consumer._commit_offsets, "1a69799041188441",
     "LowLatencyConsumer._commit_offsets: every Faust commit (interval, revocation, shutdown) passes here, after "
     "which the checkpoint runs first"),
    (Recovery._resume_streams, "d986a6710c1aca98",
     "ProcessorWorker.on_ready / place: `on_rebalance_complete` is still sent, and awaited, before the streams' partitions "
     "are resumed (the delivery guard learns where each ticks partition resumes before any of its ticks can arrive)"),
    (Recovery.on_recovery_completed, "6ef567acf072e46d",
     "ProcessorWorker.on_ready / place: as in _resume_streams, `on_rebalance_complete` is awaited before "
     "`resume_partitions`"),
    (faust_consumer.ThreadDelegateConsumer.__init__, "7072ae80eac1ff62",
     "LowLatencyConsumer.committed_offsets reaches the consumer thread as `_thread`"),
    (FAUST_THREAD.subscribe, "74f90b8c8cbc6384",
     "LowLatencyConsumerThread.subscribe: Faust's subscribe is still one call of aiokafka's subscribe with these topics"),
    (PartitionAssignor._get_copartitioned_groups, "82b7a3764ad596f6",
     "LowLatencyConsumerThread.subscribe / ProcessorWorker.place: Faust's assignor still leaves a topic missing from the leader's "
     "metadata out of the assignment, and assigns each ticks partition with its changelog partition"),
    (FAUST_THREAD._ensure_consumer, "ff4a4c693b7ec63f",
     "LowLatencyConsumerThread.committed: `_ensure_consumer()` is still the started AIOKafkaConsumer"),
    (aiokafka.AIOKafkaConsumer.__init__, "01506f316191f7c9",
     "LowLatencyConsumerThread._create_worker_consumer: `_fetch_max_wait_ms` and `_retry_backoff_ms` are still the "
     "fetch wait and back-off, read at start()"),
    (aiokafka.AIOKafkaConsumer.start, "2f1ba70443327538",
     "start() still builds the Fetcher from `_fetch_max_wait_ms` / `_retry_backoff_ms` and keeps it as `_fetcher`"),
    (Fetcher.__init__, "bf21ecb7e0f210b7",
     "`_prefetch_backoff` (set in LowLatencyConsumerThread.on_start), `_in_flight` and `_pending_tasks` "
     "(read by _plan_fetch_rounds) mean what they did; `_records` still holds only what the app has not taken"),
    (Fetcher._fetch_requests_routine, "2a8ec5932644c9b0",
     "_plan_fetch_rounds: the race it works around (a node still in `_in_flight` after its task finished) may be "
     "fixed or moved: measure without the patch"),
    (Fetcher._get_actions_per_node, "1dab2cf937d165d0",
     "_plan_fetch_rounds wraps it: it still returns (requests, resets, timeout, invalid_metadata, resume_futures), builds "
     "the round's FetchRequest with `_fetch_max_wait_ms`, and leaves out exactly the partitions that are buffered, paused "
     "or without a position"),
    (faust_consumer.Consumer.pause_partitions, "27a1c94bdacd54de",
     "_plan_fetch_rounds: Faust's pause still only takes partitions out of `_active_partitions` (aiokafka keeps fetching "
     "them once and holds the records), so partitions outside that set are not read and do not shorten the fetch wait"),
    (faust_consumer.Consumer._set_active_tps, "401f4dc883191950",
     "_plan_fetch_rounds: `_active_partitions` is still the set of partitions the app takes records of, changed in place"),
    (Assignment.state_value, "183fea82ef48f3e6",
     "_leaves_out_a_partition reads each partition's `paused` and `has_valid_position` from here"),
    (faust_consumer.Consumer._drain_messages, "44a2500309e83c63",
     "processors/low_latency.py _wait_first: each record still reaches the app as `wait_first(callback(message), "
     "suspend_flow.wait())`, the callback being `self.callback`, and nothing else here awaits a coroutine of it"),
    (Service.wait_first, "feade6a31f8a6789",
     "_wait_first: its fast path returns (winners, [None], stopped); _drain_messages ignores the result (it awaits it, "
     "then sets the read offset): re-check that it still does"),
    (Conductor._compile_message_handler, "9fbc0538097aa4ec",
     "_wait_first recognises the record delivery by the code of the consumer's callback: it is still this plain "
     "function's `on_message` coroutine"),
    (ServiceThread.__init__, "82979878990cdff5",
     "LowLatencyConsumerThread (run on the worker's loop): `thread_loop` given is still the loop the service and the "
     "aiokafka consumer run on, and a loop given is never closed by the service"),
    (ServiceThread.start, "f11841038a033a05",
     "LowLatencyConsumerThread.start replaces it: still `_thread_started` set, `_thread_running` resolved by _serve, "
     "nothing else started here that the in-loop start must start too"),
    (ServiceThread._serve, "67809eae09573ac7",
     "LowLatencyConsumerThread.start runs it as a task: it still starts the service, notifies `_thread_running` and "
     "shuts down when stopped"),
    (ServiceThread._start_thread, "a06373478446fb61",
     "LowLatencyConsumerThread._served does what this does when _serve raises (set_shutdown)"),
    (ServiceThread._gather_remaining_tasks, "6f65b92dd1012485",
     "LowLatencyConsumerThread skips it: it cancels every task of the thread's loop, here the worker's"),
    (QueueServiceThread.call_thread, "479edda75b54734b",
     "LowLatencyConsumerThread.call_thread awaits the call directly: the thread's method queue still only runs calls"),
    (faust_consumer.ThreadDelegateConsumer.threadsafe_partitions_revoked, "6c55d67e9eb06ca5",
     "rebalance callbacks still reach the app through its method queue with a future of the (here same) loop"),
    (faust_consumer.ThreadDelegateConsumer.threadsafe_partitions_assigned, "50fac26841ad9934",
     "rebalance callbacks still reach the app through its method queue with a future of the (here same) loop"),
    (faust_consumer.Consumer._wait_next_records, "6218e1969a636b3f",
     "_wait_first yields to a backlogged stream because Faust's fetcher sleeps a whole second when every partition is "
     "paused for buffer pressure: re-check that it still does (else drop `backlogged`)"),
]


@pytest.mark.parametrize(("fn", "recorded", "recheck"), PATCHED, ids=[f"{fn.__module__}.{fn.__qualname__}" for fn, _, _ in PATCHED])
def test_patched_library_code_is_unchanged(fn: Callable[..., Any], recorded: str, recheck: str) -> None:
    digest = hashlib.sha256(inspect.getsource(fn).encode()).hexdigest()[:16]
    assert digest == recorded, (f"{fn.__module__}.{fn.__qualname__} changed upstream (source hash {digest}, measured with "
                                f"{recorded}). Re-check processors/low_latency.py / processors/worker.py: {recheck}. "
                                "Then measure (see this module's docstring) and record the new hash.")


def test_the_patched_libraries_are_pinned_to_the_installed_versions() -> None:
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    lock = (REPO / "requirements.lock").read_text()
    for name in ("faust-streaming", "aiokafka", "mode-streaming"):
        pins = [d for d in deps if re.match(rf"{re.escape(name)}\s*==", d)]
        assert pins == [f"{name}=={version(name)}"], (name, pins, version(name))
        assert f"\n{name}=={version(name)} " in lock, f"requirements.lock does not hold {name}=={version(name)}"
