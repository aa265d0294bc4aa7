"""docs/ stays true to the code: the settings reference is exactly what the loader declares, every relative
link resolves inside the repository, the design sections the code refers to exist, and the design's tables
name every answer class and outcome state the code has."""

import json
import re
from pathlib import Path

import pytest

from cli.main import main
from cli.settings_doc import settings_markdown
from cli.settings_index import all_settings
from core.config import settings_docs
from executor.answers import Answer
from tests.conftest import REPO
from tests.markdown_links import broken_links, headings

DOCS = REPO / "docs"
SETTINGS_MD = DOCS / "settings.md"
DESIGN_MD = DOCS / "design.md"
REGENERATE = "arb config --markdown > docs/settings.md"


def test_settings_reference_is_what_the_loader_declares() -> None:
    assert SETTINGS_MD.read_text() == settings_markdown(), f"docs/settings.md is stale: run `{REGENERATE}`"


def test_arb_config_markdown_prints_the_reference(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "--markdown"]) == 0
    assert capsys.readouterr().out == settings_markdown()


def test_arb_config_markdown_ignores_the_environment(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The reference shows defaults, never this machine's values, and works where `arb config` would refuse one."""
    monkeypatch.setenv("ARB_BOOTSTRAP", "kafka-1:9092")
    monkeypatch.setenv("ARB_PARTITIONS", "many")
    assert main(["config", "--markdown"]) == 0
    out = capsys.readouterr().out
    assert "kafka-1:9092" not in out and "| `ARB_BOOTSTRAP` | `127.0.0.1:9092` |" in out


def test_every_setting_is_in_the_settings_reference() -> None:
    text = SETTINGS_MD.read_text()
    missing = [d.env for d in all_settings() if f"| `{d.env}` |" not in text]
    assert not missing, f"document these settings (`{REGENERATE}`): {missing}"


def test_every_settings_row_is_one_row_of_four_cells() -> None:
    """A help text with `|` or a line break must not split or end its row (it would shift every later column)."""
    rows = [line for line in SETTINGS_MD.read_text().splitlines() if line.startswith("| `ARB_")]
    assert len(rows) == len(all_settings())
    bad = [row for row in rows if len(re.split(r"(?<!\\)\|", row)) != 6]
    assert not bad, f"rows that are not 4 cells: {bad}"


def test_secrets_are_marked_and_their_defaults_never_shown() -> None:
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| `(ARB_\w+)` \|.*$", SETTINGS_MD.read_text(), re.M)}
    for d in all_settings():
        if d.secret:
            assert f"`{d.env}_FILE`" in rows[d.env], d.env
            default = getattr(d.default, "reveal", lambda: "")()
            assert not default or default not in rows[d.env], f"{d.env}'s default value is printed"


@pytest.mark.parametrize("doc", sorted(p.name for p in DOCS.glob("*.md")))
def test_doc_links_resolve_inside_the_repository(doc: str) -> None:
    bad = broken_links(DOCS / doc)
    assert not bad, f"docs/{doc}: links that leave the repository or name a missing file or heading: {bad}"


def _code_references() -> list[tuple[str, str, str]]:
    """(file, doc, section) for every reference of the form  design.md + "a section title"  (or docs/x.md + title)
    in the source, the deployment files and docs/."""
    refs: list[tuple[str, str, str]] = []
    pattern = re.compile(r"(?:docs/)?(\w+)\.md[,:]? \"([^\"]+)\"")
    roots = ["core", "cli", "venues", "producers", "processors", "executor", "positions", "recording", "simulators",
             "bench", "demo", "schemas", "tests", "deploy", "docs"]
    for root in roots:
        for path in sorted((REPO / root).rglob("*")):
            if path.suffix not in (".py", ".md", ".yml", ".yaml") or "__pycache__" in path.parts:
                continue
            for m in pattern.finditer(path.read_text(errors="replace")):
                if (DOCS / f"{m.group(1)}.md").exists():
                    refs.append((str(path.relative_to(REPO)), m.group(1), m.group(2)))
    return refs


def test_sections_the_code_refers_to_exist() -> None:
    refs = _code_references()
    assert any(doc == "design" and section == "Ambiguous venue answers" for _, doc, section in refs)
    missing = [r for r in refs if r[2] not in headings(DOCS / f"{r[1]}.md")]
    assert not missing, f"the code names sections docs/ does not have: {missing}"


def _table_after(heading: str, text: str) -> str:
    body = text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return "\n".join(line for line in body.splitlines() if line.startswith("|"))


def test_the_ambiguous_answers_table_names_every_answer_class() -> None:
    table = _table_after("Ambiguous venue answers", DESIGN_MD.read_text())
    missing = [a.name for a in Answer if f"| `{a.name}` |" not in table]
    assert not missing, f"docs/design.md \"Ambiguous venue answers\" lacks the classes {missing} of executor/answers.py"


def test_the_design_names_every_outcome_state() -> None:
    newest = max((REPO / "schemas" / "avro" / "outcome").glob("v*.avsc"), key=lambda p: int(p.stem[1:]))
    schema = json.loads(newest.read_text())
    states = next(f["type"]["symbols"] for f in schema["fields"] if isinstance(f["type"], dict) and f["type"].get("type") == "enum")
    outcomes = DESIGN_MD.read_text().split("\n### Outcomes\n", 1)[1].split("\n#", 1)[0]
    missing = [s for s in states if f"`{s}`" not in outcomes]
    assert not missing, f"docs/design.md \"Outcomes\" lacks {missing}"


# Environment variables read outside the config loader (the local Kafka's cache and mirror, the test suite's).
NOT_SETTINGS = {"ARB_KAFKA_CACHE", "ARB_MAVEN_REPOSITORY", "ARB_TEST_BOOTSTRAP", "ARB_TEST_BROKER", "ARB_FUZZ_SECONDS"}
PAGES = [REPO / "README.md", *sorted(DOCS.glob("*.md"))]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_variable_named_is_one_the_code_reads(page: Path) -> None:
    """A setting renamed or retired in the code is renamed in the documentation too. `ARB_EXEC_*` names a family."""
    names = {d.env for d in all_settings()} | {d.env for d in settings_docs(["processors.retired_settings"])}
    known = names | {n + "_FILE" for n in names} | NOT_SETTINGS
    unknown = sorted({m.group(0) for m in re.finditer(r"\bARB_[A-Z0-9_]*[A-Z0-9](?![A-Z0-9_]*\*)", page.read_text())} - known)
    families = {m.group(1) for m in re.finditer(r"\b(ARB_[A-Z0-9_]*_)\*", page.read_text())}
    unknown += sorted(f for f in families if not any(n.startswith(f) for n in names))
    assert not unknown, f"{page.relative_to(REPO)} names variables the code does not read: {unknown}"


# A repository path in code style: a top-level directory of the project, then a file with an extension.
REPO_PATH = re.compile(r"`((?:" + "|".join(sorted(p.name for p in REPO.iterdir() if p.is_dir() and not p.name.startswith(".")))
                       + r")/[\w./-]+\.(?:py|json|md|yml|yaml|avsc|lock))(?:::\w+)?`")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_file_named_exists(page: Path) -> None:
    """A module moved or renamed in the code is moved in the documentation too."""
    missing = sorted({m.group(1) for m in REPO_PATH.finditer(page.read_text()) if not (REPO / m.group(1)).exists()})
    assert not missing, f"{page.relative_to(REPO)} names files that do not exist: {missing}"
