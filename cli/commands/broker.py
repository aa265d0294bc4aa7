"""`arb broker`: run the embedded Kafka-protocol broker in the foreground and create the topics."""

from __future__ import annotations

import argparse
import signal
import threading

from cli.common import CommandError, add_kafka_args, kafka_settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("broker", help="run the embedded broker (Tansu, memory only) until Ctrl-C",
                       description="Runs the embedded Kafka-protocol broker on 127.0.0.1:PORT in the foreground and creates "
                                   "the pipeline's topics. Data lives in memory and is gone when it stops. Exit code 2 when "
                                   "the binary is missing or the port is taken.")
    p.add_argument("--port", type=int, default=9092, help="listen port (default 9092)")
    p.add_argument("--no-topics", action="store_true", help="do not create the topics")
    add_kafka_args(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from core.broker import BrokerError, EmbeddedBroker
    from core.kafka import make_admin
    from core.topic_admin import ensure_topics

    broker = EmbeddedBroker(port=args.port)
    try:
        broker.start()
    except BrokerError as exc:
        raise CommandError(str(exc), code=2) from None
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        print(f"broker listening on {broker.bootstrap}", flush=True)
        if not args.no_topics:
            settings = replace(kafka_settings(args), bootstrap=broker.bootstrap)
            for r in ensure_topics(make_admin(settings), settings):
                print(f"topic {r.name}: {r.status}{' (' + r.detail + ')' if r.detail else ''}", flush=True)
        while not stop.is_set():
            if broker.proc is not None and broker.proc.poll() is not None:
                raise CommandError(f"broker exited with code {broker.proc.returncode}")
            stop.wait(0.5)
    finally:
        broker.stop()
    return 0
