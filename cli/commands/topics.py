"""`arb topics create|list`: the pipeline's topics, from the registry in core/topics.py."""

from __future__ import annotations

import argparse
import json

from cli.common import CommandError, add_kafka_args, kafka_settings, require_broker


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("topics", help="create or list the pipeline's topics",
                       description="Topics, their partitions and cleanup policies come from the registry (core/topics.py).")
    tsub = p.add_subparsers(dest="topics_cmd", metavar="ACTION")
    c = tsub.add_parser("create", help="create missing topics; report existing ones; exit 1 on a mismatch",
                        description="Idempotent: creates what is missing, reports what exists, and fails (exit 1) when an "
                                    "existing topic has other partitions or another cleanup policy than the registry. The only "
                                    "command that creates topics: the others refuse a topic that is missing or differs, and the "
                                    "project's broker (`arb broker`, the compose stack) does not create topics on first use.")
    c.add_argument("--no-paper", action="store_true", help="skip the paper-trading variants of orders/outcomes/fills")
    c.add_argument("--json", action="store_true", help="one JSON object per topic")
    add_kafka_args(c)
    c.set_defaults(handler=run_create)
    ls = tsub.add_parser("list", help="print the registry (name, key, partitions, cleanup, retention)")
    ls.add_argument("--json", action="store_true", help="JSON lines")
    add_kafka_args(ls)
    ls.set_defaults(handler=run_list)
    p.set_defaults(handler=lambda a: (p.print_help(), 2)[1])


def run_create(args: argparse.Namespace) -> int:
    from core.kafka import make_admin
    from core.topic_admin import ensure_topics

    settings = kafka_settings(args)
    require_broker(settings)
    try:
        reports = ensure_topics(make_admin(settings), settings, include_paper=not args.no_paper)
    except Exception as exc:
        raise CommandError(f"cannot create topics on {settings.bootstrap}: {exc}") from None
    for r in reports:
        if args.json:
            print(json.dumps({"topic": r.name, "status": r.status, "detail": r.detail}))
        else:
            print(f"{r.status:9} {r.name}{'  ' + r.detail if r.detail else ''}")
    bad = [r for r in reports if not r.ok]
    if bad:
        raise CommandError(f"{len(bad)} topic(s) differ from the registry: {', '.join(r.name for r in bad)}")
    return 0


def run_list(args: argparse.Namespace) -> int:
    from core.topics import TOPICS, partitions, topic_name

    settings = kafka_settings(args)
    for logical, spec in TOPICS.items():
        row = {"topic": topic_name(logical, settings), "key": spec.key, "partitions": partitions(logical, settings),
               "cleanup": spec.cleanup, "retention_ms": spec.retention_ms, "value": spec.value_type}
        print(json.dumps(row) if args.json else "  ".join(f"{k}={v}" for k, v in row.items()))
    return 0
