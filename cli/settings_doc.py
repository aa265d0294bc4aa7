"""docs/settings.md: every setting the loader reads, rendered from the settings classes themselves.

`arb config --markdown > docs/settings.md` writes it; tests/unit/test_docs.py fails when the file is not what
`render()` produces now, so the reference cannot drift from the code. Only declared facts go in (variable,
default, secret flag, help), never a value from the environment: the output is the same on every machine.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from core.config import Secret, SettingDoc

MASK = "***"

HEADER = """\
# Settings

<!-- Generated from the config loader: do not edit by hand. Regenerate with
     `arb config --markdown > docs/settings.md`; tests/unit/test_docs.py fails when this file is stale. -->

Every setting is an environment variable, read by the one loader (`core/config.py`) from the settings
class that declares it (each package's settings module, listed in `cli/settings_index.py`). This page is
generated from those declarations: `arb config --markdown > docs/settings.md` regenerates it. `arb config`
shows the value each setting has in the current environment and where it came from (`--json` for a
document). A secret can also be given as a file named by `<VARIABLE>_FILE` (the "secret" column names it);
how secrets are read and masked: [operations.md, "Settings and secrets"](operations.md#settings-and-secrets).
Money and prices are integers in the units of [design.md, "Units"](design.md#units).
"""


def shown(value: Any, secret: bool) -> str:
    """A setting's value as printed: a secret only as *** (set) or empty (unset); tuples comma-joined."""
    if secret or isinstance(value, Secret):
        return MASK if value else ""
    if value is None:
        return ""
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _cell(text: str) -> str:
    """Markdown table cell text: one line, `|` escaped (a table needs it even inside code), and `<` outside code
    spans escaped so that `<host>` is shown, not taken for an HTML tag."""
    parts = " ".join(text.split()).replace("|", "\\|").split("`")
    return "`".join(p if i % 2 else p.replace("<", "&lt;") for i, p in enumerate(parts))


def _row(d: SettingDoc) -> str:
    default = shown(d.default, d.secret)
    default_cell = f"`{_cell(default)}`" if default else ""
    secret_cell = f"`{d.env}_FILE`" if d.secret else ""
    return f"| `{d.env}` | {default_cell} | {secret_cell} | {_cell(d.help)} |"


def render(docs: Iterable[SettingDoc], modules: dict[str, str]) -> str:
    """The whole page: one section per settings class, in declaration order. `modules`: class name -> module."""
    lines = [HEADER.rstrip()]
    section = None
    for d in docs:
        if d.section != section:
            section = d.section
            path = modules[section].replace(".", "/") + ".py"
            lines += ["", f"## {section}", "", f"Declared in `{path}`.", "",
                      "| variable | default | secret | meaning |", "|---|---|---|---|"]
        lines.append(_row(d))
    return "\n".join(lines) + "\n"


def settings_markdown() -> str:
    """docs/settings.md as the code declares it now."""
    from cli.settings_index import all_sections, all_settings

    modules = {cls.__name__: cls.__module__ for cls in all_sections()}
    return render(all_settings(), modules)
