"""`arb config`: every setting with its effective value (secrets masked), where it came from, and its meaning."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from typing import Any

from cli.settings_doc import settings_markdown, shown


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("config", help="list every setting: effective value (secrets masked), source, default, help",
                       description="Lists every setting the loader reads with the value a command started from this environment "
                                   "would use: from the environment variable, from <VAR>_FILE (secrets), or the default. Secrets "
                                   "show only whether they are set (***). Exit 2, with the variable named, if a setting's value "
                                   "cannot be used.")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="one JSON document: a list of {env, section, value, source, default, secret, help}")
    out.add_argument("--markdown", action="store_true",
                     help="the settings reference as Markdown (defaults and help, not this environment's values): "
                          "`arb config --markdown > docs/settings.md` regenerates docs/settings.md")
    p.set_defaults(handler=run)


def source(env_name: str, secret: bool, environ: Mapping[str, str]) -> str:
    if secret and environ.get(env_name + "_FILE"):
        return "file"
    return "env" if env_name in environ else "default"


def effective(environ: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """Every setting as the loader resolves it from `environ`; ConfigError for a value that cannot be used."""
    from cli.settings_index import all_sections
    from core.config import load

    env = os.environ if environ is None else environ
    docs = {(d.section, d.field): d for d in _all()}
    rows: list[dict[str, Any]] = []
    for cls in all_sections():
        loaded: Any = load(cls, env=env)
        for (section, field), d in docs.items():
            if section != cls.__name__:
                continue
            rows.append({"env": d.env, "section": section, "value": shown(getattr(loaded, field), d.secret),
                         "source": source(d.env, d.secret, env), "default": shown(d.default, d.secret), "secret": d.secret, "help": d.help})
    return rows


def _all() -> list[Any]:
    from cli.settings_index import all_settings

    return all_settings()


def run(args: argparse.Namespace) -> int:
    if args.markdown:
        sys.stdout.write(settings_markdown())
        return 0
    rows = effective()
    if args.json:
        print(json.dumps(rows))
        return 0
    for r in rows:
        origin = "" if r["source"] == "default" else f" ({r['source']})"
        print(f"{r['env']:36} {r['value'] + origin:28} {r['help']}")
    return 0
