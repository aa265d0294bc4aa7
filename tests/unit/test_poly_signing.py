"""Polymarket CLOB V2 orders: amounts, EIP-712 hash, signature and wire JSON are byte-identical to the
official client (py_clob_client_v2, the oracle), for seeded random orders over every signature type,
exchange (standard, neg-risk, V3 with domain "3"), side and tick size. Maker and signer come from the
executor's `Wallet`; the official side takes its signer from `OrderBuilder._v2_order_signer`
(py_clob_client_v2/order_builder/builder.py: the funder for POLY_1271, else the key's address)."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from py_clob_client_v2.constants import BYTES32_ZERO
from py_clob_client_v2.order_builder.builder import ROUNDING_CONFIG, OrderBuilder
from py_clob_client_v2.order_utils import ExchangeOrderBuilderV2, Side, SignatureTypeV2
from py_clob_client_v2.order_utils.model.order_data_v2 import OrderDataV2, order_to_json_v2
from py_clob_client_v2.signer import Signer

from executor.polymarket_transport import Wallet
from tests.conftest import FIXTURES
from venues.polymarket import constants as C
from venues.polymarket.eip712 import address_of, checksum
from venues.polymarket.order import build_order
from venues.polymarket.signing import (
    OrderStruct,
    order_from_wire,
    order_hash,
    post_body,
    recover_order_signer,
    recover_signer,
    sign_order,
)

TICKS = {1000: "0.1", 100: "0.01", 50: "0.005", 25: "0.0025", 10: "0.001", 1: "0.0001"}
TEST_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"


def _case(rng: random.Random, i: int) -> dict:
    key = bytes(rng.randrange(256) for _ in range(32)) if i else bytes.fromhex(TEST_KEY[2:])
    tick = list(TICKS)[i % len(TICKS)]
    return {"key": key, "chain": (C.POLYGON, C.AMOY)[i % 2], "sig_type": i % 4, "exchange": ("standard", "neg_risk", "v3")[(i // 4) % 3],
            "side": ("BUY", "SELL")[(i // 2) % 2], "tick": tick, "price": tick * rng.randrange(1, 10_000 // tick),
            "size": rng.randrange(1, 2_000_000), "token": rng.randrange(1 << 255), "salt": rng.randrange(1 << 53),
            "ts": 1_790_000_000_000 + rng.randrange(10**9), "funder": "0x" + bytes(rng.randrange(256) for _ in range(20)).hex()}


def _exchange(c: dict) -> tuple[str, str]:
    if c["exchange"] == "v3":
        return C.exchange_v3(c["chain"]), "3"
    return (C.NEG_RISK_EXCHANGE if c["exchange"] == "neg_risk" else C.EXCHANGE), "2"


def _sdk_amounts(c: dict) -> tuple[int, int]:
    ob = OrderBuilder(Signer("0x" + c["key"].hex(), c["chain"]))
    _, maker_amt, taker_amt = ob.get_order_amounts(c["side"], c["size"] / 100, c["price"] / 10_000, ROUNDING_CONFIG[TICKS[c["tick"]]])
    return maker_amt, taker_amt


def _sdk(c: dict, exchange: str, version: str, amounts: tuple[int, int]) -> tuple[str, dict]:
    """Hash and POST body of the official client for these amounts (the amount rounding is compared separately)."""
    signer = Signer("0x" + c["key"].hex(), c["chain"])
    sig_type = SignatureTypeV2(c["sig_type"])
    funder = checksum(c["funder"]) if c["sig_type"] else signer.address()
    ob = OrderBuilder(signer, sig_type, funder=funder)
    side = Side.BUY if c["side"] == "BUY" else Side.SELL
    maker_amt, taker_amt = amounts
    data = OrderDataV2(maker=funder, tokenId=str(c["token"]), makerAmount=str(maker_amt), takerAmount=str(taker_amt), side=side,
                       signer=ob._v2_order_signer(), signatureType=sig_type, timestamp=str(c["ts"]), metadata=BYTES32_ZERO,
                       builder=BYTES32_ZERO, expiration="0")
    b = ExchangeOrderBuilderV2(exchange, c["chain"], signer, generate_salt=lambda: str(c["salt"]), domain_version=version)
    signed = b.build_signed_order(data)
    return b.build_order_hash(b.build_order_typed_data(signed)), order_to_json_v2(signed, "owner-key", "FAK")


def _ours(c: dict, exchange: str, version: str):  # type: ignore[no-untyped-def]
    """Maker and signer from the executor's Wallet (executor/polymarket_transport.py), not chosen here: the
    whole executor path, settings included, is compared in tests/unit/test_poly_wallets.py."""
    eoa = address_of(c["key"])
    w = Wallet(c["key"], eoa, funder=c["funder"] if c["sig_type"] else "", signature_type=c["sig_type"], chain_id=c["chain"])
    order = build_order(token_id=c["token"], side=c["side"], price=c["price"], size=c["size"], tick=c["tick"], maker=w.maker, signer=w.signer,
                        signature_type=c["sig_type"], salt=c["salt"], timestamp_ms=c["ts"])
    return sign_order(order, c["key"], exchange, version, c["chain"])


@pytest.mark.parametrize("seed", range(4))
def test_byte_identical_to_the_official_client(seed: int) -> None:
    rng = random.Random(seed)
    for i in range(72):  # 4 x 72 = 288 orders; every (sig type, exchange, side, tick) combination appears
        c = _case(rng, i + seed * 72)
        exchange, version = _exchange(c)
        ours = _ours(c, exchange, version)
        sdk_hash, sdk_body = _sdk(c, exchange, version, (ours.order.maker_amount, ours.order.taker_amount))
        assert ours.order_id == sdk_hash, c
        assert post_body(ours, "owner-key", "FAK") == sdk_body, c
        wire_order, sig = order_from_wire(ours.to_wire())
        assert wire_order == ours.order and sig == ours.signature
        assert recover_order_signer(ours.order, ours.signature, exchange, version, c["chain"]) == address_of(c["key"])


def test_amounts_match_the_official_rounding() -> None:
    """Exact integer amounts equal the SDK's float-rounded ones, except where the SDK's float arithmetic
    itself truncates a size (e.g. round_down(8861.63, 2) == 8861.62 because 8861.63 * 100 < 886163 in
    binary floating point): there we keep the exact size the caller asked for, one cent more."""
    rng = random.Random(99)
    artifacts = 0
    for i in range(2000):
        c = _case(rng, i)
        ours = _ours(c, *_exchange(c)).order
        sdk = _sdk_amounts(c)
        if (ours.maker_amount, ours.taker_amount) != sdk:
            shares_sdk = sdk[1] if c["side"] == "BUY" else sdk[0]
            assert int((c["size"] / 100) * 100) == c["size"] - 1 and shares_sdk == (c["size"] - 1) * 10_000, c
            artifacts += 1
    assert artifacts < 500  # about 6%: only sizes whose x100 float product falls just below the integer


def test_plain_signature_recovers_the_signer() -> None:
    key = bytes.fromhex(TEST_KEY[2:])
    order = build_order(token_id=123, side="BUY", price=5200, size=1000, tick=100, maker=address_of(key), signer=address_of(key),
                        signature_type=0, salt=7, timestamp_ms=1_790_000_000_000)
    s = sign_order(order, key, C.EXCHANGE, "2", C.POLYGON)
    assert recover_signer(order_hash(order, C.EXCHANGE, "2", C.POLYGON), s.signature) == address_of(key)
    assert address_of(key) == "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"  # the well-known test key's address
    other = order_hash(order, C.NEG_RISK_EXCHANGE, "2", C.POLYGON)
    assert recover_signer(other, s.signature) != address_of(key)  # a signature is bound to its exchange


@pytest.mark.parametrize(("kwargs", "msg"), [
    ({"price": 5250, "tick": 100}, "not on tick"),
    ({"price": 0, "tick": 100}, "not on tick"),
    ({"price": 10_000, "tick": 100}, "not on tick"),
    ({"size": 0}, "size"),
    ({"tick": 30}, "tick size"),
    ({"salt": 1 << 53}, "salt"),
    ({"order_type": "IOC"}, "order type"),
    # FAK/FOK: maker <= 2 decimals, taker <= 4 (Polymarket/clob-client-v2 src/order-builder/helpers/getMarketOrderRawAmounts.ts)
    ({"price": 5670, "size": 1500, "tick": 10, "order_type": "FAK"}, "invalid amounts"),
    ({"price": 5670, "size": 1001, "tick": 10, "side": "SELL", "order_type": "FOK"}, "invalid amounts"),
])
def test_build_order_rejects_bad_input(kwargs: dict, msg: str) -> None:
    args = {"token_id": 1, "side": "BUY", "price": 5200, "size": 100, "tick": 100, "maker": C.ZERO_ADDRESS, "signer": C.ZERO_ADDRESS,
            "signature_type": 0, "salt": 1, "timestamp_ms": 1} | kwargs
    with pytest.raises(ValueError, match=msg):
        build_order(**args)


def test_order_from_wire_rejects_malformed() -> None:
    with pytest.raises(ValueError):
        order_from_wire({"salt": 1, "maker": "0x12"})


# --- fixed known answers (issue 25): no installed SDK needed to check them ------------------------------------------

# Polymarket/py-clob-client-v2 tests/order_utils/test_exchange_order_builder_v2.py (the only fixed V2 order vector in
# the official clients' tests): a POLY_1271 (deposit wallet) BUY on Amoy against the standard exchange.
OFFICIAL_POLY_1271 = (
    "0xa3a093c83b6c20c83355c16ce94c92e6e9fcbdeb840618cc74f6c57a42ad145b"
    "2b98db73d2c73cbf1f2b6af288566ae81960ddbc3a13921027358a8bff3be6ff1c"
    "a440cbd865bc0c6243d7a8df9a8bf48a8827b0a4abbb61c30e96d305423af148"
    "d23d42d3ad94e65d78258cecaf8dcbaddac0f73dc085040f2c12bb595dd83804"
    "4f726465722875696e743235362073616c742c61646472657373206d616b65722c"
    "61646472657373207369676e65722c75696e7432353620746f6b656e49642c75"
    "696e74323536206d616b6572416d6f756e742c75696e743235362074616b6572"
    "416d6f756e742c75696e743820736964652c75696e7438207369676e61747572"
    "65547970652c75696e743235362074696d657374616d702c6279746573333220"
    "6d657461646174612c62797465733332206275696c6465722900ba"
)


def test_official_poly_1271_vector() -> None:
    wallet = "0x1111111111111111111111111111111111111111"
    order = OrderStruct(salt=479249096354, maker=wallet, signer=wallet, token_id=1234, maker_amount=100_000_000, taker_amount=50_000_000,
                        side=C.SIDE_BUY, signature_type=C.SIG_POLY_1271, timestamp=1710000000000)
    signed = sign_order(order, bytes.fromhex(TEST_KEY[2:]), C.EXCHANGE, "2", C.AMOY)
    assert signed.signature == OFFICIAL_POLY_1271
    assert recover_order_signer(order, signed.signature, C.EXCHANGE, "2", C.AMOY) == address_of(bytes.fromhex(TEST_KEY[2:]))


# The official tests fix no EOA / POLY_PROXY / GNOSIS_SAFE signature and no Polygon, neg-risk or ExchangeV3 one (their
# salts are random); ECDSA here is deterministic (RFC 6979), so these were made once with the official client,
# py_clob_client_v2 ExchangeOrderBuilderV2: every signature type x exchange (standard and neg-risk V2, domain "2";
# ExchangeV3, domain "3") x chain (Polygon, Amoy). tests/resources/polymarket/signing_vectors_py_clob_client_v2.json
# (PROVENANCE.md says how).
ORDER_VECTORS: list[dict[str, Any]] = json.loads((FIXTURES / "polymarket" / "signing_vectors_py_clob_client_v2.json").read_text())["orders"]


@pytest.mark.parametrize("v", ORDER_VECTORS, ids=lambda v: f"{v['chain_id']}-{v['exchange']}-type{v['signature_type']}")
def test_order_vectors_of_the_official_client(v: dict[str, Any]) -> None:
    assert (v["chain_id"], v["exchange"], v["verifying_contract"], v["domain_version"]) in {
        (chain, "standard", C.EXCHANGE, "2") for chain in C.CHAINS} | {
        (chain, "neg_risk", C.NEG_RISK_EXCHANGE, "2") for chain in C.CHAINS} | {
        (chain, "v3", C.exchange_v3(chain), "3") for chain in C.CHAINS}
    assert C.exchange(v["chain_id"], neg_risk=v["exchange"] == "neg_risk", version=3 if v["exchange"] == "v3" else 2) == (
        v["verifying_contract"], v["domain_version"])
    order = OrderStruct(salt=int(v["salt"]), maker=v["maker"].lower(), signer=v["signer"].lower(), token_id=int(v["token_id"]),
                        maker_amount=int(v["maker_amount"]), taker_amount=int(v["taker_amount"]), side=C.SIDES[v["side"]],
                        signature_type=v["signature_type"], timestamp=int(v["timestamp"]))
    signed = sign_order(order, bytes.fromhex(TEST_KEY[2:]), v["verifying_contract"], v["domain_version"], v["chain_id"])
    assert (signed.order_id, signed.signature) == (v["order_hash"], v["signature"])
