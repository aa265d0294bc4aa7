"""Output for people (issue 28): dollars and contracts from the schemas' units, effective settings with secrets
masked, `arb --version`, kcat-style short flags, one meaning of --json."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pytest

import schemas
from cli.commands import config as config_cmd
from cli.commands import sim as sim_cmd
from cli.commands import status as status_cmd
from cli.commands import tail as tail_cmd
from cli.main import build_parser, main
from core.errors import CommandError
from core.jsonout import human, unit_dp
from tests.factories import tick


def test_units_come_from_the_schema_docs() -> None:
    assert unit_dp("Price in 1e-4 USD per contract (0.5432 USD -> 5432).") == 4
    assert unit_dp("Fee in 1e-6 USD.") == 6 and unit_dp("Contracts/shares to buy, in 1e-2.") == 2
    assert unit_dp("Canonical game id") is None


def test_a_tick_in_dollars_and_contracts() -> None:
    rec = tick("K-BUF", bids=[(4600, 1250)], asks=[(4701, 100)])
    out = human(rec, schemas.latest("Tick").schema)
    assert out["bids"] == [{"price": "0.46", "size": "12.5"}] and out["asks"] == [{"price": "0.4701", "size": "1"}]
    assert out["received_ts"] == rec["received_ts"] and out["game_id"] == rec["game_id"]  # not a unit: untouched
    assert rec["bids"][0]["price"] == 4600  # the record itself is not changed


def test_money_fields_of_an_outcome_are_exact_dollars() -> None:
    schema = schemas.latest("Outcome").schema
    fields = {f["name"] for f in schema["fields"]}
    value = {"cost": 48_516_300, "fees": 1, "locked_profit": -2_500_000, "matched_size": 5000}
    out = human(value, {**schema, "fields": [f for f in schema["fields"] if f["name"] in value]})
    assert {"cost", "fees", "locked_profit", "matched_size"} <= fields
    assert out == {"cost": "48.5163", "fees": "0.000001", "locked_profit": "-2.50", "matched_size": "50"}


def test_a_tail_line_is_one_json_object_with_utc_time() -> None:
    rec = tick("K-BUF", bids=[(4600, 1250)])
    meta = {"topic": "arb.ticks", "partition": 11, "offset": 313, "timestamp_ms": 1_796_000_000_123}
    line = tail_cmd.line(meta, "nfl-x", "Tick", rec, raw=False)
    assert json.loads(json.dumps(line))["time"] == "2026-11-30T00:53:20.123Z"
    assert line["partition"] == 11 and line["offset"] == 313 and line["value"]["bids"][0]["price"] == "0.46"
    assert tail_cmd.line(meta, "nfl-x", "Tick", rec, raw=True)["value"]["bids"][0]["price"] == 4600
    assert tail_cmd.line({**meta, "timestamp_ms": -1}, None, None, None, raw=False)["time"] is None


@pytest.mark.parametrize("text,beginning,want", [(None, False, ("end", 0)), ("end", False, ("end", 0)), ("beginning", False, ("beginning", 0)),
                                                 (None, True, ("beginning", 0)), ("42", False, ("absolute", 42)), ("-10", False, ("tail", 10))])
def test_tail_offsets_follow_kcat(text: str | None, beginning: bool, want: tuple[str, int]) -> None:
    assert tail_cmd.parse_offset(text, beginning) == want


def test_tail_refuses_an_offset_it_cannot_read() -> None:
    for text, beginning in (("middle", False), ("42", True)):
        with pytest.raises(CommandError) as ei:
            tail_cmd.parse_offset(text, beginning)
        assert ei.value.code == 2


def test_short_flags() -> None:
    parser = build_parser()
    a = parser.parse_args(["tail", "-t", "ticks", "-b", "h:1", "-o", "-5", "-c", "3", "-e", "-p", "2"])
    assert (a.topic_opt, a.bootstrap, a.offset, a.limit, a.exit_at_end, a.partition) == ("ticks", "h:1", "-5", 3, True, 2)
    assert parser.parse_args(["record", "-t", "ticks", "-o", "x.avro"]).topic == "ticks"
    assert parser.parse_args(["replay", "-t", "ticks", "--detect"]).topic == "ticks"
    assert parser.parse_args(["status", "-b", "h:2"]).bootstrap == "h:2"
    assert parser.parse_args(["discover", "--once", "-l", "warning"]).loglevel == "warning"  # Faust's -l, as `arb process --loglevel`


def test_version() -> None:
    proc = subprocess.run([sys.executable, "-m", "cli", "--version"], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0 and proc.stdout.startswith("arb ") and proc.stdout.split()[1][0].isdigit(), proc


def test_config_shows_effective_values_and_masks_secrets() -> None:
    env = {"ARB_BOOTSTRAP": "kafka-1:9092", "ARB_POLY_PRIVATE_KEY": "ab" * 32, "ARB_KALSHI_TIER": "premier"}
    rows = {r["env"]: r for r in config_cmd.effective(env)}
    assert rows["ARB_BOOTSTRAP"]["value"] == "kafka-1:9092" and rows["ARB_BOOTSTRAP"]["source"] == "env"
    assert rows["ARB_BOOTSTRAP"]["default"] == "127.0.0.1:9092"
    assert rows["ARB_KALSHI_TIER"]["value"] == "premier"
    assert rows["ARB_POLY_PRIVATE_KEY"]["value"] == "***" and rows["ARB_POLY_PRIVATE_KEY"]["secret"]
    assert "ab" * 8 not in json.dumps(list(rows.values()))
    assert rows["ARB_TOPIC_PREFIX"] == {**rows["ARB_TOPIC_PREFIX"], "value": "arb.", "source": "default"}


def test_config_names_a_setting_it_cannot_use(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ARB_PARTITIONS", "many")
    assert main(["config"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("arb config: ARB_PARTITIONS"), err


def test_config_json_is_one_document(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ARB_BOOTSTRAP", "kafka-1:9092")
    assert main(["config", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert next(r for r in doc if r["env"] == "ARB_BOOTSTRAP")["value"] == "kafka-1:9092"


def test_status_keeps_the_groups_of_its_prefix() -> None:
    ours = {"arb.ticks": "ticks", "arb.signals": "signals"}
    assert status_cmd.of_prefix([], ours)  # just started: nothing committed yet
    assert status_cmd.of_prefix(["arb.signals", "arb.test.signals"], ours)
    assert not status_cmd.of_prefix(["arb.test.signals"], ours)  # a longer prefix's group


def test_sim_numbers_out_of_range() -> None:
    from core.config import load
    from simulators.settings import SimSettings

    args = argparse.Namespace(duration=0.0, fault_kalshi_429=None, fault_kalshi_5xx=None, fault_poly_429=None, fault_poly_5xx=None,
                              fault_kalshi_latency_ms=None, fault_poly_latency_ms=None)
    assert sim_cmd.out_of_range(load(SimSettings, env={}), args) is None
    assert "--games" in (sim_cmd.out_of_range(load(SimSettings, env={}, overrides={"games": -1}), args) or "")
    assert "--fault-poly-429" in (sim_cmd.out_of_range(load(SimSettings, env={}), argparse.Namespace(**{**vars(args), "fault_poly_429": 1.5})) or "")
    assert sim_cmd.out_of_range(load(SimSettings, env={}, overrides={"updates_per_s": float("nan")}), args) is not None


def test_arb_config_prints_what_the_environment_sets() -> None:
    """Issue 28: `ARB_BOOTSTRAP=kafka-1:9092 arb config` still showed 127.0.0.1:9092 (the default)."""
    import os

    key = "cd" * 32
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("ARB_")}, "ARB_BOOTSTRAP": "kafka-1:9092", "ARB_POLY_PRIVATE_KEY": key}
    proc = subprocess.run([sys.executable, "-m", "cli", "config"], capture_output=True, text=True, timeout=30, env=env)
    assert proc.returncode == 0, proc.stderr
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("ARB_BOOTSTRAP "))
    assert "kafka-1:9092" in line and "127.0.0.1:9092" not in line, line
    assert key[:8] not in proc.stdout and "ARB_POLY_PRIVATE_KEY " in proc.stdout
