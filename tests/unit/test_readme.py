"""The README documents every `arb` command and every setting the loader reads."""

from pathlib import Path

from cli.main import build_parser
from cli.settings_index import all_settings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_every_command_is_in_the_readme() -> None:
    sub = next(a for a in build_parser()._actions if a.__class__.__name__ == "_SubParsersAction")
    missing = [name for name in sub.choices if f"arb {name}" not in README]  # type: ignore[attr-defined]
    assert not missing, f"document these commands in README.md: {missing}"


def test_every_setting_is_in_the_readme() -> None:
    missing = [d.env for d in all_settings() if f"`{d.env}`" not in README]
    assert not missing, f"document these settings in README.md (see `arb config`): {missing}"


def test_readme_shows_the_ci_test_command() -> None:
    ci = (Path(__file__).resolve().parents[2] / ".ci" / "run").read_text().strip().splitlines()[-1]
    assert ci.strip() in README
