"""`arb config`: every setting, its environment variable, default and meaning."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("config", help="list every setting (environment variable, default, help)",
                       description="Lists every setting the loader reads. Secrets also accept <VAR>_FILE with a path.")
    p.add_argument("--json", action="store_true", help="JSON lines")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from core.config import Secret, all_settings

    for d in all_settings():
        default = "<secret>" if d.secret else (",".join(d.default) if isinstance(d.default, tuple) else d.default)
        if isinstance(default, Secret):
            default = "<secret>"
        if args.json:
            print(json.dumps({"env": d.env, "section": d.section, "default": str(default), "secret": d.secret, "help": d.help}))
        else:
            print(f"{d.env:36} {str(default):24} {d.help}")
    return 0
