"""League and team alias table: venue names and codes -> canonical lowercase team codes.

The table ships as data (aliases.yaml next to this module); a user file in the same format is merged
over it (ARB_DISCOVER_ALIASES_FILE): its leagues are added, and for a league it names, its teams add
to or replace the shipped aliases of the same code.

Club-form affixes: Polymarket writes many football clubs with their legal suffix ("Tottenham Hotspur FC",
"Sunderland AFC", "Inter Miami CF") where Kalshi and the table write "Tottenham Hotspur". A name that
misses the table is retried without its leading/trailing affix tokens (CLUB_AFFIXES), but only when that
lands exactly on a listed name and no other team has a listed name with the same core: where the affix is
what tells two clubs apart ("Los Angeles FC" vs a "Los Angeles" alias of another club), nothing is guessed.
A venue name *without* the affix must be listed as such: "Los Angeles" never reaches "Los Angeles FC".
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from producers.discovery.exceptions import AliasError

SHIPPED = Path(__file__).with_name("aliases.yaml")
# Legal-form tokens of football club names (normalised). Deliberately short: a token that is also a team
# code somewhere (e.g. "sd", San Diego) must not be here.
CLUB_AFFIXES = frozenset({"fc", "afc", "cf", "sc", "ac", "as", "ssc", "cfc", "fk", "sk", "sv"})
# Season suffix of Gamma series slugs: "premier-league-2025", "premier-league-2025-26".
SEASON_SUFFIX = re.compile(r"-(19|20)\d{2}(-\d{2,4})?$")


def normalise(name: str) -> str:
    """Lowercase, accents stripped, '&' as 'and', punctuation removed, whitespace collapsed."""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower().replace("&", " and ")
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text).split())


def club_core(key: str) -> str:
    """A normalised name without leading/trailing club-form affixes ("tottenham hotspur fc" -> "tottenham hotspur")."""
    tokens = key.split()
    while len(tokens) > 1 and tokens[-1] in CLUB_AFFIXES:
        tokens.pop()
    while len(tokens) > 1 and tokens[0] in CLUB_AFFIXES:
        tokens.pop(0)
    return " ".join(tokens)


@dataclass
class League:
    code: str
    draws: bool
    kalshi_series: tuple[str, ...]
    gamma_series: tuple[str, ...]
    names: dict[str, str] = field(default_factory=dict)  # normalised name or code -> team code

    def team(self, name: str) -> str | None:
        key = normalise(name)
        code = self.names.get(key)
        if code is not None:
            return code
        core = club_core(key)
        if core == key or core not in self.names:
            return None
        # The affix may be what distinguishes two clubs: refuse if another team's name has the same core.
        if {t for n, t in self.names.items() if club_core(n) == core} != {self.names[core]}:
            return None
        return self.names[core]


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
        wanted |= {SEASON_SUFFIX.sub("", s) for s in wanted}  # "premier-league-2026" is the "premier-league" series
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
