"""Polymarket side of the executor: signed CLOB V2 FAK orders, whose EIP-712 hash is the order id.

The order is signed before the INTENT is committed (the signed JSON and its hash go into the INTENT),
so recovery never re-signs: it looks the hash up with GET /data/order/{hash}. The salt is derived from
the client_order_id and the timestamp from the signal's deadline, so signing the same leg twice yields
the same order, which the venue refuses as INVALID_ORDER_DUPLICATED instead of executing twice.
FAK amounts must fit the venue's immediate-order decimals (venues/polymarket/amounts.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from core.fees import taker_fee
from core.ids import polymarket_salt, polymarket_timestamp_ms
from core.units import notional as notional_of
from core.units import now_us, parse_fixed, parse_price
from executor.orders import LegResult, OrderRequest
from venues import errors
from venues.polymarket import amounts
from venues.polymarket import constants as C
from venues.polymarket.order import build_order
from venues.polymarket.rest import PolymarketRest
from venues.polymarket.signing import post_body, sign_order

SHARE_UNITS_PER_SIZE = 10_000  # on-chain amounts have 6 decimals; our sizes 2 (1e-2 shares)
ORDER_TYPE = "FAK"  # fill what crosses now, cancel the rest (IOC)


@dataclass(frozen=True)
class Wallet:
    private_key: bytes = b""
    address: str = ""  # signer
    funder: str = ""  # maker (holds the funds); the address itself for EOA wallets
    signature_type: int = 0
    chain_id: int = 137
    api_key: str = ""  # the `owner` of posted orders

    def __repr__(self) -> str:  # never show the key
        return f"Wallet(address={self.address!r}, funder={self.funder!r}, signature_type={self.signature_type})"


def exchange_for(book: dict[str, Any]) -> tuple[str, str]:
    """(verifying contract, EIP-712 domain version) of the book's exchange."""
    if book.get("exchange_version") == 3:
        return C.EXCHANGE_V3, "3"
    return (C.NEG_RISK_EXCHANGE if book.get("neg_risk") else C.EXCHANGE), "2"


def amounts_to_result(order_side: str, making: int, taking: int) -> tuple[int, int]:
    """(filled size in 1e-2 shares, notional in 1e-6 USD) from the venue's 6-dp making/taking amounts.

    BUY gives pUSD (making) for shares (taking); SELL the reverse. A BUY matched at better prices
    receives more shares for the same pUSD, so `filled` may exceed the ordered size."""
    shares, usd = (taking, making) if order_side == "BUY" else (making, taking)
    return shares // SHARE_UNITS_PER_SIZE, usd


class PolymarketTransport:
    venue = "POLYMARKET"

    def __init__(self, rest: PolymarketRest, wallet: Wallet, book_of: Callable[[str], dict[str, Any] | None]) -> None:
        self.rest = rest
        self.wallet = wallet
        self.book_of = book_of  # condition id -> MarketPairing book (tick, fee, neg_risk, exchange version, delay)

    def _book(self, req: OrderRequest) -> dict[str, Any]:
        book = self.book_of(req.book)
        if book is None:
            raise errors.Rejected(self.venue, f"unknown Polymarket market {req.book} (not on `markets`)")
        return book

    async def sign(self, req: OrderRequest) -> OrderRequest:
        book = self._book(req)
        w = self.wallet
        # Base legs arrive sized for the venue (detector, leg_requests); a completion step sized from fills
        # may not be: cut it to the largest size the venue accepts. None fits: left unsigned, and submit
        # refuses it with the reason, sending nothing.
        size = amounts.fak_floor(req.action, req.limit_price, req.size)
        if size <= 0:
            return replace(req, signed_order=None, venue_order_id=None)
        order = build_order(token_id=int(req.market), side=req.action, price=req.limit_price, size=size, tick=int(book["tick_size"]),
                            maker=w.funder or w.address, signer=w.address, signature_type=w.signature_type,
                            salt=polymarket_salt(req.client_order_id), timestamp_ms=polymarket_timestamp_ms(req.deadline_us), order_type=ORDER_TYPE)
        exchange, version = exchange_for(book)
        signed = sign_order(order, w.private_key, exchange, version, w.chain_id)
        body = post_body(signed, owner=w.api_key, order_type=ORDER_TYPE)
        return replace(req, size=size, signed_order=json.dumps(body, separators=(",", ":")), venue_order_id=signed.order_id)

    def _fee(self, req: OrderRequest, filled: int, notional: int) -> int:
        if filled <= 0:
            return 0
        avg_price = (notional + filled // 2) // filled  # 1e-6 / 1e-2 -> 1e-4
        return taker_fee(self._book(req)["fee"], avg_price, filled)

    async def submit(self, req: OrderRequest, deadline_s: float) -> LegResult:
        if req.signed_order is None or req.venue_order_id is None:
            if not amounts.fak_ok(req.action, req.limit_price, req.size):
                step = amounts.fak_step(req.action, req.limit_price)
                raise errors.Rejected(self.venue, f"not sent: {amounts.invalid_text(req.action)} (size {req.size} at {req.limit_price}, step {step})",
                                      code="INVALID_AMOUNTS")
            raise errors.Rejected(self.venue, "order not signed")
        sent = now_us()
        ack = await self.rest.post_order(json.loads(req.signed_order))
        oid = str(ack.get("orderID") or req.venue_order_id)
        status = str(ack.get("status", "")).lower()
        if status in ("delayed", "live"):
            # Accepted, not matched yet (sports markets delay marketable orders by secondsDelay): PENDING,
            # followed up by lookup. Never read as "nothing filled".
            return LegResult("ACK", venue_order_id=oid, reason=f"{status} at the venue", sent_ts=sent, acked_ts=now_us())
        if status == "unmatched":
            return LegResult("CANCELLED", venue_order_id=oid, sent_ts=sent, acked_ts=now_us())
        if status != "matched":
            raise errors.Unknown(self.venue, f"POST /order: answer without a known status ({status or 'none'}): looking it up")
        making, taking = _six_required(ack, "makingAmount"), _six_required(ack, "takingAmount")
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
        status = str(order.get("status", "")).upper().removeprefix("ORDER_STATUS_")
        if status in ("LIVE", "DELAYED"):
            return LegResult("ACK", venue_order_id=req.venue_order_id, reason=f"{status.lower()} at the venue", acked_ts=now_us())
        if status == "INVALID":
            return LegResult("REJECT", venue_order_id=req.venue_order_id, reason="venue reports the order INVALID", acked_ts=now_us())
        matched = _six_required(order, "size_matched")
        if status not in ("MATCHED", "CANCELED", "CANCELED_MARKET_RESOLVED", "UNMATCHED") or matched is None:
            # An answer we cannot read is not "nothing filled": the caller keeps looking.
            raise errors.Unknown(self.venue, f"GET /data/order: unreadable order (status {status or 'none'}, size_matched "
                                 f"{order.get('size_matched')!r})")
        filled = matched // SHARE_UNITS_PER_SIZE
        # The order record has the matched size but not the execution prices: cost it at the order's
        # price (exact for fills at the limit, an upper bound for a BUY filled at better prices).
        price = parse_price(str(order["price"])) if order.get("price") else req.limit_price
        notional = notional_of(price, filled)
        return LegResult("FILL" if filled > 0 else "CANCELLED", filled=filled, fill_cost=notional, fee=self._fee(req, filled, notional),
                         venue_order_id=req.venue_order_id, acked_ts=now_us())


def _six_required(body: dict[str, Any], name: str) -> int | None:
    """A decimal amount field as 6-dp base units; None when missing, empty or unparsable."""
    value = body.get(name)
    if value in (None, ""):
        return None
    try:
        return parse_fixed(str(value), 6)
    except ValueError:
        return None
