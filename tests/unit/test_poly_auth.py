"""Polymarket auth known-answer vectors (venue-protocols.md P8) and HMAC verification.

Official vectors, each cited where it is used: py-clob-client-v2 tests/signing/test_hmac.py and test_eip712.py,
clob-client-v2 tests/signing/eip712.test.ts, rs-clob-client src/auth.rs (`l1_headers_should_succeed`,
`l2_headers_should_succeed`, `hmac_succeeds`). No official test signs ClobAuth on Polygon: those vectors were made
with the official client itself (tests/resources/polymarket/signing_vectors_py_clob_client_v2.json, PROVENANCE.md)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from core.config import Secret
from tests.conftest import FIXTURES
from venues.polymarket.auth import ApiCreds, clob_auth_signature, l1_headers, l2_headers, l2_signature, verify_l2

SECRET = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"


def test_hmac_known_answer() -> None:
    assert l2_signature(SECRET, "1000000", "test-sign", "/orders", '{"hash": "0x123"}') == "ZwAdJKvoYRlEKDkNMwd5BuwNNtg93kNaR_oU2HrfVvc="


def test_clob_auth_known_answer() -> None:
    sig = clob_auth_signature(KEY, 80002, "10000000", 23)
    assert sig.startswith("0xf62319a9") and sig.endswith("64a1aedc1b") and len(sig) == 2 + 130


def test_l1_headers_equal_the_official_vector_in_full() -> None:
    """py-clob-client-v2 tests/signing/test_eip712.py (Amoy, timestamp 10000000, nonce 23), the same signature in
    clob-client-v2 tests/signing/eip712.test.ts and rs-clob-client src/auth.rs `l1_headers_should_succeed`."""
    assert l1_headers(KEY, 80002, 10000000, 23) == {
        "POLY_ADDRESS": "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
        "POLY_SIGNATURE": "0xf62319a987514da40e57e2f4d7529f7bac38f0355bd88bb5adbb3768d80de6c1"
                          "682518e0af677d5260366425f4361e7b70c25ae232aff0ab2331e2b164a1aedc1b",
        "POLY_TIMESTAMP": "10000000", "POLY_NONCE": "23"}


VECTORS: dict[str, Any] = json.loads((FIXTURES / "polymarket" / "signing_vectors_py_clob_client_v2.json").read_text())


@pytest.mark.parametrize("v", VECTORS["clob_auth"], ids=lambda v: f"{v['chain_id']}-{v['nonce']}")
def test_clob_auth_on_both_chains_equals_the_official_client(v: dict[str, Any]) -> None:
    """ClobAuth on Polygon (137) and Amoy (80002): the domain's chainId is the only difference."""
    h = l1_headers(VECTORS["private_key"], v["chain_id"], int(v["timestamp"]), v["nonce"])
    assert (h["POLY_ADDRESS"], h["POLY_SIGNATURE"]) == (v["address"], v["signature"])


def test_hmac_known_answers_of_the_rust_client() -> None:
    """rs-clob-client src/auth.rs: `hmac_succeeds` (the compact JSON body the Rust client sends) and
    `l2_headers_should_succeed` (GET / at second 1: no body)."""
    assert l2_signature(SECRET, "1000000", "test-sign", "/orders", '{"hash":"0x123"}') == "4gJVbox-R6XlDK4nlaicig0_ANVL1qdcahiL8CXfXLM="
    creds = ApiCreds("00000000-0000-0000-0000-000000000000", Secret(SECRET), Secret("a" * 64))
    h = l2_headers("0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266", creds, "GET", "/", b"", 1)
    assert (h["POLY_SIGNATURE"], h["POLY_TIMESTAMP"], h["POLY_PASSPHRASE"]) == ("eHaylCwqRSOa2LFD77Nt_SaTpbsxzN8eTEI3LryhEj4=", "1", "a" * 64)


def test_verify_rejects_tampering() -> None:
    body = b'{"order":{"salt":1}}'
    sig = l2_signature(SECRET, "1700000000", "POST", "/order", body)
    assert verify_l2(SECRET, "1700000000", "POST", "/order", body, sig)
    assert not verify_l2(SECRET, "1700000000", "POST", "/order", body + b" ", sig)
    assert not verify_l2(SECRET, "1700000001", "POST", "/order", body, sig)
    assert not verify_l2(SECRET, "1700000000", "POST", "/order", body, "not-a-signature")
    assert not verify_l2("not base64!", "1700000000", "POST", "/order", body, sig)


def test_headers_carry_no_secret() -> None:
    creds = ApiCreds("key-1", Secret(SECRET), Secret("pass-phrase"))
    h = l2_headers("0xabc", creds, "GET", "/data/order/0x1", b"", 1700000000)
    assert h["POLY_API_KEY"] == "key-1" and h["POLY_PASSPHRASE"] == "pass-phrase" and SECRET not in h.values()
    assert SECRET not in repr(creds) and "pass-phrase" not in repr(creds)


def test_l2_headers_equal_the_official_clients() -> None:
    """Issue 25 defect 3: the whole L2 header set equals py_clob_client_v2 `create_level_2_headers`
    (py_clob_client_v2/headers/headers.py) for the same request and second; POLY_ADDRESS is the EOA in
    EIP-55 checksum form (`Signer.address()`, eth_account) even when we hold it lowercase."""
    from py_clob_client_v2.clob_types import ApiCreds as SdkCreds
    from py_clob_client_v2.clob_types import RequestArgs
    from py_clob_client_v2.headers.headers import create_level_2_headers
    from py_clob_client_v2.signer import Signer

    from venues.polymarket.eip712 import address_of

    eoa = address_of(bytes.fromhex(KEY[2:]))
    assert eoa == eoa.lower()
    creds = ApiCreds("key-1", Secret(SECRET), Secret("pass-phrase"))
    sdk_creds = SdkCreds(api_key="key-1", api_secret=SECRET, api_passphrase="pass-phrase")
    for method, path, body in (("GET", "/data/order/0x1", None), ("POST", "/order", '{"order":{"salt":1},"owner":"key-1"}'),
                               ("DELETE", "/order", '{"orderID":"0x1"}')):
        sdk = create_level_2_headers(Signer(KEY, 80002), sdk_creds, RequestArgs(method, path, body=body, serialized_body=body), timestamp=1700000000)
        assert l2_headers(eoa, creds, method, path, (body or "").encode(), 1700000000) == sdk
        assert sdk["POLY_ADDRESS"] == "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
