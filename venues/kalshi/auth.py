"""Kalshi request signing (venue-protocols.md K2): RSA-PSS, SHA-256, MGF1-SHA256, salt 32 bytes.

The string to sign is `ts_ms + METHOD + path`, where path includes `/trade-api/v2` and excludes the
query string; the body is not signed. The WS upgrade signs `ts + "GET" + "/trade-api/ws/v2"`.
Used by the feed, the executor and the simulator (which verifies with `verify`).
"""

from __future__ import annotations

import base64
import binascii
import time

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

HEADER_KEY = "KALSHI-ACCESS-KEY"
HEADER_TIMESTAMP = "KALSHI-ACCESS-TIMESTAMP"
HEADER_SIGNATURE = "KALSHI-ACCESS-SIGNATURE"

# Salt length equals the digest length (32), i.e. PSS.DIGEST_LENGTH; a MAX_LENGTH salt would not verify at Kalshi.
_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)


def signing_message(ts_ms: int, method: str, path: str) -> str:
    """`1703123456789GET/trade-api/v2/markets` for path `/trade-api/v2/markets?limit=5`."""
    return f"{int(ts_ms)}{method.upper()}{path.split('?', 1)[0]}"


def load_private_key(pem: bytes) -> RSAPrivateKey:
    """Load an unencrypted PEM RSA private key, PKCS#8 ("BEGIN PRIVATE KEY") or PKCS#1 ("BEGIN RSA PRIVATE KEY")."""
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, RSAPrivateKey):
        raise ValueError("Kalshi keys are RSA keys; this PEM holds another key type")
    return key


def load_public_key(pem: bytes) -> RSAPublicKey:
    """Load a PEM RSA public key (SubjectPublicKeyInfo or PKCS#1)."""
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, RSAPublicKey):
        raise ValueError("Kalshi keys are RSA keys; this PEM holds another key type")
    return key


def public_key_pem(private_key: RSAPrivateKey) -> bytes:
    """The SubjectPublicKeyInfo PEM of a private key (what a venue stores for the key id)."""
    return private_key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def sign(private_key: RSAPrivateKey, ts_ms: int, method: str, path: str) -> str:
    """Standard-base64 RSA-PSS signature of `signing_message` (random salt, so not reproducible)."""
    sig = private_key.sign(signing_message(ts_ms, method, path).encode(), _PSS, hashes.SHA256())
    return base64.b64encode(sig).decode("ascii")


def auth_headers(key_id: str, private_key: RSAPrivateKey, method: str, path: str, ts_ms: int | None = None) -> dict[str, str]:
    """The three KALSHI-ACCESS-* headers for one request; `path` may carry a query (it is stripped)."""
    ts = int(time.time() * 1000) if ts_ms is None else int(ts_ms)
    return {HEADER_KEY: key_id, HEADER_TIMESTAMP: str(ts), HEADER_SIGNATURE: sign(private_key, ts, method, path)}


def verify(public_key: RSAPublicKey, ts_ms: int, method: str, path: str, signature_b64: str) -> bool:
    """True iff `signature_b64` is a valid PSS(salt 32) signature of the message; never raises on bad input."""
    try:
        sig = base64.b64decode(signature_b64, validate=True)
    except (binascii.Error, ValueError):
        return False
    try:
        public_key.verify(sig, signing_message(ts_ms, method, path).encode(), _PSS, hashes.SHA256())
    except InvalidSignature:
        return False
    return True
