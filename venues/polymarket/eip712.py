"""Minimal EIP-712 / ABI encoding of static types, keccak-256 (pycryptodome) and secp256k1 (coincurve).

Only what Polymarket needs: 32-byte words for uint/address/bytes32, hashed strings, the typed-data
digest `keccak(0x1901 || domainSeparator || structHash)`, recoverable signatures as r || s || v
(v = 27 + recovery id, the Ethereum convention) and signer recovery.
"""

from __future__ import annotations

from coincurve import PrivateKey, PublicKey
from Crypto.Hash import keccak as _keccak


def keccak(data: bytes) -> bytes:
    return _keccak.new(data=data, digest_bits=256).digest()


def uint(value: int) -> bytes:
    if value < 0 or value >= 1 << 256:
        raise ValueError("uint256 out of range")
    return value.to_bytes(32, "big")


def address_word(address: str) -> bytes:
    raw = bytes.fromhex(address.removeprefix("0x").removeprefix("0X"))
    if len(raw) != 20:
        raise ValueError(f"not a 20-byte address: {address!r}")
    return bytes(12) + raw


def string_word(text: str) -> bytes:
    return keccak(text.encode())


def bytes32(value: bytes | str) -> bytes:
    raw = value if isinstance(value, bytes) else bytes.fromhex(value.removeprefix("0x").zfill(64))
    if len(raw) != 32:
        raise ValueError("bytes32 must be 32 bytes")
    return raw


def typed_digest(domain_separator: bytes, struct_hash: bytes) -> bytes:
    return keccak(b"\x19\x01" + domain_separator + struct_hash)


def sign_digest(digest: bytes, private_key: bytes) -> bytes:
    """65-byte r || s || v signature of a 32-byte digest (v in {27, 28})."""
    sig = PrivateKey(private_key).sign_recoverable(digest, hasher=None)  # r || s || recid
    return sig[:64] + bytes([sig[64] + 27])


def recover_address(digest: bytes, signature: bytes) -> str:
    """Lowercase 0x address of the key that produced `signature` (r || s || v) over `digest`."""
    if len(signature) != 65:
        raise ValueError("signature must be 65 bytes")
    v = signature[64]
    recid = v - 27 if v >= 27 else v
    if recid not in (0, 1):
        raise ValueError("bad signature recovery id")
    pub = PublicKey.from_signature_and_message(signature[:64] + bytes([recid]), digest, hasher=None)
    return "0x" + keccak(pub.format(compressed=False)[1:])[12:].hex()


def address_of(private_key: bytes) -> str:
    pub = PrivateKey(private_key).public_key.format(compressed=False)[1:]
    return "0x" + keccak(pub)[12:].hex()


def checksum(address: str) -> str:
    """EIP-55 mixed-case form of an address."""
    hex_addr = address.removeprefix("0x").lower()
    digest = keccak(hex_addr.encode()).hex()
    return "0x" + "".join(c.upper() if c.isalpha() and int(digest[i], 16) >= 8 else c for i, c in enumerate(hex_addr))
