"""Links and headings of the project's Markdown (README.md, docs/), for the documentation tests."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import REPO

FENCE = re.compile(r"^ {0,3}(```|~~~).*?^ {0,3}\1[^\n]*$", re.S | re.M)
CODE_SPAN = re.compile(r"(`+)(?!`).*?(?<!`)\1(?!`)", re.S)
LINK = re.compile(r"\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
URL = re.compile(r"\b(?:https?|wss?|ftp)://[^\s)>\]`'\"]+")
SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)
LOCAL_HOSTS = ("127.0.0.1", "localhost")


def prose(text: str) -> str:
    """The text without fenced code blocks and code spans (what renders as links and headings)."""
    return CODE_SPAN.sub("code", FENCE.sub("", text))


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lowercase, punctuation dropped, spaces to hyphens."""
    text = heading.strip().lower().replace("`", "")
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    return {slug(m.group(1)) for m in re.finditer(r"^#{1,6} +(.+?) *#*$", FENCE.sub("", path.read_text()), re.M)}


def headings(path: Path) -> set[str]:
    """The heading texts of a Markdown file (code fences skipped)."""
    return {m.group(1) for m in re.finditer(r"^#{1,6} +(.+?) *#*$", FENCE.sub("", path.read_text()), re.M)}


def link_targets(text: str) -> list[str]:
    return LINK.findall(prose(text))


def broken_links(path: Path, root: Path = REPO) -> list[str]:
    """Relative links of `path` that leave `root`, name no existing file, or name an anchor that is not a
    heading of their file. Links with a scheme (https:, mailto:) are not judged here: see outside_urls."""
    bad: list[str] = []
    for target in link_targets(path.read_text()):
        if SCHEME.match(target):
            continue
        file_part, _, anchor = target.partition("#")
        dest = (path.parent / file_part).resolve() if file_part else path.resolve()
        if not dest.is_relative_to(root.resolve()) or not dest.exists():
            bad.append(target)
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            bad.append(target)
    return bad


def outside_urls(text: str) -> list[str]:
    """Web addresses in the prose (links and bare URLs, code excluded) other than this machine's loopback."""
    found = [u.rstrip(".,;:!?") for u in URL.findall(prose(text))] + [t for t in link_targets(text) if SCHEME.match(t) and not URL.match(t)]
    return [u for u in found if not any(u.split("://", 1)[-1].startswith(h) for h in LOCAL_HOSTS)]
