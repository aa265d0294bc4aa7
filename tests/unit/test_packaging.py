"""What pyproject.toml ships: every package typed (PEP 561 py.typed), the same package list for setuptools, mypy and
ruff's import sorting, and the local Kafka's jar lock as package data (`arb broker` reads it from the install)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from localkafka import dist

REPO = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
PACKAGES = {p.rstrip("*") for p in PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]}


def test_every_package_is_marked_typed() -> None:
    assert "py.typed" in PYPROJECT["tool"]["setuptools"]["package-data"]["*"]
    assert sorted(p for p in PACKAGES if not (REPO / p / "py.typed").is_file()) == []


def test_setuptools_mypy_and_ruff_know_the_same_packages() -> None:
    assert set(PYPROJECT["tool"]["mypy"]["packages"]) == PACKAGES
    assert set(PYPROJECT["tool"]["ruff"]["lint"]["isort"]["known-first-party"]) == PACKAGES | {"tests"}


def test_the_jar_lock_is_package_data() -> None:
    package = dist.LOCK_FILE.parent.relative_to(REPO).as_posix()
    assert package in PACKAGES and dist.LOCK_FILE.is_file()
    assert any(dist.LOCK_FILE.match(pattern) for pattern in PYPROJECT["tool"]["setuptools"]["package-data"]["*"])
