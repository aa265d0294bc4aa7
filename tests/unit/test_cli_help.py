"""`arb --help` lists every subcommand, and each has its own working --help."""

import argparse
import subprocess
import sys

import pytest

from cli.main import build_parser


def _subcommands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out.append((*prefix, name))
                out += _subcommands(sub, (*prefix, name))
    return out


COMMANDS = _subcommands(build_parser())


def test_expected_commands_exist() -> None:
    names = {c[0] for c in COMMANDS}
    assert {"broker", "topics", "tail", "bench", "config"} <= names
    assert ("bench", "codec") in COMMANDS


def test_top_level_help_lists_every_command() -> None:
    out = subprocess.run([sys.executable, "-m", "cli", "--help"], capture_output=True, text=True, check=True).stdout
    for cmd in {c[0] for c in COMMANDS}:
        assert f"    {cmd}" in out


@pytest.mark.parametrize("cmd", COMMANDS, ids=" ".join)
def test_each_subcommand_help(cmd: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as ei:
        build_parser().parse_args([*cmd, "--help"])
    assert ei.value.code == 0
    assert "usage: arb " + " ".join(cmd) in capsys.readouterr().out


def test_bench_all_passes_bootstrap_only_to_the_benchmarks_that_take_it() -> None:
    from bench.all import ON_EXTERNAL_KAFKA, QUICK

    parser = build_parser()
    for bench in {name.split("-")[0] for name in QUICK}:
        argv = ["bench", bench, *(["--scenario", "executor-kill"] if bench == "chaos" else []), "--bootstrap", "h:9092"]
        if bench in ON_EXTERNAL_KAFKA:
            assert parser.parse_args(argv).bootstrap == "h:9092"
        else:
            with pytest.raises(SystemExit):
                parser.parse_args(argv)  # no --bootstrap there: it uses no Kafka
    assert parser.parse_args(["demo", "--bootstrap", "h:9092"]).bootstrap == "h:9092"


def test_building_the_parser_imports_no_venue_client_nor_http_stack() -> None:
    # Every role starts through `arb`, whose parser imports every command and bench module: what those import at the top
    # delays each start (a restarted processor's recovery among them). The venue clients, httpx and multiprocessing
    # cost ~100 ms there and are imported by the commands that use them, on use.
    heavy = ("venues.kalshi.rest", "venues.polymarket.rest", "httpx", "multiprocessing.connection")
    code = f"import sys; from cli.main import build_parser; build_parser(); print([m for m in {heavy!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True).stdout.strip()
    assert out == "[]", out
