"""Polymarket side of the executor: signed CLOB V2 FAK orders, whose EIP-712 hash is the order id.

The order is signed before the INTENT is committed (the signed JSON and its hash go into the INTENT),
so recovery never re-signs: it looks the hash up with GET /data/order/{hash}, and a leg is sent only
after its INTENT is committed. The signed `timestamp` is the time of signing in ms, as the official
builders stamp it (py_clob_client_v2/order_builder/builder.py `build_order`,
order_utils/exchange_order_builder_v2.py); the salt is derived from the client_order_id, so re-posting
the stored bytes is refused as INVALID_ORDER_DUPLICATED, and two accepted orders with one salt are one
leg sent twice (demo/stats.py). A re-sign at another millisecond is another order: it happens only when
no INTENT was committed, i.e. nothing was sent.

Wallets (`Wallet`, `wallet_from_settings`): `maker` is the funder (the EOA itself for signature type 0);
`signer` is the EOA, except for POLY_1271 (deposit wallet) where it is the funder too
(`OrderBuilder._v2_order_signer` in builder.py; clob-client-v2 src/order-builder/helpers/createOrder.ts).
The private key and POLY_ADDRESS are always the EOA's.

Orders are checked against the market's live tick (`tick_size` of the latest Tick, which the feed
updates on `tick_size_change`) when it is known, else the tick recorded by discovery.
FAK amounts must fit the venue's immediate-order decimals (venues/polymarket/amounts.py).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from core.fees import taker_fee
from core.ids import polymarket_salt
from core.units import notional as notional_of
from core.units import now_us, parse_fixed, parse_price
from executor.orders import LegResult, OrderRequest
from schemas.records import BookRef
from venues import errors
from venues.polymarket import amounts
from venues.polymarket import constants as C
from venues.polymarket.eip712 import address_of
from venues.polymarket.order import build_order
from venues.polymarket.rest import PolymarketRest
from venues.polymarket.signing import post_body, sign_order, stored_body

if TYPE_CHECKING:
    from venues.polymarket.settings import PolymarketSettings

log = logging.getLogger(__name__)
SHARE_UNITS_PER_SIZE = 10_000  # on-chain amounts have 6 decimals; our sizes 2 (1e-2 shares)
ORDER_TYPE = "FAK"  # fill what crosses now, cancel the rest (IOC)


@dataclass(frozen=True)
class Wallet:
    private_key: bytes = b""
    address: str = ""  # the EOA of the private key: POLY_ADDRESS, and the signer of types 0-2
    funder: str = ""  # holds the funds and positions (proxy / safe / deposit wallet); the EOA itself when empty
    signature_type: int = 0
    chain_id: int = 137
    api_key: str = ""  # the `owner` of posted orders

    @property
    def maker(self) -> str:
        return (self.funder or self.address).lower()

    @property
    def signer(self) -> str:
        """The order's `signer`: the funder (deposit wallet) for POLY_1271, else the EOA."""
        return self.maker if self.signature_type == C.SIG_POLY_1271 else self.address.lower()

    def __repr__(self) -> str:  # never show the key
        return f"Wallet(address={self.address!r}, funder={self.funder!r}, signature_type={self.signature_type})"


def _address(value: str, setting: str) -> str:
    text = value.strip().lower()
    if not (text.startswith("0x") and len(text) == 42 and all(c in "0123456789abcdef" for c in text[2:])):
        raise ValueError(f"{setting}={value!r} is not a 0x-prefixed 20-byte hex address")
    return text


def wallet_from_settings(ps: PolymarketSettings) -> Wallet | None:
    """The signing wallet of `arb execute`, or None without an API key and a private key. ValueError (naming
    the setting) for a wallet whose orders the venue would refuse: an unknown signature type or chain, a
    smart-contract wallet type (1-3) without ARB_POLY_FUNDER, an EOA (type 0) with another funder, or an
    ARB_POLY_ADDRESS that is not the key's."""
    key_hex = ps.private_key.reveal().strip() if ps.private_key else ""
    if not ps.api_key or not key_hex:
        return None
    try:
        key = bytes.fromhex(key_hex.removeprefix("0x"))
        if len(key) != 32:
            raise ValueError("not 32 bytes")
        eoa = address_of(key)
    except ValueError:
        raise ValueError("ARB_POLY_PRIVATE_KEY is not a hex secp256k1 private key") from None
    if ps.address and _address(ps.address, "ARB_POLY_ADDRESS") != eoa:
        raise ValueError(f"ARB_POLY_ADDRESS={ps.address} is not the address of ARB_POLY_PRIVATE_KEY ({eoa}): POLY_ADDRESS and "
                         "the signer are the key's own address (the funder goes in ARB_POLY_FUNDER)")
    if ps.signature_type not in (C.SIG_EOA, C.SIG_POLY_PROXY, C.SIG_GNOSIS_SAFE, C.SIG_POLY_1271):
        raise ValueError(f"ARB_POLY_SIGNATURE_TYPE={ps.signature_type}: must be 0 EOA, 1 POLY_PROXY, 2 GNOSIS_SAFE or 3 POLY_1271")
    funder = _address(ps.funder, "ARB_POLY_FUNDER") if ps.funder else ""
    if ps.signature_type == C.SIG_EOA and funder not in ("", eoa):
        raise ValueError(f"ARB_POLY_FUNDER={ps.funder} with ARB_POLY_SIGNATURE_TYPE=0: an EOA order's maker is the key's own "
                         "address; a proxy / safe / deposit wallet needs signature type 1, 2 or 3")
    if ps.signature_type != C.SIG_EOA and not funder:
        raise ValueError(f"ARB_POLY_SIGNATURE_TYPE={ps.signature_type} needs ARB_POLY_FUNDER: the proxy / safe / deposit wallet "
                         "that holds the funds (it is the order's maker, and for POLY_1271 its signer too)")
    if ps.chain_id not in C.CHAINS:
        raise ValueError(f"ARB_POLY_CHAIN_ID={ps.chain_id}: Polymarket has exchanges on {', '.join(map(str, C.CHAINS))} only")
    return Wallet(private_key=key, address=eoa, funder=funder or eoa, signature_type=ps.signature_type, chain_id=ps.chain_id,
                  api_key=ps.api_key)


def exchange_for(book: BookRef, chain_id: int = C.POLYGON) -> tuple[str, str]:
    """(verifying contract, EIP-712 domain version) of the book's exchange on the wallet's chain."""
    return C.exchange(chain_id, neg_risk=book.neg_risk, version=3 if book.exchange_version == 3 else 2)


def now_ms() -> int:
    """The order timestamp: wall-clock ms at signing, as the official builders take it."""
    return time.time_ns() // 1_000_000


def amounts_to_result(order_side: str, making: int, taking: int) -> tuple[int, int]:
    """(filled size in 1e-2 shares, notional in 1e-6 USD) from the venue's 6-dp making/taking amounts.

    BUY gives pUSD (making) for shares (taking); SELL the reverse. A BUY matched at better prices
    receives more shares for the same pUSD, so `filled` may exceed the ordered size."""
    shares, usd = (taking, making) if order_side == "BUY" else (making, taking)
    return shares // SHARE_UNITS_PER_SIZE, usd


class PolymarketTransport:
    venue = "POLYMARKET"

    def __init__(self, rest: PolymarketRest, wallet: Wallet, book_of: Callable[[str], BookRef | None], *,
                 live_tick: Callable[[str], int | None] | None = None, clock_ms: Callable[[], int] = now_ms) -> None:
        self.rest = rest
        self.wallet = wallet
        self.book_of = book_of  # condition id -> MarketPairing book (tick, fee, neg_risk, exchange version, delay)
        self.live_tick = live_tick  # token id -> tick_size of its latest Tick (None / 0 when unknown)
        self.clock_ms = clock_ms
        # Books seen while signing: an order in flight outlives its pairing on `markets` (discovery tombstones a
        # game it no longer pairs), and its answer, lookups and unwind steps still need the book's parameters.
        self._seen: dict[str, BookRef] = {}

    def tick_of(self, req: OrderRequest, book: BookRef) -> int:
        """The market's live tick (1e-4 USD) when a Tick has reported a valid one, else discovery's."""
        live = self.live_tick(req.market) if self.live_tick is not None else None
        return live if live is not None and live in C.TICK_SIZES else book.tick_size

    def _book(self, req: OrderRequest) -> BookRef:
        book = self.book_of(req.book) or self._seen.get(req.book)
        if book is None:
            raise errors.Rejected(self.venue, f"unknown Polymarket market {req.book} (not on `markets`)")
        self._seen[req.book] = book
        return book

    async def sign(self, req: OrderRequest) -> OrderRequest:
        book = self._book(req)
        w = self.wallet
        tick = self.tick_of(req, book)
        if req.limit_price % tick:
            # Off the live grid (the tick changed since the signal was priced): the venue would answer
            # INVALID_ORDER_MIN_TICK_SIZE. A base leg is refused before anything is sent; a step is left
            # unsigned and submit refuses it with the reason.
            if req.step == 0:
                raise errors.Rejected(self.venue, _off_tick(req, tick), code="INVALID_ORDER_MIN_TICK_SIZE")
            return replace(req, signed_order=None, venue_order_id=None)
        # Base legs arrive sized for the venue (detector, leg_requests); a completion step sized from fills
        # may not be: cut it to the largest size the venue accepts. None fits: left unsigned, and submit
        # refuses it with the reason, sending nothing.
        size = amounts.fak_floor(req.action, req.limit_price, req.size)
        if size <= 0:
            return replace(req, signed_order=None, venue_order_id=None)
        order = build_order(token_id=int(req.market), side=req.action, price=req.limit_price, size=size, tick=tick,
                            maker=w.maker, signer=w.signer, signature_type=w.signature_type,
                            salt=polymarket_salt(req.client_order_id), timestamp_ms=self.clock_ms(), order_type=ORDER_TYPE)
        exchange, version = exchange_for(book, w.chain_id)
        signed = sign_order(order, w.private_key, exchange, version, w.chain_id)
        body = post_body(signed, owner=w.api_key, order_type=ORDER_TYPE)
        return replace(req, size=size, signed_order=json.dumps(body, separators=(",", ":")), venue_order_id=signed.order_id)

    def _fee(self, req: OrderRequest, filled: int, notional: int) -> int:
        """The taker fee of a fill. Runs after the venue answered: it must never turn an executed order into an
        error (its fill would be lost). Without the book's fee parameters, the fill is recorded with fee 0."""
        if filled <= 0:
            return 0
        avg_price = (notional + filled // 2) // filled  # 1e-6 / 1e-2 -> 1e-4
        try:
            return taker_fee(self._book(req).fee, avg_price, filled)
        except errors.Rejected:
            log.error("fee parameters of %s unknown (not on `markets` any more): fill recorded with fee 0", req.book,
                      extra={"client_order_id": req.client_order_id})
            return 0

    async def submit(self, req: OrderRequest, deadline_s: float) -> LegResult:
        if req.signed_order is None or req.venue_order_id is None:
            book = self.book_of(req.book)
            if book is not None and req.limit_price % (tick := self.tick_of(req, book)):
                raise errors.Rejected(self.venue, _off_tick(req, tick), code="INVALID_ORDER_MIN_TICK_SIZE")
            if not amounts.fak_ok(req.action, req.limit_price, req.size):
                step = amounts.fak_step(req.action, req.limit_price)
                raise errors.Rejected(self.venue, f"not sent: {amounts.invalid_text(req.action)} (size {req.size} at {req.limit_price}, step {step})",
                                      code="INVALID_AMOUNTS")
            raise errors.Rejected(self.venue, "order not signed")
        sent = now_us()
        ack = await self.rest.post_order(stored_body(req.signed_order))
        oid = str(ack.order_id or req.venue_order_id)
        status = ack.status.lower()
        if status in ("delayed", "live"):
            # Accepted, not matched yet (sports markets delay marketable orders by secondsDelay): PENDING,
            # followed up by lookup. Never read as "nothing filled".
            return LegResult("ACK", venue_order_id=oid, reason=f"{status} at the venue", sent_ts=sent, acked_ts=now_us())
        if status == "unmatched":
            return LegResult("CANCELLED", venue_order_id=oid, sent_ts=sent, acked_ts=now_us())
        if status != "matched":
            raise errors.Unknown(self.venue, f"POST /order: answer without a known status ({status or 'none'}): looking it up")
        making, taking = _six(ack.making_amount), _six(ack.taking_amount)
        if making is None or taking is None or making <= 0 or taking <= 0:
            raise errors.Unknown(self.venue, "POST /order: `matched` without its amounts: looking it up")
        filled, notional = amounts_to_result(req.action, making, taking)
        return LegResult("FILL" if filled > 0 else "CANCELLED", filled=filled, fill_cost=notional, fee=self._fee(req, filled, notional),
                         venue_order_id=oid, sent_ts=sent, acked_ts=now_us())

    async def find(self, req: OrderRequest) -> LegResult | None:
        if req.venue_order_id is None:
            return None
        order = await self.rest.get_order(req.venue_order_id)
        if not order:
            return None
        status = order.status.upper().removeprefix("ORDER_STATUS_")
        if status in ("LIVE", "DELAYED"):
            return LegResult("ACK", venue_order_id=req.venue_order_id, reason=f"{status.lower()} at the venue", acked_ts=now_us())
        if status == "INVALID":
            return LegResult("REJECT", venue_order_id=req.venue_order_id, reason="venue reports the order INVALID", acked_ts=now_us())
        matched = _six(order.size_matched)
        if status not in ("MATCHED", "CANCELED", "CANCELED_MARKET_RESOLVED", "UNMATCHED") or matched is None:
            # An answer we cannot read is not "nothing filled": the caller keeps looking.
            raise errors.Unknown(self.venue, f"GET /data/order: unreadable order (status {status or 'none'}, size_matched "
                                 f"{order.size_matched!r})")
        filled = matched // SHARE_UNITS_PER_SIZE
        # The order record has the matched size but not the execution prices: cost it at the order's
        # price (exact for fills at the limit, an upper bound for a BUY filled at better prices).
        price = parse_price(order.price) if order.price else req.limit_price
        notional = notional_of(price, filled)
        return LegResult("FILL" if filled > 0 else "CANCELLED", filled=filled, fill_cost=notional, fee=self._fee(req, filled, notional),
                         venue_order_id=req.venue_order_id, acked_ts=now_us())


def _off_tick(req: OrderRequest, tick: int) -> str:
    return f"not sent: price {req.limit_price} (1e-4 USD) is off the market's tick {tick} (the tick changed: tick_size_change)"


def _six(text: str | None) -> int | None:
    """A decimal amount as 6-dp base units; None when missing, empty or unparsable."""
    if text is None or text == "":
        return None
    try:
        return parse_fixed(text, 6)
    except ValueError:
        return None
