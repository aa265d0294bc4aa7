"""Settings of the Faust worker (consumer group, batching, table store). Detection settings: processors/settings.py.

The worker's Kafka client takes the settings every Kafka client takes (core/settings.py KafkaSettings: ARB_FETCH_WAIT_MS,
ARB_LINGER_MS, ARB_SESSION_TIMEOUT_MS, security); the ARB_FAUST_* names that duplicated them are retired
(processors/retired_settings.py)."""

from __future__ import annotations

from dataclasses import dataclass

from core.config import setting
from processors.delivery_guard import STALL_S


@dataclass(frozen=True)
class WorkerSettings:
    app_id: str = setting("ARB_PROCESSOR_ID", "processor", "Faust app id, after the topic prefix: the consumer group and the prefix of table changelog topics.")
    instance_id: str = setting(
        "ARB_FAUST_INSTANCE_ID", "",
        "Static membership in the processor group (Kafka group.instance.id): a worker restarted with the same id takes its "
        "partitions back at once instead of after ARB_SESSION_TIMEOUT_MS; `{hostname}` is replaced by the host name "
        "(compose: `processor-{hostname}`, one per container). Each running worker needs its own id. Its partitions also wait "
        "out the session timeout after a clean stop. Empty: dynamic membership.")
    request_timeout_s: float = setting("ARB_FAUST_REQUEST_TIMEOUT_S", 30.0, "Broker request timeout (s); must exceed the session timeout (ARB_SESSION_TIMEOUT_MS).")
    heartbeat_s: float = setting("ARB_FAUST_HEARTBEAT_S", 1.0, "Consumer heartbeat interval (s).")
    max_poll_interval_s: float = setting("ARB_FAUST_MAX_POLL_INTERVAL_S", 30.0, "Max time between polls before the member is considered dead (s).")
    commit_interval_s: float = setting("ARB_FAUST_COMMIT_INTERVAL_S", 1.0, "How often consumed offsets are committed (s); ticks after the last commit are reprocessed after a crash (same signal_ids).")
    store: str = setting("ARB_FAUST_STORE", "memory://", "Table store URL (memory:// recovers from the changelog on start; rocksdb:// needs python-rocksdb).")
    max_poll_records: int = setting(
        "ARB_FAUST_MAX_POLL_RECORDS", 1000,
        "Records the worker's consumer hands over per poll at most (Faust's broker_max_poll_records; unlimited by default there). "
        "Measured with `arb bench process --opportunity-every 50`: 1000 gave ~4,900 ticks/s, unlimited ~4,350.")
    batch_max: int = setting("ARB_FAUST_BATCH_MAX", 500, "Ticks processed per batch at most.")
    stall_s: float = setting(
        "ARB_FAUST_STALL_S", STALL_S,
        "A ticks partition whose fetch position is ahead of the last tick processed, with none processed for this long, is "
        "rewound to it (Faust can drop fetched records around a rebalance; see processors/delivery_guard.py).")
    recovery_consistency_check: bool = setting(
        "ARB_FAUST_RECOVERY_CONSISTENCY_CHECK", True,
        "Faust's check, at each recovery, that the table's offsets are not past its changelog's end (high watermark): recovery "
        "stops with an error instead of keeping state the changelog no longer holds (e.g. a changelog deleted and recreated "
        "while the worker's store still holds its state).")
    datadir: str = setting("ARB_FAUST_DATADIR", ".arb-faust", "Faust data directory (relative to the working directory).")
    web_port: int = setting("ARB_FAUST_WEB_PORT", 0, "Port of Faust's own web server (0 = disabled).")
