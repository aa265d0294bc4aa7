"""CLOB V2 order hashing and signing (EIP-712), fast: domain separators cached, keccak from
pycryptodome, ECDSA from coincurve (libsecp256k1). py_clob_client_v2 is the test oracle.

The order hash is the venue's orderID. POLY_1271 (deposit wallet) orders keep that hash, but the
signature is over the Solady `TypedDataSign` wrapping of it and carries the wrapping data after the
65 ECDSA bytes, as the SDK builds it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import SupportsIndex, SupportsInt

from venues.polymarket import constants as C
from venues.polymarket import eip712
from venues.polymarket.eip712 import address_word, bytes32, keccak, uint

ORDER_TYPE = ("Order(uint256 salt,address maker,address signer,uint256 tokenId,uint256 makerAmount,uint256 takerAmount,"
              "uint8 side,uint8 signatureType,uint256 timestamp,bytes32 metadata,bytes32 builder)")
ORDER_TYPE_HASH = keccak(ORDER_TYPE.encode())
_DOMAIN_TYPE_HASH = keccak(b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")
_EXCHANGE_NAME_HASH = keccak(b"Polymarket CTF Exchange")
_SOLADY_TYPE_HASH = keccak(("TypedDataSign(Order contents,string name,string version,uint256 chainId,address verifyingContract,bytes32 salt)"
                            + ORDER_TYPE).encode())
_DEPOSIT_WALLET_NAME_HASH = keccak(b"DepositWallet")
_DEPOSIT_WALLET_VERSION_HASH = keccak(b"1")
_ORDER_TYPE_TAIL = ORDER_TYPE.encode().hex() + len(ORDER_TYPE).to_bytes(2, "big").hex()


@dataclass(frozen=True, slots=True)
class OrderStruct:
    salt: int
    maker: str
    signer: str
    token_id: int
    maker_amount: int  # 6-dp base units
    taker_amount: int
    side: int  # 0 BUY, 1 SELL
    signature_type: int
    timestamp: int  # ms
    metadata: bytes = C.ZERO_BYTES32
    builder: bytes = C.ZERO_BYTES32
    expiration: int = 0  # on the wire only; not signed in V2


@lru_cache(maxsize=64)
def domain_separator(exchange: str, version: str, chain_id: int) -> bytes:
    return keccak(_DOMAIN_TYPE_HASH + _EXCHANGE_NAME_HASH + keccak(version.encode()) + uint(chain_id) + address_word(exchange))


def struct_hash(o: OrderStruct) -> bytes:
    return keccak(ORDER_TYPE_HASH + uint(o.salt) + address_word(o.maker) + address_word(o.signer) + uint(o.token_id)
                  + uint(o.maker_amount) + uint(o.taker_amount) + uint(o.side) + uint(o.signature_type) + uint(o.timestamp)
                  + bytes32(o.metadata) + bytes32(o.builder))


def order_hash(order: OrderStruct, exchange: str, version: str, chain_id: int) -> bytes:
    """The EIP-712 digest of the order: the venue's orderID."""
    return eip712.typed_digest(domain_separator(exchange, version, chain_id), struct_hash(order))


def _poly_1271_digest(order: OrderStruct, contents: bytes, exchange: str, version: str, chain_id: int) -> bytes:
    wrapped = keccak(_SOLADY_TYPE_HASH + contents + _DEPOSIT_WALLET_NAME_HASH + _DEPOSIT_WALLET_VERSION_HASH + uint(chain_id)
                     + address_word(order.signer) + C.ZERO_BYTES32)
    return eip712.typed_digest(domain_separator(exchange, version, chain_id), wrapped)


@dataclass(frozen=True, slots=True)
class SignedOrder:
    order: OrderStruct
    signature: str  # 0x-hex
    order_id: str  # 0x-hex order hash, lowercase

    def to_wire(self) -> dict[str, object]:
        """The `order` object of POST /order, as the official client posts it."""
        o = self.order
        return {"salt": o.salt, "maker": eip712.checksum(o.maker), "signer": eip712.checksum(o.signer), "tokenId": str(o.token_id),
                "makerAmount": str(o.maker_amount), "takerAmount": str(o.taker_amount), "side": "BUY" if o.side == C.SIDE_BUY else "SELL",
                "expiration": str(o.expiration), "signatureType": o.signature_type, "timestamp": str(o.timestamp),
                "metadata": "0x" + bytes32(o.metadata).hex(), "builder": "0x" + bytes32(o.builder).hex(), "signature": self.signature}


def sign_order(order: OrderStruct, private_key: bytes, exchange: str, version: str, chain_id: int) -> SignedOrder:
    digest = order_hash(order, exchange, version, chain_id)
    if order.signature_type == C.SIG_POLY_1271:
        contents = struct_hash(order)
        inner = eip712.sign_digest(_poly_1271_digest(order, contents, exchange, version, chain_id), private_key)
        sig = "0x" + inner.hex() + domain_separator(exchange, version, chain_id).hex() + contents.hex() + _ORDER_TYPE_TAIL
    else:
        sig = "0x" + eip712.sign_digest(digest, private_key).hex()
    return SignedOrder(order, sig, "0x" + digest.hex())


def post_body(signed: SignedOrder, owner: str, order_type: str, defer_exec: bool = False, post_only: bool = False) -> dict[str, object]:
    if order_type not in C.ORDER_TYPES:
        raise ValueError(f"unknown order type {order_type!r}")
    return {"order": signed.to_wire(), "owner": owner, "orderType": order_type, "deferExec": defer_exec, "postOnly": post_only}


def stored_body(signed_order: str) -> dict[str, object]:
    """The POST /order body of a signed order kept as JSON text (the `signed_order` of an INTENT: post_body's
    dict, dumped compactly). ValueError if the text is not a JSON object."""
    body = json.loads(signed_order)
    if not isinstance(body, dict):
        raise ValueError(f"a signed order is a JSON object, not {type(body).__name__}")
    return body


def _int(v: object) -> int:
    """int(v), for the values int() reads (TypeError for the others, as int() raises)."""
    if isinstance(v, (int, str, bytes, bytearray, SupportsInt, SupportsIndex)):
        return int(v)
    raise TypeError(f"int() argument must be a string, a bytes-like object or a real number, not '{type(v).__name__}'")


def order_from_wire(obj: Mapping[str, object]) -> tuple[OrderStruct, str]:
    """The signed `order` JSON object -> (struct, signature). ValueError on anything malformed."""
    try:
        side = obj["side"]
        side_int = C.SIDES[side] if isinstance(side, str) else _int(side)
        if side_int not in (C.SIDE_BUY, C.SIDE_SELL):
            raise ValueError("side")
        order = OrderStruct(salt=_int(obj["salt"]), maker=str(obj["maker"]).lower(), signer=str(obj["signer"]).lower(), token_id=_int(obj["tokenId"]),
                            maker_amount=_int(obj["makerAmount"]), taker_amount=_int(obj["takerAmount"]), side=side_int,
                            signature_type=_int(obj["signatureType"]), timestamp=_int(obj["timestamp"]),
                            metadata=bytes32(str(obj.get("metadata") or "0x0")), builder=bytes32(str(obj.get("builder") or "0x0")),
                            expiration=_int(obj.get("expiration") or 0))
        for a in (order.maker, order.signer):
            address_word(a)
        signature = str(obj["signature"])
        bytes.fromhex(signature.removeprefix("0x"))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"malformed order: {exc}") from None
    if min(order.salt, order.token_id, order.maker_amount, order.taker_amount, order.timestamp) < 0:
        raise ValueError("malformed order: negative field")
    return order, signature


def recover_signer(digest: bytes, signature: str) -> str:
    """Lowercase address that produced a plain 65-byte signature over `digest` (types 0-2)."""
    return eip712.recover_address(digest, bytes.fromhex(signature.removeprefix("0x"))[:65])


def recover_order_signer(order: OrderStruct, signature: str, exchange: str, version: str, chain_id: int) -> str:
    """The key that signed the order, for any signature type (POLY_1271: the deposit wallet's owner key)."""
    raw = bytes.fromhex(signature.removeprefix("0x"))
    if order.signature_type == C.SIG_POLY_1271:
        return eip712.recover_address(_poly_1271_digest(order, struct_hash(order), exchange, version, chain_id), raw[:65])
    if len(raw) != 65:
        raise ValueError("signature must be 65 bytes")
    return eip712.recover_address(order_hash(order, exchange, version, chain_id), raw)


address_of = eip712.address_of
