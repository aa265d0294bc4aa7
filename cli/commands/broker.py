"""`arb broker`: run a local single-node Apache Kafka in the foreground and create the topics."""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path

from cli.common import add_kafka_args, kafka_settings
from core.errors import CommandError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("broker", help="run a local Apache Kafka (KRaft, one node) until Ctrl-C",
                       description="Runs Apache Kafka (the release pinned in localkafka/kafka_jars.lock.json, from Maven Central, "
                                   "downloaded once into ~/.cache/arb and checked against the lock's SHA-256) as one KRaft node "
                                   "on 127.0.0.1:PORT in the foreground, and creates the pipeline's topics. Needs Java 17+. "
                                   "Stops cleanly on Ctrl-C or SIGTERM. Exit code 2 when Java is missing or too old, the jars "
                                   "cannot be had, or a port is taken.")
    p.add_argument("--port", type=int, default=9092, help="client (PLAINTEXT) port (default 9092)")
    p.add_argument("--controller-port", type=int, default=None, help="KRaft controller port (default: a free one)")
    p.add_argument("--data-dir", type=Path, default=None,
                   help="where Kafka keeps its log; formatted on first start, reused after (default: a temporary "
                        "directory deleted at exit)")
    p.add_argument("--log-level", default="WARN", choices=("ERROR", "WARN", "INFO", "DEBUG"),
                   help="level of Kafka's own log, written to DATA_DIR/kafka.log (default WARN)")
    p.add_argument("--install-only", action="store_true", help="download and verify the jars, then exit")
    p.add_argument("--no-topics", action="store_true", help="do not create the topics")
    add_kafka_args(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from core.kafka import make_admin
    from core.topic_admin import ensure_topics
    from localkafka.broker import BrokerError, LocalKafka, java_binary
    from localkafka.dist import KafkaDistError, ensure_installed, read_lock

    if args.install_only:
        try:
            java_binary()
            print(f"kafka {read_lock().kafka_version}: jars in {ensure_installed()}", flush=True)
        except (BrokerError, KafkaDistError) as exc:
            raise CommandError(str(exc), code=2) from None
        return 0
    broker = LocalKafka(port=args.port, controller_port=args.controller_port, data_dir=args.data_dir, log_level=args.log_level)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        try:
            broker.start()
        except BrokerError as exc:
            raise CommandError(str(exc), code=2) from None
        print(f"broker listening on {broker.bootstrap} (Apache Kafka {broker.version}, data in {broker.data_dir})", flush=True)
        if not args.no_topics:
            settings = replace(kafka_settings(args), bootstrap=broker.bootstrap)
            for r in ensure_topics(make_admin(settings), settings):
                print(f"topic {r.name}: {r.status}{' (' + r.detail + ')' if r.detail else ''}", flush=True)
        while not stop.is_set():
            if broker.proc is not None and broker.proc.poll() is not None:
                raise CommandError(f"Kafka exited with code {broker.proc.returncode} (see {broker.log_file})")
            stop.wait(0.5)
    finally:
        broker.stop()
    return 0
