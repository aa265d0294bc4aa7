"""Settings shared by every role: Kafka connection, topic naming, logging, metrics, the account facts fees depend on."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from core.config import ConfigError, Secret, SecretProperties, setting


@dataclass(frozen=True)
class KafkaSettings:
    bootstrap: str = setting("ARB_BOOTSTRAP", "127.0.0.1:9092", "Kafka bootstrap servers (host:port[,host:port]).")
    topic_prefix: str = setting("ARB_TOPIC_PREFIX", "arb.", "Prefix of every topic name, so several pipelines can share a broker.")
    paper_prefix: str = setting("ARB_PAPER_PREFIX", "paper.", "Prefix put before the topic prefix for paper-trading records (orders, fills, outcomes).")
    partitions: int = setting("ARB_PARTITIONS", 12, "Partitions of the game-keyed topics (ticks, signals, orders, outcomes, fills, positions).")
    replication: int = setting("ARB_REPLICATION", 1, "Replication factor of the topics `arb topics create` creates and of the processor's table changelog.")
    fetch_wait_ms: int = setting(
        "ARB_FETCH_WAIT_MS", 2,
        "fetch.wait.max.ms of consumers that wait for an end: readers that load a partition to its end (executor "
        "recovery, the start-up load of state topics, `arb tail`), which see the end only when a fetch at the end "
        "comes back empty. Also the processor's fetch rounds that leave out a partition it reads (one whose fetched "
        "records it has not taken yet) and its fetch back-offs.")
    follow_fetch_wait_ms: int = setting(
        "ARB_FOLLOW_FETCH_WAIT_MS", 25,
        "fetch.wait.max.ms of the hot-path consumers that follow their topics for good: the executor's signals "
        "consumer, its risk reader (fills, settlements, positions) and its tick reader. A waiting fetch returns as "
        "soon as a record or a transaction's commit arrives, so this adds no delivery latency; it bounds how long a "
        "newly assigned partition waits for the fetch in flight, and how soon the risk reader sees the end of its "
        "partitions. An idle consumer fetches 1000/this times a second (40 at 25 ms, 500 at 2 ms): broker and "
        "client CPU the hot path shares.")
    cold_fetch_wait_ms: int = setting(
        "ARB_COLD_FETCH_WAIT_MS", 250,
        "fetch.wait.max.ms of consumers off the hot path (pairings, control incl. the kill switch, positions, the demo's view). A "
        "waiting fetch returns as soon as a record arrives, so this adds no latency: it keeps idle consumers from fetching "
        "hundreds of times a second, CPU the hot path needs. Also the processor's fetch wait while its fetch asks for every "
        "ticks partition it reads.")
    linger_ms: int = setting("ARB_LINGER_MS", 0, "linger.ms of producers, the processor's too (0 = send at once).")
    session_timeout_ms: int = setting("ARB_SESSION_TIMEOUT_MS", 6000, "Consumer-group session timeout (the executor's, the processor's and the readers'): how long a member that died without leaving keeps its partitions. Kafka refuses values below the broker's group.min.session.timeout.ms (6000 by default).")
    security_protocol: str = setting("ARB_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT", "security.protocol for real clusters (the processor's Faust consumer gets the same security settings).", choices=("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"))
    sasl_mechanism: str = setting("ARB_KAFKA_SASL_MECHANISM", "", "sasl.mechanism (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) when SASL is used.")
    sasl_username: str = setting("ARB_KAFKA_SASL_USERNAME", "", "SASL user name.")
    sasl_password: Secret = setting("ARB_KAFKA_SASL_PASSWORD", Secret(""), "SASL password (or ARB_KAFKA_SASL_PASSWORD_FILE with its path).")
    ssl_ca_location: str = setting("ARB_KAFKA_SSL_CA_LOCATION", "", "CA bundle for SSL.")
    schema_registry_url: str = setting("ARB_SCHEMA_REGISTRY_URL", "", "Confluent-compatible Schema Registry URL: when set, records are written in the Confluent wire format (readers accept both framings). Credentials go in ARB_SCHEMA_REGISTRY_USER / ARB_SCHEMA_REGISTRY_PASSWORD_FILE, not in the URL.")
    schema_registry_user: str = setting("ARB_SCHEMA_REGISTRY_USER", "", "Schema Registry HTTP basic-auth user (with ARB_SCHEMA_REGISTRY_PASSWORD).")
    schema_registry_password: Secret = setting("ARB_SCHEMA_REGISTRY_PASSWORD", Secret(""), "Schema Registry HTTP basic-auth password (or ARB_SCHEMA_REGISTRY_PASSWORD_FILE with its path).")
    extra: SecretProperties = setting(
        "ARB_KAFKA_EXTRA", SecretProperties(""),
        "Extra librdkafka properties, `key=value;key=value`, applied to every librdkafka client, the processor's signal producer "
        "included (not its Faust consumer and changelog producer, which are aiokafka). Secret values (ssl.key.password, sasl.password, ...) are masked in logs; put them in a file named by "
        "ARB_KAFKA_EXTRA_FILE.")

    def __post_init__(self) -> None:
        url = urlsplit(self.schema_registry_url)
        if url.password:  # credentials in the URL: masked like any secret, but better in their own settings
            from core.logs import register_secret

            register_secret(unquote(url.password))
            if self.schema_registry_user or self.schema_registry_password:
                raise ConfigError("ARB_SCHEMA_REGISTRY_URL carries credentials and ARB_SCHEMA_REGISTRY_USER/PASSWORD are set: keep only "
                                  "the settings (and the URL without user info)")
        if bool(self.schema_registry_user) != bool(self.schema_registry_password):
            raise ConfigError("ARB_SCHEMA_REGISTRY_USER and ARB_SCHEMA_REGISTRY_PASSWORD(_FILE) go together: set both or neither")

    def schema_registry_user_info(self) -> str:
        """confluent-kafka SchemaRegistryClient's `basic.auth.user.info` ("user:password"), "" for none."""
        if not self.schema_registry_user:
            return ""
        return f"{self.schema_registry_user}:{self.schema_registry_password.reveal()}"


@dataclass(frozen=True)
class RuntimeSettings:
    log_format: str = setting("ARB_LOG_FORMAT", "json", "Log format: one JSON object per line, or `human`.", choices=("json", "human"))
    log_level: str = setting("ARB_LOG_LEVEL", "INFO", "Log level.", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    metrics_port: int = setting("ARB_METRICS_PORT", 0, "Port of the Prometheus /metrics endpoint of a long-running role (0 = off).")
    status_interval_s: float = setting(
        "ARB_STATUS_INTERVAL_S", 30.0,
        "Every this many seconds a long-running role logs one INFO line `status: ...` (records in/out, lag, state), so a "
        "person sees it working without Prometheus (0 = off).")

    def __post_init__(self) -> None:
        if not self.status_interval_s >= 0:
            from core.config import ConfigError

            raise ConfigError(f"ARB_STATUS_INTERVAL_S must be >= 0 seconds, not {self.status_interval_s}")


KALSHI_MEMBER_TYPES = ("non_direct", "direct")


@dataclass(frozen=True)
class FeeSettings:
    """Account facts the one fee module (core/fees.py) needs, read the same way in every role (detector,
    paper executor, P&L, the simulator's Kalshi venue) so that they all compute the same fee."""

    kalshi_member_type: str = setting(
        "ARB_KALSHI_MEMBER_TYPE", "non_direct",
        "Kalshi membership of the trading account: non_direct (trading through an FCM, the usual retail account; balances "
        "are kept to $0.01) or direct (an exchange member; $0.0001). Kalshi adds a rounding fee to bring every fill's balance "
        "change to that precision, so one contract at 0.50 costs $0.02 of fees for a non-direct member.",
        choices=KALSHI_MEMBER_TYPES)
