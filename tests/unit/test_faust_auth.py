"""The processor reaches a secured cluster with the same ARB_KAFKA_* settings as the librdkafka clients:
checked through Faust's own translation into aiokafka's arguments (what the worker's consumer gets)."""

from __future__ import annotations

from pathlib import Path

import pytest
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

from core.config import Secret, load
from core.settings import KafkaSettings
from processors.faust_auth import faust_credentials


def _auth(env: dict[str, str]) -> dict[str, object]:
    return dict(credentials_to_aiokafka_auth(faust_credentials(load(KafkaSettings, env=env))))


def test_plaintext_needs_no_credentials() -> None:
    assert faust_credentials(load(KafkaSettings, env={})) is None
    assert _auth({})["security_protocol"] == "PLAINTEXT"


def test_sasl_ssl_carries_mechanism_user_password_and_tls() -> None:
    auth = _auth({"ARB_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "ARB_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
                  "ARB_KAFKA_SASL_USERNAME": "arb", "ARB_KAFKA_SASL_PASSWORD": "s3cret-pw"})
    assert auth["security_protocol"] == "SASL_SSL" and auth["sasl_mechanism"] == "SCRAM-SHA-512"
    assert auth["sasl_plain_username"] == "arb" and auth["sasl_plain_password"] == "s3cret-pw"
    assert auth["ssl_context"] is not None


def test_sasl_plaintext_has_no_tls_and_ssl_has_no_sasl() -> None:
    auth = _auth({"ARB_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT", "ARB_KAFKA_SASL_MECHANISM": "PLAIN", "ARB_KAFKA_SASL_USERNAME": "u"})
    assert auth["security_protocol"] == "SASL_PLAINTEXT" and auth["sasl_mechanism"] == "PLAIN" and auth["ssl_context"] is None
    auth = _auth({"ARB_KAFKA_SECURITY_PROTOCOL": "SSL"})
    assert auth["security_protocol"] == "SSL" and auth["ssl_context"] is not None and "sasl_mechanism" not in auth


def test_sasl_without_a_mechanism_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="ARB_KAFKA_SASL_MECHANISM"):
        faust_credentials(KafkaSettings(security_protocol="SASL_SSL", sasl_password=Secret("x")))


def test_the_ca_location_may_be_a_file_or_a_directory(tmp_path: Path) -> None:
    import ssl

    bundle = Path(ssl.get_default_verify_paths().openssl_cafile or "")
    if not bundle.is_file():
        pytest.skip("this machine has no CA bundle file to load")
    (tmp_path / "ca.pem").write_bytes(bundle.read_bytes())
    for location in (str(tmp_path / "ca.pem"), str(tmp_path)):
        auth = _auth({"ARB_KAFKA_SECURITY_PROTOCOL": "SSL", "ARB_KAFKA_SSL_CA_LOCATION": location})
        assert auth["ssl_context"] is not None
    with pytest.raises(FileNotFoundError):
        _auth({"ARB_KAFKA_SECURITY_PROTOCOL": "SSL", "ARB_KAFKA_SSL_CA_LOCATION": str(tmp_path / "missing.pem")})
