"""`arb status`: broker reachability, topics, consumer groups with lag, breakers and the kill switch."""

from __future__ import annotations

import argparse
import json
from typing import Any

from cli.common import add_kafka_args, kafka_settings, require_broker
from core.errors import CommandError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("status", help="broker, topics, consumer groups and lag, breakers, kill switch",
                       description="Checks the broker (exit 1 if unreachable within ~5 s), lists the registry's topics with their "
                                   "partitions and whether each is ok, missing or differs from the registry (partitions, cleanup "
                                   "policy), the consumer groups of this prefix (ids starting with --prefix) with their members and per-partition lag (committed offset vs "
                                   "the partition's end as a read_committed consumer sees it, its last stable offset: records of a "
                                   "transaction still open are not counted), and the circuit breaker states and kill switch from "
                                   "the `control` topic, and the latest ALERT records: the executor's per venue (an UNKNOWN outcome: an order whose "
                                   "state lookups could not establish, with the contracts that may be held one-sided), the positions "
                                   "role's settlement mismatches and reconciliation drift (a cleared alert is shown as cleared). Exit 1, after "
                                   "the report, when a topic is missing or differs from the registry, or the control topic cannot be "
                                   "read (the kill switch is then UNKNOWN, never `off`).")
    p.add_argument("--json", action="store_true", help="the report as one JSON document")
    add_kafka_args(p)
    p.set_defaults(handler=run)


def of_prefix(committed_topics: list[str], topics: dict[str, str]) -> bool:
    """Whether a group whose id starts with the prefix is this prefix's: it has committed nothing yet, or some of
    what it committed is on this prefix's topics."""
    return not committed_topics or any(t in topics for t in committed_topics)


def _groups(kafka: Any, admin: Any, topics: dict[str, str]) -> list[dict[str, Any]]:
    from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition

    from core.kafka import make_consumer

    out: list[dict[str, Any]] = []
    try:
        listed = admin.list_consumer_groups(request_timeout=5).result(timeout=6)
    except Exception as exc:
        return [{"error": f"cannot list consumer groups: {exc}"}]
    ids = sorted(g.group_id for g in listed.valid if g.group_id.startswith(kafka.topic_prefix))  # this deployment's groups only
    if not ids:
        return out
    described = admin.describe_consumer_groups(ids, request_timeout=5)
    probe = make_consumer(kafka, None)
    try:
        for gid in ids:
            entry: dict[str, Any] = {"group": gid, "members": [], "lag": []}
            try:
                d = described[gid].result(timeout=6)
                entry["state"] = str(d.state).split(".")[-1]
                entry["members"] = [{"client_id": m.client_id, "host": m.host,
                                     "partitions": sorted(f"{tp.topic}[{tp.partition}]" for tp in (m.assignment.topic_partitions if m.assignment else []))}
                                    for m in d.members]
                offsets = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(gid)], request_timeout=5)[gid].result(timeout=6)
                if not of_prefix([tp.topic for tp in offsets.topic_partitions if tp.offset >= 0], topics):
                    continue  # a group of a longer prefix ("arb.test." under "arb."): it reads other topics
                for tp in offsets.topic_partitions:
                    if tp.topic not in topics or tp.offset < 0:
                        continue
                    _, high = probe.get_watermark_offsets(TopicPartition(tp.topic, tp.partition), timeout=5)
                    entry["lag"].append({"topic": tp.topic, "partition": tp.partition, "committed": tp.offset, "end": high,
                                         "lag": max(0, high - tp.offset)})
            except Exception as exc:
                entry["error"] = str(exc)
            out.append(entry)
    finally:
        probe.close()
    return out


def run(args: argparse.Namespace) -> int:
    from core.control import ControlState
    from core.kafka import make_admin
    from core.topic_admin import check_topics
    from core.topics import TOPICS, partitions, topic_name
    from schemas.records import to_dict

    kafka = kafka_settings(args)
    md = require_broker(kafka)
    admin = make_admin(kafka)
    names = {topic_name(t, kafka): t for t in TOPICS}
    try:
        reports = {r.name: r for r in check_topics(admin, kafka, list(names.items()), timeout=5)}
    except Exception as exc:
        raise CommandError(f"cannot read the topics of Kafka at {kafka.bootstrap}: {exc}") from None
    topics = [{"topic": name, "present": reports[name].status != "missing",
               "partitions": len(md.topics[name].partitions) if name in md.topics else 0, "expected_partitions": partitions(logical, kafka),
               "status": "ok" if reports[name].ok else reports[name].status, "detail": reports[name].detail}
              for name, logical in names.items()]
    control_name = topic_name("control", kafka)
    entries: dict[str, Any] = {}
    kill: Any = "unknown"  # unless the control topic is read: never "off" for a switch nobody can see
    control_error: str | None = None
    if not reports[control_name].ok:
        control_error = f"control topic {control_name} {reports[control_name].status}"
    else:
        control = ControlState(kafka).start(wait_s=5)
        try:
            control_error = control.error
            entries = {name: to_dict(rec) for name, rec in control.records.items()}  # shown as JSON objects
            if control_error is None:
                kill = None if (engaged := control.kill_switch()) is None else to_dict(engaged)
        finally:
            control.stop()
    breakers = {k: v for k, v in entries.items() if str(k).startswith("breaker:")}
    alerts = {k: v for k, v in entries.items() if str(k).startswith("alert:")}
    groups = _groups(kafka, admin, names)
    bad = [t for t in topics if t["status"] != "ok"]
    problems = [f"topic {t['topic']} {t['status']}" + (f" ({t['detail']})" if t["status"] == "mismatch" else "") for t in bad]
    if control_error and not bad:
        problems.append(control_error)
    doc: dict[str, Any] = {"ok": not problems, "problems": problems,
                           "broker": {"bootstrap": kafka.bootstrap, "reachable": True, "brokers": len(md.brokers)}, "topics": topics,
                           "groups": groups, "breakers": breakers, "alerts": alerts, "kill_switch": kill, "control_error": control_error}
    if args.json:
        print(json.dumps(doc, default=str))
    else:
        _print(doc)
    if problems:
        missing = sum(t["status"] == "missing" for t in topics)
        mismatched = sum(t["status"] == "mismatch" for t in topics)
        if bad:
            counts = " and ".join(c for c in (f"{missing} topic(s) missing" if missing else "",
                                              f"{mismatched} topic(s) differ from the registry" if mismatched else "") if c)
            raise CommandError(f"{counts}: `arb topics create --prefix {kafka.topic_prefix}` creates the missing ones and reports those "
                               "that differ")
        raise CommandError(f"kill switch state unknown: {control_error}")
    return 0


def _print(doc: dict[str, Any]) -> None:
    broker = doc["broker"]
    print(f"broker {broker['bootstrap']}: reachable ({broker['brokers']} broker(s))")
    for t in doc["topics"]:
        detail = f"  ({t['detail']})" if t["status"] == "mismatch" else ""
        print(f"  topic {t['topic']:28} partitions {t['partitions']:>3}  {t['status']}{detail}")
    for g in doc["groups"]:
        if "group" not in g:
            print(f"  {g.get('error')}")
            continue
        total = sum(x["lag"] for x in g["lag"])
        print(f"  group {g['group']}: {g.get('state', '?')}, {len(g['members'])} member(s), lag {total}")
        for m in g["members"]:
            print(f"    member {m['client_id']} {m['host']}: {', '.join(m['partitions']) or '-'}")
    print("  breakers: " + (", ".join(f"{k}: {json.dumps(v, default=str)}" for k, v in doc["breakers"].items()) or "none reported"))
    # The latest record per alert (executor: per venue, each an UNKNOWN Outcome on `outcomes`; positions: settlement
    # mismatches, reconciliation). An inactive record is an alert its writer cleared: shown, not as an ALERT.
    for name, alert in doc["alerts"].items():
        if alert.get("active", True):
            print(f"  ALERT {name}: {json.dumps(alert, default=str)}")
        else:
            print(f"  alert {name} cleared: {alert.get('reason')}")
    kill = doc["kill_switch"]
    if kill == "unknown":
        print(f"  kill switch: UNKNOWN ({doc['control_error']})")
    else:
        print("  kill switch: " + ("ENGAGED (" + str(kill.get("reason")) + ")" if kill else "off"))
