"""Imports flow one way: cli -> tools (bench, demo, simulators, localkafka) -> roles -> venues/core. The product
(what `arb execute`, `process`, `produce`, `discover` and `positions` run) never imports the simulators, the
benchmarks, the demo, the local Kafka, the command line or the tests, so none of them can change what trades."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("core", "schemas", "venues", "producers", "processors", "executor", "positions", "recording")
TOOLS = ("simulators", "bench", "demo", "localkafka")
FORBIDDEN = {
    **{pkg: {"cli", "tests", *TOOLS} for pkg in PRODUCT},
    "simulators": {"cli", "tests", "bench", "demo", "localkafka", "producers", "processors", "executor", "positions", "recording"},
    "localkafka": {"cli", "tests", "bench", "demo", "simulators", "venues", "producers", "processors", "executor", "positions", "recording"},
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
    (tmp_path / "core").mkdir()
    (tmp_path / "core" / "z.py").write_text("from localkafka.run import run_prefix\n")  # the test broker's helpers are no product's
    assert violations(tmp_path) == ["bench/y.py imports cli", "core/z.py imports localkafka", "executor/x.py imports simulators"]


# --- no import cycles -----------------------------------------------------------------------------------------

ACYCLIC = ("simulators", "localkafka")  # packages checked for cycles between their own modules


def module_imports(path: Path, modules: set[str]) -> set[str]:
    """The modules of `modules` that `path` imports, at any level (a function-level import is a cycle postponed,
    not avoided), except under `if TYPE_CHECKING:` (annotations only, never run)."""
    found: set[str] = set()
    todo: list[ast.AST] = [ast.parse(path.read_text(), str(path))]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            todo += node.orelse
            continue
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.update({node.module} | {f"{node.module}.{a.name}" for a in node.names})
        todo += ast.iter_child_nodes(node)
    return found & modules


def import_cycles(root: Path, packages: tuple[str, ...]) -> list[list[str]]:
    paths = {".".join(p.relative_to(root).with_suffix("").parts).removesuffix(".__init__"): p
             for pkg in packages for p in (root / pkg).rglob("*.py")}
    graph = {m: module_imports(p, set(paths)) - {m} for m, p in paths.items()}
    cycles = []
    for start in sorted(graph):  # a path back to `start` through modules after it: each cycle once
        todo, seen = [[start]], set()
        while todo:
            path = todo.pop()
            for nxt in sorted(graph[path[-1]]):
                if nxt == start:
                    cycles.append(path)
                elif nxt > start and nxt not in seen:
                    seen.add(nxt)
                    todo.append([*path, nxt])
    return cycles


def test_the_simulators_and_the_local_kafka_have_no_import_cycle() -> None:
    assert import_cycles(ROOT, ACYCLIC) == []


def test_the_cycle_check_sees_a_function_level_cycle_and_not_a_type_only_import(tmp_path: Path) -> None:
    (tmp_path / "simulators").mkdir()
    (tmp_path / "simulators" / "world.py").write_text("from simulators.scenario import Scenario\n")
    (tmp_path / "simulators" / "scenario.py").write_text("def f() -> None:\n    from simulators import world\n")
    (tmp_path / "simulators" / "lifecycle.py").write_text(
        "from typing import TYPE_CHECKING\nfrom simulators.scenario import Scenario\nif TYPE_CHECKING:\n    from simulators.world import SimWorld\n")
    assert import_cycles(tmp_path, ("simulators",)) == [["simulators.scenario", "simulators.world"]]
