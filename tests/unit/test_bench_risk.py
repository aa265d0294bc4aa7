"""`arb bench risk` times the risk gate's per-signal computation on a synthetic state of N held games."""

from __future__ import annotations

import json

import pytest

from cli.main import build_parser
from core.errors import CommandError


def test_bench_risk_prints_one_row_per_level(capsys: pytest.CaptureFixture[str]) -> None:
    args = build_parser().parse_args(["bench", "risk", "--games", "3,7", "--n", "4", "--json"])
    assert args.handler(args) == 0
    rows = json.loads(capsys.readouterr().out)["levels"]
    assert [(r["games"], r["n"]) for r in rows] == [(3, 4), (7, 4)]
    assert all(0 < r["p50_us"] <= r["p99_us"] for r in rows)


def test_bench_risk_refuses_a_level_that_is_not_a_positive_integer() -> None:
    args = build_parser().parse_args(["bench", "risk", "--games", "0", "--json"])
    with pytest.raises(CommandError, match="positive"):
        args.handler(args)
