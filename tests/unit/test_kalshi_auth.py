"""Kalshi RSA-PSS signing (K2): message shape, key formats, verification, salt length 32."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from venues.kalshi import auth


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def test_signing_message_strips_query() -> None:
    # The vector Nautilus tests against (venue-protocols.md K2).
    assert auth.signing_message(1703123456789, "GET", "/trade-api/v2/markets?limit=5") == "1703123456789GET/trade-api/v2/markets"
    assert auth.signing_message(1, "post", "/trade-api/v2/portfolio/events/orders") == "1POST/trade-api/v2/portfolio/events/orders"


@pytest.mark.parametrize("fmt", [serialization.PrivateFormat.PKCS8, serialization.PrivateFormat.TraditionalOpenSSL])
def test_load_private_key_pkcs8_and_pkcs1(key: rsa.RSAPrivateKey, fmt: serialization.PrivateFormat) -> None:
    pem = key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption())
    loaded = auth.load_private_key(pem)
    assert loaded.private_numbers() == key.private_numbers()


def test_sign_verifies_and_is_256_bytes(key: rsa.RSAPrivateKey) -> None:
    sig = auth.sign(key, 1703123456789, "GET", "/trade-api/v2/portfolio/balance")
    assert len(base64.b64decode(sig)) == 256
    pub = key.public_key()
    assert auth.verify(pub, 1703123456789, "GET", "/trade-api/v2/portfolio/balance", sig)
    assert auth.verify(pub, 1703123456789, "GET", "/trade-api/v2/portfolio/balance?x=1", sig)  # query not signed
    assert not auth.verify(pub, 1703123456790, "GET", "/trade-api/v2/portfolio/balance", sig)
    assert not auth.verify(pub, 1703123456789, "POST", "/trade-api/v2/portfolio/balance", sig)
    assert not auth.verify(pub, 1703123456789, "GET", "/trade-api/v2/portfolio/positions", sig)


def test_verify_rejects_other_key_garbage_and_wrong_salt(key: rsa.RSAPrivateKey) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    sig = auth.sign(other, 5, "GET", "/p")
    assert not auth.verify(key.public_key(), 5, "GET", "/p", sig)
    assert not auth.verify(key.public_key(), 5, "GET", "/p", "not base64!!")
    assert not auth.verify(key.public_key(), 5, "GET", "/p", "")
    # A PSS signature with the maximum salt length is not what Kalshi accepts.
    max_salt = key.sign(b"5GET/p", padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.MAX_LENGTH), hashes.SHA256())
    assert not auth.verify(key.public_key(), 5, "GET", "/p", base64.b64encode(max_salt).decode())


def test_auth_headers(key: rsa.RSAPrivateKey) -> None:
    h = auth.auth_headers("kid", key, "GET", "/trade-api/ws/v2", ts_ms=1000)
    assert h[auth.HEADER_KEY] == "kid" and h[auth.HEADER_TIMESTAMP] == "1000"
    assert auth.verify(key.public_key(), 1000, "GET", "/trade-api/ws/v2", h[auth.HEADER_SIGNATURE])
    h2 = auth.auth_headers("kid", key, "GET", "/x")
    assert int(h2[auth.HEADER_TIMESTAMP]) > 1_700_000_000_000  # wall clock in ms


def test_public_key_pem_roundtrip(key: rsa.RSAPrivateKey) -> None:
    pub = auth.load_public_key(auth.public_key_pem(key))
    assert auth.verify(pub, 9, "GET", "/a", auth.sign(key, 9, "GET", "/a"))
