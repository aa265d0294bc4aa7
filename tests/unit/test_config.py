import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cli.settings_index import all_settings
from core import logs
from core.config import ConfigError, Secret, SecretProperties, load, setting
from core.logs import JsonFormatter
from core.settings import KafkaSettings


@pytest.fixture(autouse=True)
def _fresh_masks() -> Iterator[None]:
    saved = logs._masks
    logs._masks = logs._Masks()
    yield
    logs._masks = saved


def _json_line(*args: object) -> str:
    """One log line as the roles write it (core.logs.JsonFormatter)."""
    record = logging.LogRecord("t", logging.INFO, __file__, 1, args[0], args[1:], None)
    return JsonFormatter().format(record)


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
    f.write_text("hunter2-hunter2\n")
    f.chmod(0o600)
    d = load(Demo, env={"ARB_T_TOKEN_FILE": str(f)})
    assert d.token.reveal() == "hunter2-hunter2"
    assert "hunter2" not in repr(d) and "hunter2" not in str(d.token)


def test_a_secret_set_both_ways_is_an_error_naming_both(tmp_path: Path) -> None:
    """Issue 27: with VAR and VAR_FILE both set, VAR won silently (an old value in the environment beat
    the file the operator had just rotated)."""
    f = tmp_path / "tok"
    f.write_text("from-the-file-123")
    f.chmod(0o400)
    with pytest.raises(ConfigError, match="ARB_T_TOKEN and ARB_T_TOKEN_FILE are both set") as err:
        load(Demo, env={"ARB_T_TOKEN": "from-the-env-456", "ARB_T_TOKEN_FILE": str(f)})
    assert "from-the" not in str(err.value)
    assert load(Demo, env={"ARB_T_TOKEN": "", "ARB_T_TOKEN_FILE": str(f)}).token.reveal() == "from-the-file-123"


@pytest.mark.parametrize(("mode", "warned"), [(0o600, False), (0o400, False), (0o640, True), (0o604, True), (0o644, True)])
def test_a_secret_file_others_may_read_is_warned_about(tmp_path: Path, caplog: pytest.LogCaptureFixture, mode: int, warned: bool) -> None:
    f = tmp_path / "tok"
    f.write_text("a-long-enough-token")
    f.chmod(mode)
    with caplog.at_level(logging.WARNING, logger="core.config"):
        assert load(Demo, env={"ARB_T_TOKEN_FILE": str(f)}).token.reveal() == "a-long-enough-token"
    lines = [r.getMessage() for r in caplog.records if r.name == "core.config"]
    assert bool(lines) == warned, lines
    if warned:
        assert "ARB_T_TOKEN_FILE" in lines[0] and str(f) in lines[0] and oct(mode) in lines[0] and "a-long-enough-token" not in lines[0]


def test_the_kalshi_key_file_is_checked_the_same_way(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from venues.kalshi.settings import KalshiSettings

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = tmp_path / "kalshi.pem"
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    pem.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="core.config"):
        KalshiSettings(key_id="k", private_key_file=str(pem)).load_private_key()
    assert any("ARB_KALSHI_PRIVATE_KEY_FILE" in r.getMessage() and "0o644" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("value", ["pw1", "s3cret", "1234567"])
def test_a_secret_too_short_to_mask_is_refused_at_load(value: str) -> None:
    """Issue 27: the logs masked only secrets of 8 characters or more; a shorter one was used and logged
    as it is. Masking "s3cret" everywhere would mangle ordinary text, so it is refused instead."""
    with pytest.raises(ConfigError, match="ARB_T_TOKEN: the secret is shorter than 8 characters") as err:
        load(Demo, env={"ARB_T_TOKEN": value})
    assert value not in str(err.value)
    assert load(Demo, env={"ARB_T_TOKEN": value + "x" * (8 - len(value))}).token


def test_kafka_extra_has_a_file_form_and_its_secrets_are_masked(tmp_path: Path) -> None:
    """Issue 27: ARB_KAFKA_EXTRA, where ssl.key.password or sasl.password go, was a plain string: no _FILE
    form, values never masked."""
    f = tmp_path / "extra"
    f.write_text("message.timeout.ms=2000; ssl.key.password=key-pass-9f2c ;sasl.oauthbearer.client.secret=oidc-secret-77a1\n")
    f.chmod(0o400)
    s = load(KafkaSettings, env={"ARB_KAFKA_EXTRA_FILE": str(f)})
    assert s.extra.properties() == {"message.timeout.ms": "2000", "ssl.key.password": "key-pass-9f2c",
                                    "sasl.oauthbearer.client.secret": "oidc-secret-77a1"}
    assert "key-pass" not in repr(s)
    line = _json_line("client config %s / %s", "ssl.key.password=key-pass-9f2c", {"sasl.oauthbearer.client.secret": "oidc-secret-77a1"})
    assert "key-pass-9f2c" not in line and "oidc-secret-77a1" not in line and "2000" not in line  # the whole string too
    from core.kafka import base_config

    cfg = base_config(s)
    assert cfg["ssl.key.password"] == "key-pass-9f2c" and cfg["message.timeout.ms"] == "2000"


@pytest.mark.parametrize("extra", ["sasl.password:hunter2hunter2", "linger.ms=5;sasl.password hunter2hunter2", "=hunter2hunter2"])
def test_a_bad_kafka_extra_item_is_named_by_position_never_echoed(extra: str) -> None:
    with pytest.raises(ConfigError, match=r"ARB_KAFKA_EXTRA: item \d of \d is not key=value") as err:
        load(KafkaSettings, env={"ARB_KAFKA_EXTRA": extra})
    assert "hunter2" not in str(err.value)


def test_a_short_secret_in_kafka_extra_is_refused() -> None:
    with pytest.raises(ConfigError, match="ARB_KAFKA_EXTRA: the value of sasl.password is shorter than 8") as err:
        load(KafkaSettings, env={"ARB_KAFKA_EXTRA": "linger.ms=5;sasl.password=pw"})
    assert "=pw" not in str(err.value)
    assert load(KafkaSettings, env={"ARB_KAFKA_EXTRA": "acks=1"}).extra.properties() == {"acks": "1"}  # short, but no secret in it


def test_schema_registry_credentials_are_their_own_settings(tmp_path: Path) -> None:
    """Issue 27: registry credentials only fitted in the URL (a plain setting, never masked)."""
    from core.registry import RegistryFraming

    f = tmp_path / "registry-password"
    f.write_text("registry-pass-5e1b\n")
    f.chmod(0o400)
    s = load(KafkaSettings, env={"ARB_SCHEMA_REGISTRY_URL": "mock://arb-auth", "ARB_SCHEMA_REGISTRY_USER": "arb",
                                 "ARB_SCHEMA_REGISTRY_PASSWORD_FILE": str(f)})
    assert s.schema_registry_user_info() == "arb:registry-pass-5e1b"
    framing = RegistryFraming.from_url(s.schema_registry_url, s.schema_registry_user_info())
    assert framing is not None and framing.client._rest_client.auth == ("arb", "registry-pass-5e1b")
    assert "registry-pass" not in repr(s) and "registry-pass" not in _json_line("auth %s", s.schema_registry_user_info())
    with pytest.raises(ConfigError, match="go together"):
        load(KafkaSettings, env={"ARB_SCHEMA_REGISTRY_URL": "http://r:8081", "ARB_SCHEMA_REGISTRY_USER": "arb"})


def test_credentials_left_in_the_registry_url_are_masked_and_not_doubled() -> None:
    s = load(KafkaSettings, env={"ARB_SCHEMA_REGISTRY_URL": "https://arb:url-pass-%2F42@registry.example:8081"})
    assert "url-pass-/42" not in _json_line("registry said no for %s", "url-pass-/42")
    with pytest.raises(ConfigError, match="carries credentials"):
        load(KafkaSettings, env={"ARB_SCHEMA_REGISTRY_URL": s.schema_registry_url, "ARB_SCHEMA_REGISTRY_USER": "arb",
                                 "ARB_SCHEMA_REGISTRY_PASSWORD": "registry-pass-5e1b"})


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
    assert isinstance(s.extra, SecretProperties) and s.extra.properties() == {} and s.schema_registry_user_info() == ""


def test_an_optional_setting_written_with_the_pipe_union_is_read() -> None:
    """`X | None` (types.UnionType) once fell through to "unsupported type" when set, e.g. ARB_SIM_KALSHI_PUBLIC_KEY."""
    from simulators.settings import SimSettings

    assert load(SimSettings, env={"ARB_SIM_KALSHI_PUBLIC_KEY": "/x.pem"}).kalshi_public_key is not None
