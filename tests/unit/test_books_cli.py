"""`arb books`: offline book rebuild from recorded frames, via the CLI entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli.main import main

FIX = Path(__file__).parents[1] / "resources"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(["books", *argv])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_kalshi_jsonl_snapshot_plus_delta(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    frames = tmp_path / "k.jsonl"
    lines = [json.dumps(json.loads((FIX / "kalshi" / n).read_text())) for n in ("ws_orderbook_snapshot.json", "ws_orderbook_delta.json")]
    frames.write_text("\n".join(lines) + "\n")
    rc, out, _ = _run(capsys, "--venue", "kalshi", "--frames", str(frames), "--json")
    assert rc == 0
    assert json.loads(out) == {"KXBTC-25MAR15-B100000": {
        "bids": [["0.42", "63"], ["0.35", "200"]], "asks": [["0.44", "17"], ["0.46", "400"]], "status": "ok"}}


def test_kalshi_yes_price_flag_changes_the_scale(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = _run(capsys, "--venue", "kalshi", "--frames", str(FIX / "kalshi" / "ws_orderbook_snapshot.json"), "--json", "--yes-price")
    assert rc == 0
    book = json.loads(out)["KXBTC-25MAR15-B100000"]
    assert book["asks"] == [["0.54", "400"], ["0.56", "17"]]  # NO levels read as YES-scale asks
    assert book["status"] == "ok"


def test_kalshi_demo_capture_empty_book(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = _run(capsys, "--venue", "kalshi", "--frames", str(FIX / "kalshi" / "ws_demo_capture.jsonl"), "--json")
    assert rc == 0 and json.loads(out) == {"KXBTCD-26AUG2017-T73749.99": {"bids": [], "asks": [], "status": "ok"}}
    assert "0 bad inputs" in err


def test_polymarket_array_of_frames_with_nested_array(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    book = json.loads((FIX / "polymarket" / "ws_market_book_msg.json").read_text())
    change = json.loads((FIX / "polymarket" / "ws_market_price_change_msg.json").read_text())
    mixed = json.loads((FIX / "polymarket" / "ws_market_mixed_known_unknown.json").read_text())
    f = tmp_path / "p.json"
    f.write_text(json.dumps([book, [change], mixed]))
    rc, out, err = _run(capsys, "--venue", "polymarket", "--frames", str(f), "--json")
    assert rc == 0
    books = json.loads(out)
    asset = book["asset_id"]
    assert books[asset] == {"bids": [["0.51", "150"], ["0.50", "200"], ["0.49", "350"]],
                            "asks": [["0.51", "150"], ["0.52", "250"]], "status": "crossed"}
    assert "unknown event type settlement_preview" in err and "(crossed)" in err


def test_polymarket_captured_book_table(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = _run(capsys, "--venue", "polymarket", "--frames", str(FIX / "polymarket" / "ws_book_snapshot_captured.json"), "--depth", "1")
    assert rc == 0
    assert "[ok]" in out and "0.07" in out and "0.08" in out and "0.09" not in out


def test_garbage_lines_counted_not_fatal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "bad.jsonl"
    snap = json.dumps(json.loads((FIX / "kalshi" / "ws_orderbook_snapshot.json").read_text()))
    f.write_text("{nope\n" + snap + '\n{"type": "orderbook_delta", "sid": 1, "seq": 2, "msg": {"market_ticker": "X", '
                 '"price_dollars": "0.5", "delta_fp": "1", "side": "yes"}}\n')
    rc, out, err = _run(capsys, "--venue", "kalshi", "--frames", str(f), "--json")
    assert rc == 0
    assert "2 bad inputs" in err and "unknown ticker X" in err and "malformed JSON" in err
    assert json.loads(out)["KXBTC-25MAR15-B100000"]["status"] == "ok"


def test_missing_file_is_a_clean_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = _run(capsys, "--venue", "kalshi", "--frames", str(tmp_path / "none.json"))
    assert rc == 2 and "cannot read" in err and "Traceback" not in err
