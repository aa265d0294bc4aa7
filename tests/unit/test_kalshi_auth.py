"""Kalshi RSA-PSS signing (K2): message shape, key formats, verification, salt length 32; known answers from
outside this code (the official starter code's message, OpenSSL-made signatures, the PSS parameters decoded by hand)."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from producers import kalshi_feed
from producers.handoff import Handoff
from tests.conftest import FIXTURES
from venues.kalshi import auth
from venues.kalshi.rest import KalshiRest


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


# --- known answers from outside this code (issue 25) ----------------------------------------------------------
# The PSS salt is random, so no signature can be compared byte for byte. What is fixed, and checked here:
# - the message, against the official starter code's construction (Kalshi/kalshi-starter-code-python, clients.py
#   `request_headers`: `timestamp_str + method + path.split('?')[0]`, the path starting at /trade-api/v2; its WS
#   client signs `GET` + `/trade-api/ws/v2`), for every request the feed and the executor send;
# - the PSS parameters of our signatures (SHA-256, MGF1-SHA256, salt = digest length: `PSS.DIGEST_LENGTH` in
#   clients.py `sign_pss_text`), decoded by hand from the signature (RFC 8017 EMSA-PSS) rather than trusted;
# - that signatures made elsewhere verify: vectors made once with the OpenSSL CLI (not this code) over the NT key:
#   `openssl dgst -sha256 -sign key.pem -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest
#   -sigopt rsa_mgf1_md:sha256` (saltlen:max for the one Kalshi's parameters refuse).
# Key: NautilusTrader's throwaway test key, tests/resources/kalshi/rsa_test_private_key_pkcs8.b64 (PROVENANCE.md).


NT_KEY_PEM = ("-----BEGIN PRIVATE KEY-----\n" + (FIXTURES / "kalshi" / "rsa_test_private_key_pkcs8.b64").read_text().strip()
              + "\n-----END PRIVATE KEY-----\n").encode()
OPENSSL_VECTORS = [  # (ts_ms, method, path, signature): OpenSSL 3.0.19, salt length = digest length
    (1703123456789, "GET", "/trade-api/v2/portfolio/balance",
     "vefz38HnOztSDp2EQ/uCozpQSs2z2VnpmMMQ3TyxcdcY/VREos9mSdo1CP7RdnTXPVkzkXIfzVPsjAtru9Rlhkcbp+yAypwLMW9Vp1mYFBftDPg7/zDsjEn"
     "uJGMUyY+nwRvWivneTyeq6ywMtbqobrG3vvM2D2t8KfS2HV4o6xXd5TmpbLZCJaHg2CMvc/gPcEzAE5u5H5Q+9W3iL4Sls1N2yPgU0xjq5WJ8sXQ5Ylo"
     "azLijjBO0iIOqHIKw9YyCxBlaaX0l1A/cAmn1TB/RasoM4OzWTHc9irzxeIuY+IVE9YVFpobJU57nVCsBjNbwqTnwhaSM3InbVAo7Wq0Hmw=="),
    (1703123456789, "GET", "/trade-api/ws/v2",
     "Cy5mv5oAGqdg8zl8lw2bolsMN7bQtqQU4U5ohj/xSen3kToobrrbaXb4ZakQH0DljWogxJ4dBSOFO1HGnSxDsWlbV+ooen6DHtKNvmJIXfjvnb2RCwA60ipp"
     "QYhvlJlxFp8xgZIL7AtPbx7g3o3DA+nQUOgiyDbSFfMWYcPcWWue+/K2eNTRHrFsmHl3K0trWAsF1dcpSVZM8Hgd34XLJZ0Xkl+w4HnEUvXc1hPGSB8Ie/f"
     "wDZdsrq0htsJPdSx6Kt3thaCo7eaDLMsG3rMCjiQ78zKNO9O5wWacMR+OOorfru+amTa9gNUkr9z2+VqVuEvpsWRMeUIrnwS83PleXg=="),
]
OPENSSL_MAX_SALT = ("ygGIPOXoRdpUpnEWxzQWg1iI1ld+WyiC9OqeMhRP6wtmWtb3crrkb97dWmJkdK2AeUL56C5AxdJ+8IouE9Q7zfHSw/lqufsgFleKrMI6Xm1j1/VQGQNdD"
                    "zrxYANUThpKr+TLdrUcoRk8ndPOPDMhqu+OT5GGfHl6MHJJiEnM+osfi70EpGvVxYs4PlO/4xJzRKU+lkvtK5FM5QhUG2j3cMK3vZC9jWSH7ew0ReakH"
                    "K3vDlOaVO2S4lTVctxI7w/zlDrMQAqic7/rE5jsBH5OnG6ZEn8Pul4KDDHfGM//4FzK+Qiu8UAoO6iHkykiItlRP3wq9f3P5kGr1labTl4rCw==")


@pytest.fixture(scope="module")
def nt_key() -> rsa.RSAPrivateKey:
    return auth.load_private_key(NT_KEY_PEM)


def official_message(ts_ms: int, method: str, path: str) -> bytes:
    """The starter code's construction, restated: timestamp string + method + path up to its query."""
    return (str(ts_ms) + method + path.split("?")[0]).encode("utf-8")


def _mgf1_sha256(seed: bytes, length: int) -> bytes:
    out = b"".join(hashlib.sha256(seed + i.to_bytes(4, "big")).digest() for i in range((length + 31) // 32))
    return out[:length]


def pss_salt_length(public_key: rsa.RSAPublicKey, message: bytes, signature_b64: str) -> int:
    """EMSA-PSS-VERIFY (RFC 8017 9.1.2) with SHA-256 and MGF1-SHA256, by hand: the salt length the signature carries.
    Raises AssertionError if it is no such signature of `message`."""
    nums = public_key.public_numbers()
    em_bits = public_key.key_size - 1
    em_len = (em_bits + 7) // 8
    em = pow(int.from_bytes(base64.b64decode(signature_b64), "big"), nums.e, nums.n).to_bytes(em_len, "big")
    assert em[-1] == 0xBC
    masked_db, h = em[: em_len - 33], em[em_len - 33: em_len - 1]
    db = bytes(a ^ b for a, b in zip(masked_db, _mgf1_sha256(h, len(masked_db)), strict=True))
    db = bytes([db[0] & (0xFF >> (8 * em_len - em_bits))]) + db[1:]
    ps_len = db.index(b"\x01")
    assert not db[:ps_len].strip(b"\x00")
    salt = db[ps_len + 1:]
    assert hashlib.sha256(b"\x00" * 8 + hashlib.sha256(message).digest() + salt).digest() == h
    return len(salt)


@pytest.mark.parametrize(("ts", "method", "path", "sig"), OPENSSL_VECTORS)
def test_openssl_signatures_verify(nt_key: rsa.RSAPrivateKey, ts: int, method: str, path: str, sig: str) -> None:
    assert auth.verify(nt_key.public_key(), ts, method, path, sig)
    assert pss_salt_length(nt_key.public_key(), official_message(ts, method, path), sig) == 32
    assert not auth.verify(nt_key.public_key(), ts + 1, method, path, sig)


def test_a_max_salt_signature_is_refused(nt_key: rsa.RSAPrivateKey) -> None:
    """Valid PSS, wrong parameters: 222 bytes of salt, not the digest length Kalshi uses."""
    assert pss_salt_length(nt_key.public_key(), official_message(1703123456789, "GET", "/trade-api/v2/portfolio/balance"),
                           OPENSSL_MAX_SALT) == 222
    assert not auth.verify(nt_key.public_key(), 1703123456789, "GET", "/trade-api/v2/portfolio/balance", OPENSSL_MAX_SALT)


def test_our_signature_carries_exactly_kalshis_pss_parameters(nt_key: rsa.RSAPrivateKey) -> None:
    sig = auth.sign(nt_key, 1703123456789, "GET", "/trade-api/v2/portfolio/balance?limit=5")
    assert pss_salt_length(nt_key.public_key(), official_message(1703123456789, "GET", "/trade-api/v2/portfolio/balance"), sig) == 32


async def _signed_requests(nt_key: rsa.RSAPrivateKey) -> list[httpx.Request]:
    seen: list[httpx.Request] = []

    def route(r: httpx.Request) -> httpx.Response:
        seen.append(r)
        if r.url.path.endswith("/portfolio/events/orders"):
            return httpx.Response(201, json={"order_id": "o", "client_order_id": "c", "fill_count": "0.00", "remaining_count": "0.00", "ts_ms": 1})
        return httpx.Response(200, json={"orders": [], "cursor": "", "balance_dollars": "1.0000", "order_id": "o"})

    rest = KalshiRest("https://external-api.kalshi.com/trade-api/v2", "kid", nt_key, transport=httpx.MockTransport(route))
    try:
        await rest.get_balance()
        await rest.find_order("KXNFLGAME-26OCT01PITCLE-PIT", "c", 1_790_000_000)
        await rest.create_order(ticker="KXNFLGAME-26OCT01PITCLE-PIT", side="NO", action="BUY", price=7000, count=100, client_order_id="c")
        await rest.cancel_order("o", "KXNFLGAME-26OCT01PITCLE-PIT")
    finally:
        await rest.aclose()
    return seen


async def test_every_rest_request_signs_the_official_message(nt_key: rsa.RSAPrivateKey) -> None:
    reqs = await _signed_requests(nt_key)
    assert [(r.method, r.url.path, bool(r.url.query)) for r in reqs] == [
        ("GET", "/trade-api/v2/portfolio/balance", False), ("GET", "/trade-api/v2/portfolio/orders", True),
        ("POST", "/trade-api/v2/portfolio/events/orders", False), ("DELETE", "/trade-api/v2/portfolio/events/orders/o", True)]
    for r in reqs:
        ts = int(r.headers[auth.HEADER_TIMESTAMP])
        assert r.headers[auth.HEADER_KEY] == "kid"
        target = r.url.raw_path.decode()  # path and query as sent; the official construction drops the query
        assert pss_salt_length(nt_key.public_key(), official_message(ts, r.method, target), r.headers[auth.HEADER_SIGNATURE]) == 32


async def test_ws_upgrade_signs_get_and_the_ws_path(nt_key: rsa.RSAPrivateKey, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def fake_connect(url: str, *, additional_headers: dict[str, str], **_: Any) -> Any:
        seen.update(url=url, headers=additional_headers)
        raise ConnectionRefusedError("no venue in this test")

    monkeypatch.setattr(kalshi_feed, "connect", fake_connect)
    feed = kalshi_feed.KalshiFeed(url="wss://external-api-ws.kalshi.com/trade-api/ws/v2", key_id="kid", private_key=nt_key,
                                  markets={}, handoff=Handoff())
    with pytest.raises(ConnectionRefusedError):
        await feed._session()
    h = seen["headers"]
    ts = int(h[auth.HEADER_TIMESTAMP])
    assert kalshi_feed.WS_SIGN_PATH == "/trade-api/ws/v2"
    assert pss_salt_length(nt_key.public_key(), official_message(ts, "GET", "/trade-api/ws/v2"), h[auth.HEADER_SIGNATURE]) == 32
