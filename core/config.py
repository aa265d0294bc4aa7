"""The one configuration loader.

Every setting is a field of a frozen dataclass ("section") declared with `setting()`,
which names its environment variable and documents it. `load(Section)` reads the
environment (and `*_FILE` variants for secrets), applies CLI overrides, converts by
type annotation and fails with one clear message on a bad value. `settings_docs()`
enumerates the sections of the modules it is given (every package's: cli/settings_index.py),
for `arb config`, docs/settings.md and the compose test that checks every variable the
stack sets is one we read.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import os
import re
import stat
import types
import typing
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

from core.errors import ArbError

T = TypeVar("T")
log = logging.getLogger(__name__)

class ConfigError(ArbError, ValueError):
    """A setting has a value that cannot be used. The message names the variable, never a secret's value. Still a
    ValueError for the callers that catch one."""


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


class SecretProperties(Secret):
    """`key=value;key=value` client properties some of which are secrets (ARB_KAFKA_EXTRA carries
    `sasl.password` or `ssl.key.password`): a Secret as a whole (never shown, has a `_FILE` form), and the
    value of each secret key is masked in logs on its own. Secret keys: those librdkafka flags
    `_RK_SENSITIVE` (src/rdkafka_conf.c: ssl.key.password, ssl.key.pem, ssl.keystore.password,
    sasl.password, sasl.oauthbearer.config) and any other key naming a password or a secret
    (sasl.oauthbearer.client.secret is not flagged there)."""

    __slots__ = ("_props",)
    SENSITIVE = re.compile(r"password|secret|^ssl\.key\.pem$|^sasl\.oauthbearer\.config$")

    def __init__(self, value: str) -> None:
        props: dict[str, str] = {}
        items = [i for i in value.split(";") if i.strip()]
        for n, item in enumerate(items, 1):
            key, sep, val = item.partition("=")
            if not sep or not key.strip():
                # never the item itself: it may be `sasl.password:...` with the value in it
                raise ValueError(f"item {n} of {len(items)} is not key=value")
            props[key.strip()] = val.strip()
        self._props = props
        super().__init__(value)
        if value:
            from core.logs import register_secret

            for v in self.secret_values().values():
                register_secret(v)

    def properties(self) -> dict[str, str]:
        return dict(self._props)

    def secret_values(self) -> dict[str, str]:
        """The values of the secret keys, by key."""
        return {k: v for k, v in self._props.items() if self.SENSITIVE.search(k.lower()) and v}


def setting(env: str, default: T, help: str, *, choices: tuple[str, ...] | None = None) -> T:
    """Declare a dataclass field backed by environment variable `env` (typed as its default, as dataclasses.field is)."""
    meta = {"env": env, "help": help, "choices": choices}
    if isinstance(default, (list, dict, set)):
        raise TypeError("use tuples for sequence defaults")
    return dataclasses.field(default=default, metadata=meta)


def _is_secret(typ: Any) -> bool:
    return isinstance(typ, type) and issubclass(typ, Secret)


def _convert(raw: str, typ: Any, env: str, choices: tuple[str, ...] | None) -> Any:
    origin = typing.get_origin(typ)
    if origin in (typing.Union, types.UnionType):
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
    if _is_secret(typ):
        try:
            value = typ(raw)
        except ValueError as exc:
            raise ConfigError(f"{env}: {exc}") from None
        _check_maskable(env, value)
        return value
    if origin is tuple:
        return tuple(p.strip() for p in raw.split(",") if p.strip())
    if typ is str:
        if choices and raw not in choices:
            raise ConfigError(f"{env}: expected one of {', '.join(choices)}, got {raw!r}")
        return raw
    raise TypeError(f"unsupported setting type {typ!r} for {env}")


def _check_maskable(env: str, value: Secret) -> None:
    """A secret too short to be masked in logs (core.logs) is refused rather than leaked or over-masked."""
    from core.logs import MIN_SECRET_LEN

    parts = value.secret_values() if isinstance(value, SecretProperties) else {"": value.reveal()}
    for key, v in parts.items():
        if 0 < len(v.strip()) < MIN_SECRET_LEN:
            what = f"the value of {key}" if key else "the secret"
            raise ConfigError(f"{env}: {what} is shorter than {MIN_SECRET_LEN} characters; the logs cannot mask a secret that short "
                              "without mangling ordinary words, so it is refused: use a longer one")


def read_secret_file(env: str, path: str | Path) -> bytes:
    """The content of the secret file named by setting `env` (errors name the setting and path, never the
    content). A file that its group or others may read is used, with a warning: `chmod 0400` it."""
    p = Path(path).expanduser()
    try:
        mode = p.stat().st_mode
        data = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{env}: cannot read {path}: {exc.strerror}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("%s: %s is readable or writable by its group or others (mode %s); a secret file should be readable by its owner "
                    "only: chmod 0400 %s", env, path, oct(stat.S_IMODE(mode)), path)
    return data


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
        if _is_secret(typ):
            path = environ.get(name + "_FILE")
            if path and raw:  # which one is meant? Neither is picked silently (an empty VAR counts as unset)
                raise ConfigError(f"{name} and {name}_FILE are both set: set only one (the file, for a secret)")
            if path:
                data = read_secret_file(name + "_FILE", path)
                try:
                    raw = data.decode("utf-8").strip()
                except UnicodeDecodeError:
                    raise ConfigError(f"{name}_FILE: {path} is not UTF-8 text") from None
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


def sections(modules: Iterable[str]) -> Iterator[type]:
    """The settings classes (dataclasses) declared in `modules` (module names), in declaration order."""
    for mod_name in modules:
        try:
            mod = importlib.import_module(mod_name)
        except ModuleNotFoundError as exc:
            if exc.name == mod_name:
                continue
            raise
        for obj in vars(mod).values():
            if dataclasses.is_dataclass(obj) and isinstance(obj, type) and obj.__module__ == mod_name:
                yield obj


def settings_docs(modules: Iterable[str]) -> list[SettingDoc]:
    """Every setting of every section declared in `modules`, in declaration order (the list of every package's
    settings module is cli/settings_index.py: core does not know the packages above it)."""
    docs: list[SettingDoc] = []
    for cls in sections(modules):
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if "env" in f.metadata:
                docs.append(SettingDoc(cls.__name__, f.name, f.metadata["env"], f.default, f.metadata["help"], _is_secret(hints[f.name])))
    return docs
