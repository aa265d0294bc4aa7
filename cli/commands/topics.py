"""`arb topics create|list`: the pipeline's topics, from the registry in core/topics.py."""

from __future__ import annotations

import argparse
import json
from typing import Any

from cli.common import add_kafka_args, kafka_settings, require_broker
from core.errors import CommandError


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
    c.add_argument("--json", action="store_true", help="the report as one JSON document (a list of topics)")
    add_kafka_args(c)
    c.set_defaults(handler=run_create)
    ls = tsub.add_parser("list", help="what is on the cluster under the prefix, against the registry",
                         description="Lists the registry's topics (and the paper variants) with what the cluster has for each: ok, "
                                     "missing, or mismatch (partitions, cleanup policy), and any other topic on the cluster under the "
                                     "prefix (`extra`). Exit 1 when one is missing or differs; exit 1 at once if Kafka cannot be reached.")
    ls.add_argument("--json", action="store_true", help="the listing as one JSON document (a list of topics)")
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
    if args.json:
        print(json.dumps([{"topic": r.name, "status": r.status, "detail": r.detail} for r in reports]))
    for r in reports if not args.json else []:
        print(f"{r.status:9} {r.name}{'  ' + r.detail if r.detail else ''}")
    bad = [r for r in reports if not r.ok]
    if bad:
        raise CommandError(f"{len(bad)} topic(s) differ from the registry: {', '.join(r.name for r in bad)}")
    return 0


def listing(settings: Any, reports: list[Any], on_cluster: dict[str, int]) -> list[dict[str, Any]]:
    """One row per registry topic (what the registry wants, what the cluster has) and per other topic under the prefix."""
    from core.topic_admin import wanted_topics
    from core.topics import TOPICS, partitions

    by_name = {r.name: r for r in reports}
    rows: list[dict[str, Any]] = []
    for name, logical in wanted_topics(settings):
        spec, r = TOPICS[logical], by_name[name]
        rows.append({"topic": name, "status": "ok" if r.ok else r.status, "partitions": on_cluster.get(name),
                     "registry": {"partitions": partitions(logical, settings), "cleanup": spec.cleanup, "retention_ms": spec.retention_ms,
                                  "key": spec.key, "value": spec.value_type}, "detail": "" if r.ok else r.detail})
    known = {row["topic"] for row in rows}
    rows += [{"topic": name, "status": "extra", "partitions": n, "registry": None, "detail": "not in the registry"}
             for name, n in sorted(on_cluster.items()) if name.startswith(settings.topic_prefix) and name not in known]
    return rows


def run_list(args: argparse.Namespace) -> int:
    from core.kafka import make_admin
    from core.topic_admin import check_topics, wanted_topics

    settings = kafka_settings(args)
    md = require_broker(settings)
    on_cluster = {name: len(t.partitions) for name, t in md.topics.items()}
    try:
        reports = check_topics(make_admin(settings, error_cb=lambda _err: None), settings, wanted_topics(settings), timeout=10)
    except Exception as exc:
        raise CommandError(f"cannot read the topics of Kafka at {settings.bootstrap}: {exc}") from None
    rows = listing(settings, reports, on_cluster)
    if args.json:
        print(json.dumps(rows))
    else:
        for row in rows:
            want = row["registry"]
            have = "-" if row["partitions"] is None else row["partitions"]
            expected = f"registry: {want['partitions']} partitions, {want['cleanup']}" if want else ""
            detail = f"  ({row['detail']})" if row["detail"] and row["status"] != "extra" else ""
            print(f"{row['status']:9} {row['topic']:36} partitions {have!s:>3}  {expected}{detail}")
    bad = [row for row in rows if row["status"] in ("missing", "mismatch")]
    if bad:
        raise CommandError(f"{len(bad)} topic(s) missing or differ from the registry: `arb topics create --prefix {settings.topic_prefix}` "
                           "creates the missing ones and reports those that differ")
    return 0
