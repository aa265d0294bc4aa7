"""The README is what a user reads: every `arb` command, the CI command, at most 300 lines, and no link that
leaves the repository (the rest of the documentation is docs/, checked by test_docs.py)."""

import argparse
import re
from pathlib import Path

from cli.main import build_parser
from tests.conftest import REPO
from tests.markdown_links import broken_links, outside_urls

README_PATH = REPO / "README.md"
README = README_PATH.read_text()
MAX_LINES = 300


def test_every_command_is_in_the_readme() -> None:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    missing = [name for name in sub.choices if f"arb {name}" not in README]
    assert not missing, f"document these commands in README.md: {missing}"


def test_readme_shows_the_ci_test_command() -> None:
    ci = (REPO / ".ci" / "run").read_text().strip().splitlines()[-1]
    assert ci.strip() in README


def test_readme_is_short() -> None:
    lines = len(README.splitlines())
    assert lines <= MAX_LINES, f"README.md has {lines} lines; move reference material to docs/ (at most {MAX_LINES})"


def test_readme_links_stay_in_the_repository() -> None:
    """Every link is a relative path to a file of the repository (its anchor, if any, one of that file's
    headings), and the prose names no web address but loopback ones: nothing outside the repository, nothing
    that exists only on one machine (a sibling folder of the clone)."""
    assert not broken_links(README_PATH), "README.md links that do not resolve inside the repository"
    assert not outside_urls(README), "README.md points outside the repository"


def test_readme_has_no_dated_lab_notes() -> None:
    dates = re.findall(r"\b20\d\d-\d\d-\d\d\b", README)
    assert not dates, f"dated notes belong in docs/performance.md, not README.md: {dates}"
    assert "this session" not in README.lower()


def test_the_link_checks_catch_what_they_are_for(tmp_path: Path) -> None:
    """A link out of the root, a missing file and a missing anchor are reported; web addresses other than
    loopback ones are reported unless they are code."""
    (tmp_path / "repo" / "docs").mkdir(parents=True)
    (tmp_path / "repo" / "docs" / "design.md").write_text("# Design\n\n## Units\n")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "notes.md").write_text("outside\n")
    doc = tmp_path / "repo" / "docs" / "probe.md"
    doc.write_text("[a](../../outside/notes.md) [b](design.md#units) [c](missing.md) [d](design.md#no-such-heading)\n"
                   "`[e](missing-in-code.md)`\n")
    assert broken_links(doc, tmp_path / "repo") == ["../../outside/notes.md", "missing.md", "design.md#no-such-heading"]
    text = "see https://example.com/x, [w](https://example.org/y), `https://in.code/` and http://127.0.0.1:9090"
    assert outside_urls(text) == ["https://example.com/x", "https://example.org/y"]
