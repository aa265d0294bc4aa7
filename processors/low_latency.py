"""A Faust transport whose worker consumer uses a configurable fetch wait.

Faust's aiokafka driver hard-codes fetch_max_wait_ms=1500 in `_create_worker_consumer`. Kafka answers a
waiting fetch as soon as data arrives, but aiokafka also waits its retry/prefetch back-off (100 ms, not
configurable) after an empty fetch and before re-fetching a partition whose records are still
buffered; both showed up as ~100 ms stalls of the tick -> signal hop. We build the consumer exactly as
Faust does, then set the wait and the back-offs before `start()` creates the Fetcher from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import aiokafka
from faust.transport.drivers import aiokafka as faust_aiokafka

FETCH_WAIT_MS = 2  # replaced by create_app() from ARB_FAUST_FETCH_WAIT_MS


class LowLatencyConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = LowLatencyTransport.fetch_wait_ms
        # aiokafka backs off 100 ms after an empty/failed fetch and before re-fetching a partition whose
        # records are still buffered (prefetch_backoff, not configurable): both showed up as ~100 ms p99
        # stalls on the tick -> signal hop. Its fetch routine could also stall for its whole
        # `fetcher_timeout` (200 ms): see _recheck_finished_fetches. The fetcher is built at start();
        # patch it then.
        consumer._retry_backoff_ms = LowLatencyTransport.fetch_wait_ms
        start = consumer.start

        async def start_with_short_backoff() -> None:
            await start()
            fetcher = getattr(consumer, "_fetcher", None)
            if fetcher is not None:
                fetcher._prefetch_backoff = LowLatencyTransport.fetch_wait_ms / 1000
                fetcher._retry_backoff = LowLatencyTransport.fetch_wait_ms / 1000
                _recheck_finished_fetches(fetcher)

        consumer.start = start_with_short_backoff
        return consumer


def _recheck_finished_fetches(fetcher: Any) -> None:
    """Work around a race in aiokafka's fetch routine that stalled it for `fetcher_timeout`.

    A fetch task clears its node from `_in_flight` in a done-callback. When the routine is woken by
    something else (the app consumed records) in the same loop step in which the fetch finishes, it
    drops the task from its pending set and plans the next round before that callback has run: the
    node still looks busy, so nothing is fetched from it, and with no task left to wait for the routine
    sleeps the full `fetcher_timeout`. Seen: ~200 ms sleeps after a round that planned no fetch while
    every ticks partition was empty, unpaused and had no fetch pending; a busy-looking node is the one
    branch of the planning that skips such partitions. At 1,000 ticks/s that was the end-to-end p99 of
    ~250 ms (85 ms with this). Planning a round with fewer live tasks than busy nodes now waits one loop
    step, for the callback, and plans again."""
    plan = fetcher._get_actions_per_node

    def plan_after_callbacks(assignment: Any) -> Any:
        requests, resets, timeout, invalid_metadata, resume_futures = plan(assignment)
        live = sum(1 for task in fetcher._pending_tasks if not task.done())
        if len(fetcher._in_flight) > live:
            timeout = 0
        return requests, resets, timeout, invalid_metadata, resume_futures

    fetcher._get_actions_per_node = plan_after_callbacks


class LowLatencyConsumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> LowLatencyConsumerThread:
        return LowLatencyConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def _commit_offsets(self, offsets: Mapping[Any, int], start_new_transaction: bool = True) -> bool:
        # The app commits its input topic itself, with the table state those offsets depend on; it does
        # so whenever Faust commits (on its interval, on revocation, at shutdown), and on its own timer.
        before_commit = getattr(self.app, "arb_before_commit", None)
        if before_commit is not None:
            await before_commit()
        return bool(await super()._commit_offsets(offsets, start_new_transaction=start_new_transaction))

    async def _commit(self, offsets: Mapping[Any, int]) -> bool:
        # The app commits its input topic itself (see processors/delivery_guard.py); Faust goes on
        # committing everything else, and its bookkeeping as if it had committed that topic too.
        owned = getattr(self.app, "arb_owned_commit_topic", None)
        rest = {tp: offset for tp, offset in offsets.items() if tp.topic != owned}
        return True if not rest else bool(await super()._commit(rest))

    async def commit_owned(self, offsets: Mapping[Any, int]) -> bool:
        """Commit offsets of the app-owned topic (after the app wrote what they depend on)."""
        return bool(await super()._commit(offsets))


class LowLatencyTransport(faust_aiokafka.Transport):
    Consumer: ClassVar[Any] = LowLatencyConsumer
    fetch_wait_ms: ClassVar[int] = FETCH_WAIT_MS
