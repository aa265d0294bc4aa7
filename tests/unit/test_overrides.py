"""Issue 27: the overrides file (producers/discovery/overrides.py) is validated strictly. A malformed file is refused
with one clear OverrideError (discovery reports it and keeps what it published), never a TypeError that ends the
discovery loop, never a silently converted value; a forced pair whose two events name different dates is refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from producers.discovery.exceptions import OverrideError
from producers.discovery.overrides import Overrides, load, parse

K = "KXNFLGAME-26NOV29BUFKC"
P = "nfl-buf-kc-2026-11-29"


def test_a_valid_file(tmp_path: Path) -> None:
    f = tmp_path / "o.yaml"
    f.write_text(f"""
force:
  - kalshi_event: {K}
    polymarket_event: {P}
  - kalshi_event: KXNBAGAME-26NOV30BOSLAL
    polymarket_event: 123456        # a Gamma event id
block:
  - game_id: nfl-20261129-buf-kc
  - kalshi_event: KXNBAGAME-26NOV30BOSLAL
  - polymarket_event: nba-bos-lal-2026-11-30
""")
    o = load(str(f))
    assert o.force == ((K, P), ("KXNBAGAME-26NOV30BOSLAL", "123456"))
    assert o.block_games == {"nfl-20261129-buf-kc"} and o.block_kalshi == {"KXNBAGAME-26NOV30BOSLAL"}
    assert o.block_polymarket == {"nba-bos-lal-2026-11-30"}
    assert load("") == Overrides() and parse(None) == Overrides() and parse({"force": None, "block": []}) == Overrides()


@pytest.mark.parametrize(("doc", "says"), [
    ({"force": 5}, "force must be a list"),  # before: TypeError ('int' object is not iterable)
    ({"block": 5}, "block must be a list"),
    ({"force": "x"}, "force must be a list"),  # before: iterated the characters
    ({"force": {"kalshi_event": K, "polymarket_event": P}}, "force must be a list"),
    ({"force": [{"kalshi_event": K, "polymarket_event": True}]}, "polymarket_event"),  # `yes` in YAML: before, "True"
    ({"force": [{"kalshi_event": True, "polymarket_event": P}]}, "kalshi_event"),
    ({"force": [{"kalshi_event": K, "polymarket_event": 1.5}]}, "polymarket_event"),
    ({"force": [{"kalshi_event": K, "polymarket_event": [P]}]}, "polymarket_event"),
    ({"force": [{"kalshi_event": 7, "polymarket_event": P}]}, "kalshi_event"),
    ({"force": [{"kalshi_event": K, "polymarket_event": P, "note": "x"}]}, "unknown key"),
    ({"force": [{"kalshi_event": K, "polymarket_event": P}, {"kalshi_event": K, "polymarket_event": "nfl-buf-kc-2026-11-29"}]}, "twice"),
    ({"force": [{"kalshi_event": "NOTATICKER", "polymarket_event": P}]}, "date"),
    ({"block": [{"game_id": True}]}, "game_id"),
    ({"block": [{"game_id": ""}]}, "game_id"),
    ({"block": [{"gameid": "x"}]}, "unknown key"),
    ({"block": ["nfl-20261129-buf-kc"]}, "block[0]"),
    ({"block": [{"polymarket_event": None}]}, "polymarket_event"),
])
def test_malformed_entries_are_refused_with_a_clear_error(doc: Any, says: str) -> None:
    with pytest.raises(OverrideError) as exc:
        parse(doc)
    assert says in str(exc.value)


def test_yaml_yes_is_not_true(tmp_path: Path) -> None:
    f = tmp_path / "o.yaml"
    f.write_text(f"force:\n  - kalshi_event: {K}\n    polymarket_event: yes\n")
    with pytest.raises(OverrideError, match="polymarket_event"):
        load(str(f))


def test_force_5_is_an_override_error_not_a_type_error(tmp_path: Path) -> None:
    f = tmp_path / "o.yaml"
    f.write_text("force: 5\n")
    with pytest.raises(OverrideError, match="force"):
        load(str(f))


@pytest.mark.parametrize("poly", ["nfl-buf-kc-2026-12-06", "nfl-buf-kc-2026-11-30"])
def test_a_forced_pair_on_two_dates_is_refused(poly: str) -> None:
    """Before: forced pairs skipped the date check (a series' other game, or a typo, paired two different games)."""
    with pytest.raises(OverrideError) as exc:
        parse({"force": [{"kalshi_event": K, "polymarket_event": poly}]})
    assert "2026-11-29" in str(exc.value) and poly[-10:] in str(exc.value)


def test_unreadable_files_are_override_errors(tmp_path: Path) -> None:
    f = tmp_path / "o.yaml"
    f.write_bytes(b"force:\n  - kalshi_event: \xff\xfe\n")
    with pytest.raises(OverrideError):
        load(str(f))
    f.write_text("force: " + "[" * 5000 + "]" * 5000)
    with pytest.raises(OverrideError):
        load(str(f))
    f.write_text("force: [unclosed")
    with pytest.raises(OverrideError):
        load(str(f))
    with pytest.raises(OverrideError):
        load(str(tmp_path / "missing.yaml"))


async def test_discovery_keeps_running_on_a_bad_live_edit(tmp_path: Path) -> None:
    """The round reports the file's error and publishes nothing (what it published under the previous file stays)."""
    from core.settings import KafkaSettings
    from producers.discovery.service import DiscoveryService

    f = tmp_path / "o.yaml"
    f.write_text("force: 5\n")
    fetched: list[str] = []

    async def fetch(aliases: Any) -> list[Any]:
        fetched.append("x")
        return []

    service = DiscoveryService(KafkaSettings(bootstrap="127.0.0.1:1"), fetch_kalshi=fetch, fetch_polymarket=fetch,
                               overrides_file=str(f))
    rep = await service.run_once()
    assert rep.errors and "force must be a list" in rep.errors[0] and not rep.published and not rep.tombstoned
    assert not fetched
