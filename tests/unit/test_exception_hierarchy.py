"""Every exception the project defines derives from core.errors.ArbError (directly or through a package base), so
`except ArbError` catches every failure of ours and `retriable` is there to be read on each (issue 30, "Errors").

The check imports every module of the project's packages and looks at each class defined there (nested ones
too). It runs in a child interpreter: some modules do work at import (processors.app creates the Faust app)
that must not leak into this test session."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.unit.test_import_layers import PRODUCT, TOOLS

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = (*PRODUCT, *TOOLS, "cli")  # all the project's code but its tests

# Run as `python -c WALK root package...`: prints {"offenders": [...], "unimportable": [...]}.
WALK = r"""
import importlib, inspect, json, pkgutil, sys
from core.errors import ArbError

root, packages = sys.argv[1], sys.argv[2:]
sys.path.insert(0, root)
offenders, unimportable = set(), []


def check(owner, module_name):
    for obj in vars(owner).values():
        if inspect.isclass(obj) and obj.__module__ == module_name and obj is not owner:
            if issubclass(obj, BaseException) and not issubclass(obj, ArbError):
                offenders.add(f"{module_name}.{obj.__qualname__}")
            check(obj, module_name)  # classes nested in this one


for name in packages:
    names = [name] + [m.name for m in pkgutil.walk_packages(importlib.import_module(name).__path__, name + ".",
                                                             onerror=lambda n: unimportable.append(n))]
    for module_name in names:
        if module_name.rsplit(".", 1)[-1] == "__main__":  # `python -m` entry points run at import
            continue
        try:
            check(importlib.import_module(module_name), module_name)
        except Exception as exc:
            unimportable.append(f"{module_name}: {type(exc).__name__}: {exc}")
print(json.dumps({"offenders": sorted(offenders), "unimportable": unimportable}))
"""


def walk(root: Path, packages: tuple[str, ...]) -> dict[str, list[str]]:
    done = subprocess.run([sys.executable, "-c", WALK, str(root), *packages], cwd=ROOT, capture_output=True, text=True, timeout=240,
                          check=False)
    assert done.returncode == 0, done.stderr
    result: dict[str, list[str]] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_every_exception_of_the_project_is_an_arb_error() -> None:
    found = walk(ROOT, PACKAGES)
    assert not found["unimportable"], "modules the check cannot see into:\n" + "\n".join(found["unimportable"])
    assert not found["offenders"], "exception classes outside core.errors.ArbError:\n" + "\n".join(found["offenders"])


def test_the_check_sees_an_exception_outside_the_hierarchy(tmp_path: Path) -> None:
    pkg = tmp_path / "planted"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "ours.py").write_text("from json import JSONDecodeError  # not defined here: not ours to check\n"
                                 "from core.errors import ArbError\n\n"
                                 "class Good(ArbError):\n    pass\n\n"
                                 "class AlsoGood(Good, ValueError):\n    pass\n\n"
                                 "class Bad(ValueError):\n    pass\n\n"
                                 "class Holder:\n    class Inner(RuntimeError):\n        pass\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "deep.py").write_text("class Deep(Exception):\n    pass\n")
    (pkg / "sub" / "broken.py").write_text("raise ImportError('nope')\n")
    found = walk(tmp_path, ("planted",))
    assert found["offenders"] == ["planted.ours.Bad", "planted.ours.Holder.Inner", "planted.sub.deep.Deep"]
    assert found["unimportable"] == ["planted.sub.broken: ImportError: nope"]
