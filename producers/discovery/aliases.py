"""League and team alias table: venue names and codes -> canonical lowercase team codes.

The table ships as data (aliases.yaml next to this module); a user file in the same format is merged
over it (ARB_DISCOVER_ALIASES_FILE): its leagues are added, and for a league it names, its teams add
to or replace the shipped aliases of the same code.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SHIPPED = Path(__file__).with_name("aliases.yaml")


class AliasError(ValueError):
    """The alias file is malformed or ambiguous."""


def normalise(name: str) -> str:
    """Lowercase, accents stripped, '&' as 'and', punctuation removed, whitespace collapsed."""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower().replace("&", " and ")
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text).split())


@dataclass
class League:
    code: str
    draws: bool
    kalshi_series: tuple[str, ...]
    gamma_series: tuple[str, ...]
    names: dict[str, str] = field(default_factory=dict)  # normalised name or code -> team code

    def team(self, name: str) -> str | None:
        return self.names.get(normalise(name))


@dataclass
class AliasTable:
    leagues: dict[str, League]

    def league_of_kalshi_series(self, series: str) -> League | None:
        for lg in self.leagues.values():
            if series.upper() in lg.kalshi_series:
                return lg
        return None

    def league_of_gamma(self, slugs: list[str]) -> League | None:
        wanted = {s.lower() for s in slugs if s}
        for lg in self.leagues.values():
            if wanted & set(lg.gamma_series) or lg.code in wanted:
                return lg
        return None


def _league(code: str, spec: dict[str, Any], base: League | None) -> League:
    if not isinstance(spec, dict):
        raise AliasError(f"league {code!r}: expected a mapping")
    teams = spec.get("teams") or {}
    if not isinstance(teams, dict):
        raise AliasError(f"league {code!r}: 'teams' must map team codes to lists of names")
    lg = League(code=code,
                draws=bool(spec.get("draws", base.draws if base else False)),
                kalshi_series=tuple(str(s).upper() for s in spec.get("kalshi_series", base.kalshi_series if base else ())),
                gamma_series=tuple(str(s).lower() for s in spec.get("gamma_series", base.gamma_series if base else ())),
                names=dict(base.names) if base else {})
    for team, names in teams.items():
        team = str(team).lower()
        if not isinstance(names, list):
            raise AliasError(f"league {code!r} team {team!r}: expected a list of names")
        # A user entry for a team replaces that team's shipped names.
        lg.names = {n: t for n, t in lg.names.items() if t != team}
        for name in [team, *map(str, names)]:
            key = normalise(name)
            other = lg.names.get(key)
            if other is not None and other != team:
                raise AliasError(f"league {code!r}: name {name!r} is ambiguous ({other} and {team})")
            lg.names[key] = team
    return lg


def parse(doc: Any, base: AliasTable | None = None) -> AliasTable:
    if not isinstance(doc, dict) or not isinstance(doc.get("leagues"), dict):
        raise AliasError("alias file: expected a top-level 'leagues' mapping")
    leagues = dict(base.leagues) if base else {}
    for code, spec in doc["leagues"].items():
        code = str(code).lower()
        leagues[code] = _league(code, spec, leagues.get(code))
    return AliasTable(leagues)


def load(user_file: str = "") -> AliasTable:
    table = parse(yaml.safe_load(SHIPPED.read_text()))
    if user_file:
        path = Path(user_file)
        try:
            doc = yaml.safe_load(path.read_text())
        except OSError as exc:
            raise AliasError(f"alias file {path}: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            raise AliasError(f"alias file {path}: not valid YAML ({exc})") from None
        table = parse(doc, table)
    return table
