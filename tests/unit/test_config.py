from dataclasses import dataclass
from pathlib import Path

import pytest

from core.config import ConfigError, Secret, all_settings, load, setting
from core.settings import KafkaSettings


@dataclass(frozen=True)
class Demo:
    count: int = setting("ARB_T_COUNT", 3, "a count")
    flag: bool = setting("ARB_T_FLAG", False, "a flag")
    names: tuple[str, ...] = setting("ARB_T_NAMES", ("a",), "names")
    mode: str = setting("ARB_T_MODE", "x", "mode", choices=("x", "y"))
    token: Secret = setting("ARB_T_TOKEN", Secret(""), "a secret")


def test_defaults_env_and_overrides() -> None:
    assert load(Demo, env={}) == Demo()
    d = load(Demo, env={"ARB_T_COUNT": "1_000", "ARB_T_FLAG": "yes", "ARB_T_NAMES": "p, q", "ARB_T_MODE": "y"}, overrides={"count": 5})
    assert (d.count, d.flag, d.names, d.mode) == (5, True, ("p", "q"), "y")


@pytest.mark.parametrize(("env", "needle"), [({"ARB_T_COUNT": "ten"}, "ARB_T_COUNT"), ({"ARB_T_FLAG": "maybe"}, "ARB_T_FLAG"), ({"ARB_T_MODE": "z"}, "ARB_T_MODE")])
def test_bad_values_name_the_variable(env: dict[str, str], needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        load(Demo, env=env)


def test_secret_from_file_never_shows(tmp_path: Path) -> None:
    f = tmp_path / "tok"
    f.write_text("hunter2\n")
    d = load(Demo, env={"ARB_T_TOKEN_FILE": str(f)})
    assert d.token.reveal() == "hunter2"
    assert "hunter2" not in repr(d) and "hunter2" not in str(d.token)


def test_unreadable_secret_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ARB_T_TOKEN_FILE"):
        load(Demo, env={"ARB_T_TOKEN_FILE": str(tmp_path / "missing")})


def test_all_settings_are_documented_and_unique() -> None:
    docs = all_settings()
    envs = [d.env for d in docs]
    assert "ARB_BOOTSTRAP" in envs
    assert len(envs) == len(set(envs)), "two settings share an environment variable"
    assert all(d.env.startswith("ARB_") and d.help for d in docs)


def test_kafka_defaults() -> None:
    s = load(KafkaSettings, env={})
    assert s.bootstrap == "127.0.0.1:9092" and 1 <= s.fetch_wait_ms <= 5
