"""Issue 25, defects 3, 4 and 11 (Polymarket part): orders signed through the executor's own wiring.

Every order here comes out of `executor.run._polymarket_client`, built from ARB_POLY_* settings as the
`arb execute` role builds it (only the Kafka readers are replaced by in-memory ones), and is compared
with what the official client (py_clob_client_v2, the oracle) signs for the same inputs:
`OrderBuilder.build_order` (py_clob_client_v2/order_builder/builder.py) then `order_to_json_v2`
(py_clob_client_v2/order_utils/model/order_data_v2.py).

- Defect 3: signature types 0 EOA, 1 POLY_PROXY, 2 POLY_GNOSIS_SAFE, 3 POLY_1271
  (py_clob_client_v2/order_utils/model/signature_type_v2.py). `maker` is the funder for every type
  (the key's own address for EOA); `signer` is the key's address, except POLY_1271 where it is the
  funder (deposit wallet) too: `OrderBuilder._v2_order_signer` in builder.py; clob-client-v2
  src/order-builder/helpers/createOrder.ts ("For POLY_1271, both maker and signer in the order are the
  wallet address"). The L2 header `POLY_ADDRESS` is the EOA, EIP-55 checksummed: `Signer.address()`
  (eth_account) in py_clob_client_v2/signer.py, used by `create_level_2_headers` in headers/headers.py.
- Defect 4: the signed `timestamp` is the time of signing in ms (`time.time_ns() // 1_000_000` in
  builder.py `build_order` and exchange_order_builder_v2.py), not the signal's deadline; orders use the
  live tick (`tick_size` of the latest Tick, fed by `tick_size_change`) when it is known.
- Defect 11: ExchangeV3 ("version 3" markets) has its own address per chain
  (py_clob_client_v2/config.py `get_contract_config`: 137 and 80002 differ).
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from py_clob_client_v2.clob_types import ApiCreds as SdkCreds
from py_clob_client_v2.clob_types import CreateOrderOptions, OrderArgsV2, RequestArgs
from py_clob_client_v2.headers.headers import create_level_2_headers
from py_clob_client_v2.order_builder import builder as sdk_builder
from py_clob_client_v2.order_builder.builder import OrderBuilder
from py_clob_client_v2.order_utils import ExchangeOrderBuilderV2, SignatureTypeV2
from py_clob_client_v2.order_utils.model.order_data_v2 import order_to_json_v2
from py_clob_client_v2.signer import Signer

from core.ids import polymarket_salt
from core.settings import KafkaSettings
from executor.orders import OrderRequest
from executor.run import _polymarket_client
from executor.settings import ExecutorSettings
from executor.venue_client import RetryingVenueClient
from schemas.records import BookRef, MarketPairing, Tick, from_dict
from simulators.polymarket.clob import OrderError, PolyClob
from tests.unit.test_poly_fak_amounts import sim_world
from venues import errors
from venues.polymarket import constants as C
from venues.polymarket.eip712 import address_of, checksum
from venues.polymarket.order import build_order
from venues.polymarket.signing import order_from_wire, post_body, recover_order_signer, sign_order

KEY_HEX = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"  # the well-known test key (venue-protocols P8)
EOA = address_of(bytes.fromhex(KEY_HEX))  # 0xf39f...2266
FUNDER = checksum("0x56687bf447db6ffa42ffe2204a05edaa20f55839")  # a proxy / safe / deposit wallet
TOKEN = "71321045863084981365469005770620412523470745398083994982746259498689308907982"
CONDITION = "0xc8f1cf5d4f26e0fd9c8fe89f2a7b3263b902cf14fde7bfccef525753bb492e47"
SECRET = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
NOW_MS = 1_795_000_123_456  # the clock at signing, in every test
TICK_TEXT = {1000: "0.1", 100: "0.01", 50: "0.005", 25: "0.0025", 10: "0.001", 1: "0.0001"}
POLY_ENV = ("ARB_POLY_CLOB_URL", "ARB_POLY_DATA_API_URL", "ARB_POLY_PRIVATE_KEY", "ARB_POLY_PRIVATE_KEY_FILE", "ARB_POLY_ADDRESS",
            "ARB_POLY_FUNDER", "ARB_POLY_SIGNATURE_TYPE", "ARB_POLY_API_KEY", "ARB_POLY_API_SECRET", "ARB_POLY_API_SECRET_FILE",
            "ARB_POLY_PASSPHRASE", "ARB_POLY_PASSPHRASE_FILE", "ARB_POLY_CHAIN_ID")


def book(tick: int = 100, neg_risk: bool = False, version: int = 2, condition: str = CONDITION, token: str = TOKEN) -> BookRef:
    """A Polymarket book of a MarketPairing on `markets`, as discovery records it."""
    return from_dict(BookRef, {
        "venue": "POLYMARKET", "market": condition, "event": "e", "tick_size": tick, "min_size": 500, "seconds_delay": 0,
        "fee": {"model": "NONE", "rate_ppm": 0, "multiplier_ppm": 1_000_000, "exponent": 1}, "neg_risk": neg_risk,
        "exchange_version": version, "exchange_index": 0, "instruments": [{"market": token, "side": "YES", "label": "A", "pays_on": ["a"]}]})


class _Markets:
    def __init__(self, books: list[BookRef]) -> None:
        self.pairings = {"g": MarketPairing(game_id="g", league="nfl", game_date="20261129", away="a", home="b", outcomes=["a", "b"],
                                            books=books, updated_ts=0)}

    def start(self, wait_s: float | None = None) -> _Markets:
        return self

    def stop(self) -> None:
        pass


class _Ticks:
    """executor.paper.LatestTicks without Kafka: token id -> latest Tick."""

    def __init__(self, ticks: dict[str, Tick]) -> None:
        self.ticks = ticks

    def start(self) -> _Ticks:
        return self

    def stop(self) -> None:
        pass


Make = Callable[..., RetryingVenueClient]


@pytest.fixture
def executor_client(monkeypatch: pytest.MonkeyPatch) -> Iterator[Make]:
    """`make(sig_type, chain, books, live_ticks)` -> the executor's Polymarket client, from settings."""
    monkeypatch.setattr(time, "time_ns", lambda: NOW_MS * 1_000_000 + 789)  # the clock of both builders

    def make(sig_type: int = 0, chain: int = C.POLYGON, books: list[BookRef] | None = None,
             live_ticks: dict[str, Tick] | None = None, extra: dict[str, str] | None = None) -> RetryingVenueClient:
        for name in POLY_ENV:
            monkeypatch.delenv(name, raising=False)
        env = {"ARB_POLY_PRIVATE_KEY": "0x" + KEY_HEX, "ARB_POLY_API_KEY": "owner-key", "ARB_POLY_API_SECRET": SECRET,
               "ARB_POLY_PASSPHRASE": "pp-wallets", "ARB_POLY_SIGNATURE_TYPE": str(sig_type), "ARB_POLY_CHAIN_ID": str(chain),
               "ARB_POLY_CLOB_URL": "http://clob.test"}
        if sig_type:
            env["ARB_POLY_FUNDER"] = FUNDER
        for k, v in (env | (extra or {})).items():
            monkeypatch.setenv(k, v)
        monkeypatch.setattr("core.markets_cache.MarketsCache", lambda _kafka: _Markets(books or [book()]))
        monkeypatch.setattr("executor.paper.LatestTicks", lambda _kafka: _Ticks(live_ticks or {}))
        client = _polymarket_client(KafkaSettings(), ExecutorSettings(), [])
        assert client is not None
        return client

    yield make


def request(side: str = "BUY", price: int = 5200, size: int = 1000, step: int = 0, deadline_us: int = NOW_MS * 1000,
            condition: str = CONDITION, token: str = TOKEN) -> OrderRequest:
    return OrderRequest(client_order_id=f"s0123456789abcdef:0:{step}", signal_id="s0123456789abcdef", game_id="g", leg_index=0, step=step,
                        venue="POLYMARKET", market=token, book=condition, side="YES", action=side, limit_price=price, size=size,
                        deadline_us=deadline_us)


def official_body(req: OrderRequest, sig_type: int, chain: int, tick: int, neg_risk: bool, version: int,
                  monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """POST /order body of the official client for the same order: its clock is patched (see the fixture),
    its salt is ours (ours is derived from the client_order_id, its is random; the salt is only an input)."""
    monkeypatch.setattr(sdk_builder, "ExchangeOrderBuilderV2",
                        functools.partial(ExchangeOrderBuilderV2, generate_salt=lambda: str(polymarket_salt(req.client_order_id))))
    signer = Signer("0x" + KEY_HEX, chain)
    ob = OrderBuilder(signer, SignatureTypeV2(sig_type), funder=FUNDER if sig_type else None)
    args = OrderArgsV2(token_id=TOKEN, price=req.limit_price / 10_000, size=req.size / 100, side=req.action)
    signed = ob.build_order(args, CreateOrderOptions(tick_size=TICK_TEXT[tick], neg_risk=neg_risk), version=version)
    return order_to_json_v2(signed, "owner-key", "FAK")


CASES = [(t, chain, ex, side) for t in (0, 1, 2, 3) for chain in (C.POLYGON, C.AMOY) for ex in ("standard", "neg_risk", "v3")
         for side in ("BUY", "SELL")]


# --- defect 3 (and 11): every signature type, both chains, every exchange ---------------------------------


@pytest.mark.parametrize(("sig_type", "chain", "exchange", "side"), CASES)
async def test_signed_order_is_the_official_clients(executor_client: Make, monkeypatch: pytest.MonkeyPatch, sig_type: int,
                                                    chain: int, exchange: str, side: str) -> None:
    neg_risk, version = exchange == "neg_risk", 3 if exchange == "v3" else 2
    client = executor_client(sig_type, chain, [book(100, neg_risk, version)])
    req = await client.prepare(request(side, price=5200 if side == "BUY" else 5300, size=1000))
    assert req.signed_order is not None
    ours = json.loads(req.signed_order)
    sdk = official_body(req, sig_type, chain, 100, neg_risk, version, monkeypatch)
    assert ours == sdk  # byte-identical: maker, signer, signatureType, timestamp, amounts, signature
    await client.transport.rest.aclose()  # type: ignore[attr-defined]


@pytest.mark.parametrize("sig_type", [0, 1, 2, 3])
async def test_maker_and_signer_per_signature_type(executor_client: Make, sig_type: int) -> None:
    """The rule itself, written out: maker = funder (EOA for type 0); signer = EOA, or the funder for POLY_1271;
    the signature recovers to the key's own address in every case."""
    client = executor_client(sig_type)
    req = await client.prepare(request())
    assert req.signed_order is not None
    wire = json.loads(req.signed_order)["order"]
    maker = EOA if sig_type == 0 else FUNDER.lower()
    signer = FUNDER.lower() if sig_type == C.SIG_POLY_1271 else EOA
    assert (wire["maker"], wire["signer"], wire["signatureType"]) == (checksum(maker), checksum(signer), sig_type)
    order, sig = order_from_wire(wire)
    assert recover_order_signer(order, sig, C.EXCHANGE, "2", C.POLYGON) == EOA
    await client.transport.rest.aclose()  # type: ignore[attr-defined]


@pytest.mark.parametrize("sig_type", [0, 1, 2, 3])
async def test_l2_headers_are_the_official_clients(executor_client: Make, sig_type: int) -> None:
    """POLY_ADDRESS is the EOA (never the funder), EIP-55 checksummed, and the whole L2 header set equals
    `create_level_2_headers` for the same request and second."""
    client = executor_client(sig_type)
    rest = client.transport.rest  # type: ignore[attr-defined]
    seen: list[httpx.Request] = []

    def route(r: httpx.Request) -> httpx.Response:
        seen.append(r)
        return httpx.Response(200, json={"status": "ORDER_STATUS_LIVE", "size_matched": "0"})

    await rest._client.aclose()
    rest._client = httpx.AsyncClient(base_url="http://clob.test", transport=httpx.MockTransport(route))
    await rest.get_order("0xabc")
    await rest.cancel("0xabc")
    await rest.aclose()
    creds = SdkCreds(api_key="owner-key", api_secret=SECRET, api_passphrase="pp-wallets")
    for r in seen:
        ts = int(r.headers["POLY_TIMESTAMP"])
        body = r.content.decode() or None
        sdk = create_level_2_headers(Signer("0x" + KEY_HEX, C.POLYGON), creds,
                                     RequestArgs(r.method, r.url.path, body=body, serialized_body=body), timestamp=ts)
        ours = {k: r.headers[k] for k in sdk}
        assert ours == sdk
        assert ours["POLY_ADDRESS"] == "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"  # EIP-55 of the key's address


@pytest.mark.parametrize("sig_type", [0, 1, 2, 3])
async def test_simulator_takes_the_executors_order_for_every_signature_type(executor_client: Make, sig_type: int) -> None:
    world = sim_world()
    clob = PolyClob(world)
    pm = next(g for g in world.games.values() if not g.draw_possible).poly_markets[0]
    world.poly_account(EOA).balance = 10**9
    client = executor_client(sig_type, world.settings.poly_chain_id, [book(pm.tick, condition=pm.condition_id, token=pm.token_ids[0])],
                             extra={"ARB_POLY_API_KEY": world.settings.poly_api_key})
    req = await client.prepare(request(price=5000, size=1000, condition=pm.condition_id, token=pm.token_ids[0]))
    assert req.signed_order is not None
    order, *_ = clob._validate(json.loads(req.signed_order))  # no OrderError: signature and wallet roles accepted
    assert order.signature_type == sig_type
    await client.transport.rest.aclose()  # type: ignore[attr-defined]


def test_simulator_refuses_a_deposit_wallet_order_signed_as_the_eoa() -> None:
    """Today's bug, as the venue sees it: a POLY_1271 order whose signer is the key's address (not the deposit
    wallet) fails the wallet's EIP-1271 check; the simulator refuses it as `invalid signature`."""
    world = sim_world()
    pm = next(g for g in world.games.values() if not g.draw_possible).poly_markets[0]
    world.poly_account(EOA).balance = 10**9
    key = bytes.fromhex(KEY_HEX)
    for signer, refused in ((EOA, True), (FUNDER.lower(), False)):
        order = build_order(token_id=int(pm.token_ids[0]), side="BUY", price=5000, size=1000, tick=pm.tick, maker=FUNDER, signer=signer,
                            signature_type=C.SIG_POLY_1271, salt=1, timestamp_ms=NOW_MS, order_type="FAK")
        body = post_body(sign_order(order, key, C.EXCHANGE, "2", world.settings.poly_chain_id), world.settings.poly_api_key, "FAK")
        if refused:
            with pytest.raises(OrderError, match="invalid signature"):
                PolyClob(world)._validate(body)
        else:
            PolyClob(world)._validate(body)


@pytest.mark.parametrize(("extra", "why"), [
    ({"ARB_POLY_SIGNATURE_TYPE": "3", "ARB_POLY_FUNDER": ""}, "ARB_POLY_FUNDER"),
    ({"ARB_POLY_SIGNATURE_TYPE": "1", "ARB_POLY_FUNDER": ""}, "ARB_POLY_FUNDER"),
    ({"ARB_POLY_SIGNATURE_TYPE": "0", "ARB_POLY_FUNDER": FUNDER}, "ARB_POLY_FUNDER"),
    ({"ARB_POLY_SIGNATURE_TYPE": "4"}, "ARB_POLY_SIGNATURE_TYPE"),
    ({"ARB_POLY_ADDRESS": FUNDER}, "ARB_POLY_ADDRESS"),
    ({"ARB_POLY_CHAIN_ID": "1"}, "ARB_POLY_CHAIN_ID"),
])
def test_a_wallet_the_venue_would_refuse_stops_the_executor_at_start(executor_client: Make, extra: dict[str, str], why: str) -> None:
    """Settings that cannot produce a valid order (a smart-contract wallet type without its wallet, an
    ARB_POLY_ADDRESS that is not the key's, an unknown chain) refuse to build the client, naming the setting."""
    with pytest.raises(ValueError, match=why):
        executor_client(0, extra=extra)


def test_address_setting_equal_to_the_keys_is_accepted_in_any_case(executor_client: Make) -> None:
    client = executor_client(3, extra={"ARB_POLY_ADDRESS": EOA.upper().replace("0X", "0x")})
    assert client.transport.wallet.signer == FUNDER.lower()  # type: ignore[attr-defined]


# --- defect 4: timestamp of signing, salt from the client_order_id ------------------------------------------


async def test_timestamp_is_the_time_of_signing_not_the_deadline(executor_client: Make) -> None:
    client = executor_client(0)
    for deadline_us in (NOW_MS * 1000 + 3_600_000_000, NOW_MS * 1000 - 86_400_000_000):  # a future deadline; a long-past one
        req = await client.prepare(request(deadline_us=deadline_us))
        assert req.signed_order is not None
        assert json.loads(req.signed_order)["order"]["timestamp"] == str(NOW_MS)
    await client.transport.rest.aclose()  # type: ignore[attr-defined]


async def test_salt_stays_derived_from_the_client_order_id(executor_client: Make, monkeypatch: pytest.MonkeyPatch) -> None:
    """The salt is a function of the client_order_id, so the same signed bytes re-posted are the same order
    (the venue answers INVALID_ORDER_DUPLICATED) and demo/stats.py still finds a leg sent twice by its
    salt. A re-sign at another millisecond is another order (another hash): the executor never re-signs a
    leg whose INTENT was committed (it holds the signed JSON; recovery looks that hash up), and a leg is
    sent only after its INTENT is committed, so a re-sign only replaces an order that was never sent."""
    client = executor_client(0)
    first = await client.prepare(request())
    again = await client.prepare(request())
    assert first.signed_order == again.signed_order and first.venue_order_id == again.venue_order_id  # same ms: same order
    monkeypatch.setattr(time, "time_ns", lambda: (NOW_MS + 5) * 1_000_000)
    later = await client.prepare(request())
    assert first.signed_order is not None and later.signed_order is not None
    a, b = json.loads(first.signed_order)["order"], json.loads(later.signed_order)["order"]
    assert a["salt"] == b["salt"] == polymarket_salt(first.client_order_id)
    assert later.venue_order_id != first.venue_order_id and b["timestamp"] == str(NOW_MS + 5)
    await client.transport.rest.aclose()  # type: ignore[attr-defined]


# --- defect 4: the live tick --------------------------------------------------------------------------------


def _tick(tick_size: int) -> Tick:
    return Tick(tick_id=f"POLYMARKET:{TOKEN}:1", game_id="g", venue="POLYMARKET", market=TOKEN, status="OK", bids=[], asks=[],
                tick_size=tick_size, received_ts=0, produced_ts=0)


async def test_live_tick_finer_than_discovery_is_used(executor_client: Make) -> None:
    """Discovery recorded 0.01; `tick_size_change` made it 0.001 (prices near 0.04 / 0.96): a 0.963 order is
    valid on the live grid and is signed (it used to be refused as off discovery's tick)."""
    client = executor_client(0, books=[book(tick=100)], live_ticks={TOKEN: _tick(10)})
    req = await client.prepare(request(price=9630, size=1000))
    assert req.signed_order is not None and req.size == 1000
    await client.transport.rest.aclose()  # type: ignore[attr-defined]


async def test_live_tick_coarser_than_discovery_refuses_an_off_grid_order(executor_client: Make) -> None:
    """Discovery recorded 0.001; the live tick is now 0.01: a 0.523 order would fail INVALID_ORDER_MIN_TICK_SIZE.
    A base leg is refused before anything is sent (the signal is rejected); a later step is left unsigned
    and `place` refuses it with the reason, sending nothing."""
    client = executor_client(0, books=[book(tick=10)], live_ticks={TOKEN: _tick(100)})
    with pytest.raises(errors.Rejected, match="tick"):
        await client.prepare(request(price=5230, size=1000))
    step = await client.prepare(request(price=5230, size=1000, step=1, deadline_us=NOW_MS * 1000 + 60_000_000))
    assert step.signed_order is None
    res = await client.place(step)
    assert res.type == "REJECT" and "tick" in (res.reason or "")
    await client.transport.rest.aclose()  # type: ignore[attr-defined]


@pytest.mark.parametrize("live", [None, 0, 30])
async def test_unknown_or_unusable_live_tick_falls_back_to_discovery(executor_client: Make, live: int | None) -> None:
    """No Tick yet for the token (the reader starts at the end of `ticks`), a Tick with tick_size 0
    (unknown), or a value that is not a venue tick size: discovery's tick is used."""
    ticks = {} if live is None else {TOKEN: _tick(live)}
    client = executor_client(0, books=[book(tick=10)], live_ticks=ticks)
    req = await client.prepare(request(price=5230, size=1000))
    assert req.signed_order is not None
    await client.transport.rest.aclose()  # type: ignore[attr-defined]
