"""Polymarket constants as data (venue-protocols.md P4; py_clob_client_v2 config)."""

from __future__ import annotations

POLYGON = 137
AMOY = 80002

# CTF exchange contracts of CLOB V2 (domain version "2"); `version: "v2"` markets use ExchangeV3 with domain "3".
EXCHANGE = "0xE111180000d2663C0091e4f400237545B87B996B"
NEG_RISK_EXCHANGE = "0xe2222d279d744050d28e00520010520000310F59"
EXCHANGE_V3 = "0xe3333700cA9d93003F00f0F71f8515005F6c00Aa"
EXCHANGE_V3_BY_CHAIN = {POLYGON: EXCHANGE_V3, AMOY: "0x9fE6e61422AdB6F610d8597F9684b16912D50C3D"}
PUSD = "0xC011a7E12a19f7B1f670d46F03B03f3342E82DFB"

# Tick sizes in 1e-4 USD: 0.1, 0.01, 0.005, 0.0025 (both added 2026-07), 0.001, 0.0001.
TICK_SIZES = (1000, 100, 50, 25, 10, 1)

ZERO_BYTES32 = bytes(32)
ZERO_ADDRESS = "0x" + "00" * 20

SIG_EOA, SIG_POLY_PROXY, SIG_GNOSIS_SAFE, SIG_POLY_1271 = 0, 1, 2, 3
SIDE_BUY, SIDE_SELL = 0, 1
SIDES = {"BUY": SIDE_BUY, "SELL": SIDE_SELL}

ORDER_TYPES = ("FAK", "FOK", "GTC", "GTD")
AMOUNT_DECIMALS = 6  # on-chain pUSD and share amounts


def exchange_v3(chain_id: int) -> str:
    return EXCHANGE_V3_BY_CHAIN.get(chain_id, EXCHANGE_V3)
