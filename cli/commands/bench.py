"""`arb bench NAME`: benchmarks. Each bench/<name>.py defines `register(sub)`; results print as JSON."""

from __future__ import annotations

import argparse
import importlib
import pkgutil

import bench


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="run a benchmark and print its results as JSON",
                       description="Benchmarks measure; they never assert. Each prints one JSON line with --json.")
    bsub = p.add_subparsers(dest="bench", metavar="BENCH")
    for info in sorted(pkgutil.iter_modules(bench.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"bench.{info.name}")
        if hasattr(mod, "register"):
            mod.register(bsub)
    p.set_defaults(handler=lambda args: (p.print_help(), 2)[1])
