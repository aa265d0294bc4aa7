"""`arb tail TOPIC`: print decoded records as JSON lines; undecodable ones are named and skipped."""

from __future__ import annotations

import argparse
import sys
import time

from cli.common import CommandError, add_kafka_args, kafka_settings, require_broker


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tail", help="print a topic's records decoded, as JSON lines",
                       description="Reads TOPIC (a logical name such as `ticks`, or a full topic name) without joining a "
                                   "consumer group and prints each record decoded. A record that cannot be decoded is "
                                   "reported on stderr with its partition and offset, and tailing continues.")
    p.add_argument("topic", metavar="TOPIC", help="logical topic (markets, ticks, signals, orders, outcomes, fills, positions, control, dlq) or full name")
    p.add_argument("--game", help="only records whose key is this game_id")
    p.add_argument("--from-beginning", action="store_true", help="start at the earliest offset (default: only new records)")
    p.add_argument("--limit", type=int, default=0, help="stop after N printed records (0 = no limit)")
    p.add_argument("--idle-timeout", type=float, default=0.0, help="stop after S seconds without a record (0 = never)")
    p.add_argument("--json", action="store_true", help="print a full envelope per record: topic, partition, offset, timestamp, key, type, value")
    p.add_argument("--paper", action="store_true", help="read the paper-trading variant of orders/outcomes/fills")
    add_kafka_args(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, KafkaError, TopicPartition

    from core import codec
    from core.jsonout import dumps
    from core.kafka import make_consumer
    from core.topics import TOPICS, topic_name

    settings = kafka_settings(args)
    full = topic_name(args.topic, settings, paper=args.paper) if args.topic in TOPICS else args.topic
    require_broker(settings)
    consumer = make_consumer(settings, None)
    printed = bad = 0
    try:
        meta = consumer.list_topics(full, timeout=10)
        tmeta = meta.topics.get(full)
        if tmeta is None or tmeta.error is not None or not tmeta.partitions:
            raise CommandError(f"topic {full} does not exist on {settings.bootstrap}")
        start = OFFSET_BEGINNING if args.from_beginning else OFFSET_END
        consumer.assign([TopicPartition(full, p, start) for p in sorted(tmeta.partitions)])
        last = time.monotonic()
        while not args.limit or printed < args.limit:
            msg = consumer.poll(0.2)
            if msg is None:
                if args.idle_timeout and time.monotonic() - last > args.idle_timeout:
                    break
                continue
            last = time.monotonic()
            err = msg.error()
            if err is not None:
                if err.code() != KafkaError._PARTITION_EOF:
                    print(f"arb tail: {err}", file=sys.stderr)
                continue
            key_b = msg.key()
            key = key_b.decode("utf-8", "replace") if key_b is not None else None
            if args.game and key != args.game:
                continue
            raw = msg.value()
            try:
                type_name, value = codec.decode_with_type(raw) if raw is not None else (None, None)
            except codec.DecodeError as exc:
                bad += 1
                print(f"undecodable record {msg.topic()}[{msg.partition()}]@{msg.offset()}: {exc}", file=sys.stderr, flush=True)
                continue
            if args.json:
                line = dumps({"topic": msg.topic(), "partition": msg.partition(), "offset": msg.offset(),
                              "timestamp_ms": msg.timestamp()[1], "key": key, "type": type_name, "value": value})
            else:
                line = f"{msg.partition()}:{msg.offset()} {key} {dumps(value)}"
            print(line, flush=True)
            printed += 1
    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()
    return 0
