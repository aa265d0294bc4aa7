"""`arb record --topic T [--from TIME] [--to TIME] [--game G] -o FILE.avro`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cli.common import add_kafka_args, check_output_file, kafka_settings, parse_window, require_broker, require_topics
from core.errors import CommandError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("record", help="write a time window of a topic to an Avro container file",
                       description="Reads TOPIC (a logical name: ticks, signals, markets, ...) between --from and --to, exactly: every "
                                   "partition is scanned and records are filtered on their own timestamps (offsets-for-times is not "
                                   "trusted). Writes an Avro object container file whose rows keep topic, partition, offset, timestamp, "
                                   "key and the original value bytes; the record schemas are embedded in the file metadata.")
    p.add_argument("-t", "--topic", required=True, help="logical topic name (ticks, signals, markets, orders, outcomes, fills, ...)")
    p.add_argument("--from", dest="from_", metavar="TIME", help="start (ISO-8601, naive = UTC, or epoch ms); default: the beginning")
    p.add_argument("--to", metavar="TIME", help="end, inclusive (ISO-8601 or epoch ms); default: the end")
    p.add_argument("--game", help="only records keyed by this game_id")
    p.add_argument("-o", "--output", type=Path, required=True, help="output file (.avro)")
    add_kafka_args(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from core.topics import TOPICS, topic_name
    from recording import container
    from recording.window import read_window

    if args.topic not in TOPICS:
        raise CommandError(f"unknown topic {args.topic!r}; one of: {', '.join(TOPICS)}", code=2)
    start, end = parse_window(args.from_, args.to)
    check_output_file(args.output)
    kafka = kafka_settings(args)
    require_broker(kafka)
    require_topics(kafka, [args.topic])
    value_type = TOPICS[args.topic].value_type
    try:
        rows = [{**r, "type": value_type} for r in read_window(kafka, topic_name(args.topic, kafka), start, end, game=args.game, progress=True)]
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    n = container.write(args.output, rows)
    print(f"record: {n} records of {args.topic} written to {args.output}", file=sys.stderr)
    return 0
