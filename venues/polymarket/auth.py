"""Polymarket authentication (P5): L2 HMAC headers for trading calls, L1 ClobAuth EIP-712 signature."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

from core.config import Secret
from venues.polymarket import eip712

CLOB_AUTH_MESSAGE = "This message attests that I control the given wallet"
_CLOB_AUTH_TYPE = eip712.keccak(b"ClobAuth(address address,string timestamp,uint256 nonce,string message)")
_DOMAIN_TYPE = eip712.keccak(b"EIP712Domain(string name,string version,uint256 chainId)")


@dataclass(frozen=True)
class ApiCreds:
    api_key: str
    secret: Secret
    passphrase: Secret

    def __repr__(self) -> str:
        return f"ApiCreds(api_key={self.api_key!r})"


def _as_bytes(body: bytes | str) -> bytes:
    return body.encode() if isinstance(body, str) else body


def l2_signature(secret: str, timestamp: str, method: str, path: str, body: bytes | str = b"") -> str:
    """urlsafe_b64(HMAC_SHA256(urlsafe_b64decode(secret), ts + METHOD + path + body)); path without query."""
    key = base64.urlsafe_b64decode(secret)
    msg = f"{timestamp}{method}{path}".encode() + _as_bytes(body)
    return base64.urlsafe_b64encode(hmac.new(key, msg, hashlib.sha256).digest()).decode()


def verify_l2(secret: str, timestamp: str, method: str, path: str, body: bytes, signature: str) -> bool:
    try:
        expected = l2_signature(secret, timestamp, method, path, body)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(expected.encode(), signature.encode())


def l2_headers(address: str, creds: ApiCreds, method: str, path: str, body: bytes | str, timestamp_s: int) -> dict[str, str]:
    """`address` is the EOA of the API key (for every signature type, never the funder), sent EIP-55
    checksummed as the official client sends it (`create_level_2_headers` in py_clob_client_v2/headers/headers.py
    puts `Signer.address()`, eth_account's checksummed form)."""
    ts = str(timestamp_s)
    return {
        "POLY_ADDRESS": eip712.checksum(address),
        "POLY_SIGNATURE": l2_signature(creds.secret.reveal(), ts, method, path, _as_bytes(body)),
        "POLY_TIMESTAMP": ts,
        "POLY_API_KEY": creds.api_key,
        "POLY_PASSPHRASE": creds.passphrase.reveal(),
    }


def clob_auth_digest(address: str, chain_id: int, timestamp: str, nonce: int) -> bytes:
    domain = eip712.keccak(_DOMAIN_TYPE + eip712.string_word("ClobAuthDomain") + eip712.string_word("1") + eip712.uint(chain_id))
    struct = eip712.keccak(_CLOB_AUTH_TYPE + eip712.address_word(address) + eip712.string_word(timestamp) + eip712.uint(nonce)
                           + eip712.string_word(CLOB_AUTH_MESSAGE))
    return eip712.typed_digest(domain, struct)


def clob_auth_signature(private_key_hex: str, chain_id: int, timestamp: str, nonce: int) -> str:
    """L1 header POLY_SIGNATURE: the ClobAuth EIP-712 signature (0x + r || s || v)."""
    key = bytes.fromhex(private_key_hex.removeprefix("0x"))
    digest = clob_auth_digest(eip712.address_of(key), chain_id, timestamp, nonce)
    return "0x" + eip712.sign_digest(digest, key).hex()


def l1_headers(private_key_hex: str, chain_id: int, timestamp_s: int, nonce: int = 0) -> dict[str, str]:
    key = bytes.fromhex(private_key_hex.removeprefix("0x"))
    return {"POLY_ADDRESS": eip712.checksum(eip712.address_of(key)),
            "POLY_SIGNATURE": clob_auth_signature(private_key_hex, chain_id, str(timestamp_s), nonce),
            "POLY_TIMESTAMP": str(timestamp_s), "POLY_NONCE": str(nonce)}
