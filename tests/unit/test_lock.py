"""The Python dependency locks: every package pinned with its hashes, within pyproject.toml's ranges, past the
known advisories, and the only source `make` and the Docker image install from."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)")

# Lower bounds past published advisories (the lock and pyproject.toml both honour them).
ADVISORIES = {
    "aiohttp": Version("3.12.14"),  # CVE-2025-53643 (request smuggling in the pure-Python parser)
    "cryptography": Version("44.0.1"),  # CVE-2024-12797 (the OpenSSL its wheels bundled)
}


def read_lock(name: str) -> dict[str, tuple[Version, int]]:  # keys: canonical names
    """package -> (pinned version, number of hashes). Fails on any requirement that is not pinned with ==."""
    pins: dict[str, tuple[Version, int]] = {}
    current: str | None = None
    for raw in (REPO / name).read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("--hash=sha256:"):
            assert current is not None, f"{name}: a hash before any requirement"
            version, n = pins[current]
            pins[current] = (version, n + 1)
            continue
        assert not line.startswith("-"), f"{name}: unexpected option {line!r} (no index URLs or includes in a lock)"
        m = PIN.match(line)
        assert m, f"{name}: not pinned with ==: {line!r}"
        current = str(canonicalize_name(m.group(1)))
        pins[current] = (Version(m.group(2)), 0)
    return pins


@pytest.mark.parametrize("name", ["requirements.lock", "requirements-dev.lock"])
def test_every_requirement_is_pinned_with_a_hash(name: str) -> None:
    pins = read_lock(name)
    assert pins, f"{name} is empty"
    assert not [p for p, (_, n) in pins.items() if n == 0], f"{name}: pins without a hash"
    assert "setuptools" in pins, f"{name}: the build backend must be locked (the project is built without build isolation)"


def test_locks_satisfy_pyproject() -> None:
    runtime, dev = read_lock("requirements.lock"), read_lock("requirements-dev.lock")
    build = [Requirement(r) for r in PYPROJECT["build-system"]["requires"]]
    for lock, reqs in ((runtime, PYPROJECT["project"]["dependencies"]),
                       (dev, PYPROJECT["project"]["dependencies"] + PYPROJECT["project"]["optional-dependencies"]["dev"])):
        for req in [Requirement(r) for r in reqs] + build:
            name = canonicalize_name(req.name)
            assert name in lock, f"{req} is not in the lock"
            assert req.specifier.contains(lock[name][0], prereleases=True), f"lock pins {name}=={lock[name][0]}, outside {req}"
    # One set of versions: the image runs what the tests ran.
    assert {p: v for p, (v, _) in runtime.items()} == {p: dev[p][0] for p in runtime}


def test_lower_bounds_past_known_advisories() -> None:
    deps = {str(canonicalize_name(Requirement(r).name)): Requirement(r) for r in PYPROJECT["project"]["dependencies"]}
    for lock in (read_lock("requirements.lock"), read_lock("requirements-dev.lock")):
        for name, fixed in ADVISORIES.items():
            assert lock[name][0] >= fixed, f"lock pins {name} {lock[name][0]} < {fixed}"
    for name, fixed in ADVISORIES.items():
        # No release before the fix may satisfy pyproject.toml (a bare `pip install .` could pick it).
        assert not deps[name].specifier.contains(Version(f"{fixed.major}.{fixed.minor}.{max(fixed.micro - 1, 0)}")), deps[name]
        assert deps[name].specifier.contains(fixed), deps[name]


def test_make_and_the_image_install_only_from_the_locks() -> None:
    make = (REPO / "Makefile").read_text()
    recipe = make.split("$(STAMP):", 1)[1].split("\n\n", 1)[0]
    assert "requirements-dev.lock" in recipe.splitlines()[0], "the venv must be rebuilt when the lock changes"
    assert re.search(r"pip install .*--require-hashes .*-r requirements-dev\.lock", recipe)
    project = [ln for ln in recipe.splitlines() if "pip install" in ln and "-e ." in ln]
    assert project and all("--no-deps" in ln for ln in project), "the project itself must not pull unlocked dependencies"
    assert not [ln for ln in recipe.splitlines() if "pip install" in ln and "--upgrade" in ln], "no unhashed upgrades"
    docker = (REPO / "Dockerfile").read_text()
    installs = [ln for ln in docker.splitlines() if "pip install" in ln]
    assert any(re.search(r"--require-hashes .*-r requirements\.lock", ln) for ln in installs)
    assert all("--require-hashes" in ln or "--no-deps" in ln for ln in installs), installs
    assert "COPY requirements.lock" in docker
