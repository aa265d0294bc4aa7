"""`arb kill` / `arb resume`: engage or release the kill switch through the `control` topic."""

from __future__ import annotations

import argparse
import getpass
import socket

from cli.common import add_kafka_args, kafka_settings, require_broker, require_topics
from core.errors import CommandError


def register(sub: argparse._SubParsersAction) -> None:
    k = sub.add_parser("kill", help="stop all new orders (kill switch on)",
                       description="Publishes kill_switch=active to the control topic. Every executor stops sending orders "
                                   "from the next signal on (they are REJECTED with the reason) until `arb resume`. Refuses (exit 2, "
                                   "nothing published) when the prefix's control topic does not exist or differs from the registry "
                                   "(a typo in --prefix: no executor reads it); exit 1 when Kafka cannot be reached.")
    k.add_argument("--reason", default="operator kill", help="reason recorded with the switch and on rejected signals")
    add_kafka_args(k)
    k.set_defaults(handler=lambda a: _set(a, True))
    r = sub.add_parser("resume", help="release the kill switch",
                       description="Publishes kill_switch=inactive to the control topic; executors trade again. Refuses "
                                   "(exit 2) when the control topic does not exist or differs from the registry.")
    r.add_argument("--reason", default="operator resume", help="reason recorded with the change")
    add_kafka_args(r)
    r.set_defaults(handler=lambda a: _set(a, False))


def _set(args: argparse.Namespace, active: bool) -> int:
    from core.control import KILL_SWITCH, control_record, publish

    settings = kafka_settings(args)
    require_broker(settings)
    require_topics(settings, ["control"])  # never a topic auto-created by this record, which no executor reads
    source = f"cli:{getpass.getuser()}@{socket.gethostname()}"
    try:
        publish(settings, control_record(KILL_SWITCH, "KILL_SWITCH", active, reason=args.reason, source=source))
    except Exception as exc:
        raise CommandError(f"cannot publish to {settings.bootstrap}: {exc}") from None
    print(f"kill switch {'ENGAGED' if active else 'released'} ({args.reason})")
    return 0
