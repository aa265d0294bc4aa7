"""The one configuration loader.

Every setting is a field of a frozen dataclass ("section") declared with `setting()`,
which names its environment variable and documents it. `load(Section)` reads the
environment (and `*_FILE` variants for secrets), applies CLI overrides, converts by
type annotation and fails with one clear message on a bad value. `all_settings()`
enumerates every section of every package, for `arb config` and for the compose
test that checks every variable the stack sets is one we read.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import typing
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

# Packages whose `settings` module declares a section; imported by all_settings().
SECTION_MODULES = (
    "core.settings",
    "venues.kalshi.settings",
    "venues.polymarket.settings",
    "venues.sim.settings",
    "producers.settings",
    "producers.discovery.settings",
    "processors.settings",
    "processors.faust_settings",
    "executor.settings",
    "positions.settings",
)


class ConfigError(ValueError):
    """A setting has a value that cannot be used. The message names the variable, never a secret's value."""


class Secret:
    """A secret value (API secret, passphrase, private key). Never shows itself in repr/str/logs."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        if value:
            from core.logs import register_secret

            register_secret(value)

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret(***)" if self._value else "Secret(<empty>)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def setting(env: str, default: Any, help: str, *, choices: tuple[str, ...] | None = None) -> Any:
    """Declare a dataclass field backed by environment variable `env`."""
    meta = {"env": env, "help": help, "choices": choices}
    if isinstance(default, (list, dict, set)):
        raise TypeError("use tuples for sequence defaults")
    return dataclasses.field(default=default, metadata=meta)


def _convert(raw: str, typ: Any, env: str, choices: tuple[str, ...] | None) -> Any:
    origin = typing.get_origin(typ)
    if origin is typing.Union or str(origin) == "types.UnionType":
        args = [a for a in typing.get_args(typ) if a is not type(None)]
        if raw == "":
            return None
        return _convert(raw, args[0], env, choices)
    if typ is bool:
        v = raw.strip().lower()
        if v in ("1", "true", "yes", "on"):
            return True
        if v in ("0", "false", "no", "off", ""):
            return False
        raise ConfigError(f"{env}: expected a boolean (true/false), got {raw!r}")
    if typ is int:
        try:
            return int(raw.strip().replace("_", ""))
        except ValueError:
            raise ConfigError(f"{env}: expected an integer, got {raw!r}") from None
    if typ is float:
        try:
            return float(raw)
        except ValueError:
            raise ConfigError(f"{env}: expected a number, got {raw!r}") from None
    if typ is Path:
        return Path(raw).expanduser()
    if typ is Secret:
        return Secret(raw)
    if origin is tuple:
        return tuple(p.strip() for p in raw.split(",") if p.strip())
    if typ is str:
        if choices and raw not in choices:
            raise ConfigError(f"{env}: expected one of {', '.join(choices)}, got {raw!r}")
        return raw
    raise TypeError(f"unsupported setting type {typ!r} for {env}")


def load(cls: type[T], env: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None) -> T:
    """Build section `cls` from the environment, then `overrides` (field name -> value, None = unset)."""
    environ = os.environ if env is None else env
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        name = f.metadata.get("env")
        if not name:
            continue
        typ = hints[f.name]
        raw = environ.get(name)
        if raw is None and typ is Secret:
            path = environ.get(name + "_FILE")
            if path:
                try:
                    raw = Path(path).read_text().strip()
                except OSError as exc:
                    raise ConfigError(f"{name}_FILE: cannot read {path}: {exc.strerror}") from None
        if raw is not None:
            values[f.name] = _convert(raw, typ, name, f.metadata.get("choices"))
    for key, value in (overrides or {}).items():
        if value is not None:
            values[key] = value
    return cls(**values)


@dataclasses.dataclass(frozen=True)
class SettingDoc:
    section: str
    field: str
    env: str
    default: Any
    help: str
    secret: bool


def _sections() -> Iterator[type]:
    for mod_name in SECTION_MODULES:
        try:
            mod = importlib.import_module(mod_name)
        except ModuleNotFoundError as exc:
            if exc.name == mod_name:
                continue
            raise
        for obj in vars(mod).values():
            if dataclasses.is_dataclass(obj) and isinstance(obj, type) and obj.__module__ == mod_name:
                yield obj


def all_settings() -> list[SettingDoc]:
    """Every setting of every section, in declaration order."""
    docs: list[SettingDoc] = []
    for cls in _sections():
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if "env" in f.metadata:
                docs.append(SettingDoc(cls.__name__, f.name, f.metadata["env"], f.default, f.metadata["help"], hints[f.name] is Secret))
    return docs
