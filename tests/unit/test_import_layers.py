"""Imports flow one way: cli -> tools (bench, demo, simulators) -> roles -> venues/core. The product (what
`arb execute`, `process`, `produce`, `discover` and `positions` run) never imports the simulators, the
benchmarks, the demo, the command line or the tests, so none of them can change what trades."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("core", "schemas", "venues", "producers", "processors", "executor", "positions", "recording")
TOOLS = ("simulators", "bench", "demo")
FORBIDDEN = {
    **{pkg: {"cli", "tests", *TOOLS} for pkg in PRODUCT},
    "simulators": {"cli", "tests", "bench", "demo", "producers", "processors", "executor", "positions", "recording"},
    "bench": {"cli", "tests"},
    "demo": {"cli", "tests", "bench"},
}


def imported_packages(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def violations(root: Path) -> list[str]:
    out = []
    for pkg, forbidden in sorted(FORBIDDEN.items()):
        for path in sorted((root / pkg).rglob("*.py")):
            out += [f"{path.relative_to(root)} imports {bad}" for bad in sorted(imported_packages(path) & forbidden)]
    return out


def test_imports_flow_one_way() -> None:
    assert violations(ROOT) == []


def test_the_check_sees_a_wrong_way_import(tmp_path: Path) -> None:
    (tmp_path / "executor").mkdir()
    (tmp_path / "executor" / "x.py").write_text("def f() -> None:\n    from simulators.world import SimWorld\n")
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "y.py").write_text("import cli.common\n")
    assert violations(tmp_path) == ["bench/y.py imports cli", "executor/x.py imports simulators"]
