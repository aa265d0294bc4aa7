"""`arb tail TOPIC`: print decoded records as JSON lines; undecodable ones are named and skipped."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from typing import Any

from cli.common import add_kafka_args, kafka_settings, require_broker
from core.errors import CommandError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tail", help="print a topic's records decoded, as JSON lines",
                       description="Reads TOPIC (a logical name such as `ticks`, or a full topic name) without joining a consumer "
                                   "group and prints one JSON object per record (JSON lines): topic, partition, offset, time (UTC), "
                                   "timestamp_ms, key, type and the decoded value, with prices and money in dollars and sizes in "
                                   "contracts as decimal strings (--raw: the records' integers). A record that cannot be decoded is "
                                   "reported on stderr with its partition and offset, and tailing continues. Flags follow kcat: "
                                   "-t topic, -p partition, -o offset, -c count, -e exit at the end.")
    p.add_argument("topic", metavar="TOPIC", nargs="?",
                   help="logical topic (markets, ticks, signals, orders, outcomes, fills, positions, control, dlq) or full name")
    p.add_argument("-t", "--topic", dest="topic_opt", metavar="TOPIC", help="the topic, as a flag (kcat's -t)")
    p.add_argument("--game", help="only records whose key is this game_id")
    p.add_argument("-p", "--partition", type=int, metavar="N", help="only this partition (default: all)")
    p.add_argument("-o", "--offset", metavar="OFFSET",
                   help="where to start in each partition: beginning, end (default), N (that offset), or -N (N records before the end)")
    p.add_argument("--from", dest="from_", metavar="TIME", help="start at the first record at or after TIME (ISO-8601, naive = UTC, or epoch ms)")
    p.add_argument("--from-beginning", action="store_true", help="same as -o beginning")
    p.add_argument("-e", "--exit", dest="exit_at_end", action="store_true", help="exit once every partition read has reached its end")
    p.add_argument("-c", "--limit", "--count", dest="limit", type=int, default=0, metavar="N", help="stop after N printed records (0 = no limit)")
    p.add_argument("--idle-timeout", type=float, default=0.0, help="stop after S seconds without a record (0 = never)")
    p.add_argument("--raw", action="store_true", help="print the records' integers (prices 1e-4 USD, sizes 1e-2 contracts, money 1e-6 USD)")
    p.add_argument("--json", action="store_true", help="JSON lines (always: kept for scripts that pass it)")
    p.add_argument("--paper", action="store_true", help="read the paper-trading variant of orders/outcomes/fills")
    add_kafka_args(p)
    p.set_defaults(handler=run)


def parse_offset(text: str | None, from_beginning: bool) -> tuple[str, int]:
    """("beginning"|"end"|"absolute"|"tail", n) from -o, or CommandError (exit 2)."""
    if from_beginning and text not in (None, "beginning"):
        raise CommandError("--from-beginning and -o name two starts: pick one", code=2)
    if from_beginning or text == "beginning":
        return "beginning", 0
    if text is None or text == "end":
        return "end", 0
    try:
        n = int(text)
    except ValueError:
        raise CommandError(f"-o/--offset must be beginning, end, N or -N, not {text!r}", code=2) from None
    return ("tail", -n) if n < 0 else ("absolute", n)


def line(msg_meta: dict[str, Any], key: str | None, type_name: str | None, value: Any, raw: bool) -> dict[str, Any]:
    """The JSON object printed for one record (pure: msg_meta has topic, partition, offset, timestamp_ms)."""
    import schemas
    from core.jsonout import human

    ts = msg_meta["timestamp_ms"]
    when = dt.datetime.fromtimestamp(ts / 1000, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z") if ts and ts > 0 else None
    if not raw and type_name is not None and value is not None:
        value = human(value, schemas.latest(type_name).schema)
    return {**msg_meta, "time": when, "key": key, "type": type_name, "value": value}


def run(args: argparse.Namespace) -> int:
    from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, KafkaError, TopicPartition

    from cli.common import parse_window
    from core import codec
    from core.jsonout import dumps
    from core.kafka import make_consumer
    from core.topics import TOPICS, topic_name

    if args.topic and args.topic_opt and args.topic != args.topic_opt:
        raise CommandError(f"two topics named: {args.topic} and -t {args.topic_opt}", code=2)
    logical = args.topic or args.topic_opt
    if not logical:
        raise CommandError("name a topic: arb tail TOPIC (or -t TOPIC)", code=2)
    start_kind, start_n = parse_offset(args.offset, args.from_beginning)
    from_ms, _ = parse_window(args.from_, None)
    if from_ms is not None and (args.offset is not None or args.from_beginning):
        raise CommandError("--from and -o name two starts: pick one", code=2)
    if args.limit < 0 or args.idle_timeout < 0:
        raise CommandError("--limit and --idle-timeout must not be negative", code=2)
    settings = kafka_settings(args)
    full = topic_name(logical, settings, paper=args.paper) if logical in TOPICS else logical
    require_broker(settings)
    consumer = make_consumer(settings, None, wait="short", **{"enable.partition.eof": True})
    printed = 0
    try:
        meta = consumer.list_topics(full, timeout=10)
        tmeta = meta.topics.get(full)
        if tmeta is None or tmeta.error is not None or not tmeta.partitions:
            raise CommandError(f"topic {full} does not exist on {settings.bootstrap}")
        parts = sorted(tmeta.partitions)
        if args.partition is not None:
            if args.partition not in tmeta.partitions:
                raise CommandError(f"topic {full} has no partition {args.partition} (partitions 0-{len(parts) - 1})", code=2)
            parts = [args.partition]
        if from_ms is not None:
            found = consumer.offsets_for_times([TopicPartition(full, p, from_ms) for p in parts], timeout=10)
            starts = [TopicPartition(full, tp.partition, tp.offset if tp.offset >= 0 else OFFSET_END) for tp in found]
        elif start_kind == "tail":
            starts = []
            for p in parts:
                low, high = consumer.get_watermark_offsets(TopicPartition(full, p), timeout=10)
                starts.append(TopicPartition(full, p, max(low, high - start_n)))
        else:
            where = {"beginning": OFFSET_BEGINNING, "end": OFFSET_END, "absolute": start_n}[start_kind]
            starts = [TopicPartition(full, p, where) for p in parts]
        consumer.assign(starts)
        at_end: set[int] = set()
        last = time.monotonic()
        while not args.limit or printed < args.limit:
            if args.exit_at_end and len(at_end) == len(parts):
                break
            msg = consumer.poll(0.2)
            if msg is None:
                if args.idle_timeout and time.monotonic() - last > args.idle_timeout:
                    break
                continue
            last = time.monotonic()
            err = msg.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    at_end.add(msg.partition() or 0)
                else:
                    print(f"arb tail: {err}", file=sys.stderr)
                continue
            at_end.discard(msg.partition() or 0)
            key_b = msg.key()
            key = key_b.decode("utf-8", "replace") if key_b is not None else None
            if args.game and key != args.game:
                continue
            raw = msg.value()
            try:
                type_name, value = codec.decode_with_type(raw) if raw is not None else (None, None)
            except codec.DecodeError as exc:
                print(f"undecodable record {msg.topic()}[{msg.partition()}]@{msg.offset()}: {exc}", file=sys.stderr, flush=True)
                continue
            meta_d = {"topic": msg.topic(), "partition": msg.partition(), "offset": msg.offset(), "timestamp_ms": msg.timestamp()[1]}
            print(dumps(line(meta_d, key, type_name, value, args.raw)), flush=True)
            printed += 1
    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()
    return 0
