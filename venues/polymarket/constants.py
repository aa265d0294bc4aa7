"""Polymarket constants as data (venue-protocols.md P4; py_clob_client_v2 config)."""

from __future__ import annotations

POLYGON = 137
AMOY = 80002

# CTF exchange contracts of CLOB V2 (domain version "2"); `version: "v2"` markets use ExchangeV3 with domain "3".
# Per chain as the official client has them (py_clob_client_v2/config.py `get_contract_config`, 1.2.1:
# `exchange_v2`, `neg_risk_exchange_v2`, `exchange_v3`): the V2 pair is the same on both chains, ExchangeV3 is not.
EXCHANGE = "0xE111180000d2663C0091e4f400237545B87B996B"
NEG_RISK_EXCHANGE = "0xe2222d279d744050d28e00520010520000310F59"
EXCHANGE_V3 = "0xe3333700cA9d93003F00f0F71f8515005F6c00Aa"
EXCHANGE_V3_BY_CHAIN = {POLYGON: EXCHANGE_V3, AMOY: "0x9fE6e61422AdB6F610d8597F9684b16912D50C3D"}
CHAINS = tuple(EXCHANGE_V3_BY_CHAIN)
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
    """ExchangeV3 of the chain; ValueError for a chain the venue has no contracts on (the official client
    raises too) rather than a Polygon address that would sign orders no chain accepts."""
    try:
        return EXCHANGE_V3_BY_CHAIN[chain_id]
    except KeyError:
        raise ValueError(f"no Polymarket exchange on chain {chain_id} (known: {', '.join(map(str, CHAINS))})") from None


def exchange(chain_id: int, *, neg_risk: bool, version: int) -> tuple[str, str]:
    """(verifying contract, EIP-712 domain version) of an order: ExchangeV3 ("3") for `version: "v2"` markets
    (exchange version 3, neg-risk or not, as the official builder), else the neg-risk or standard V2 exchange ("2")."""
    if version == 3:
        return exchange_v3(chain_id), "3"
    exchange_v3(chain_id)  # the chain must be known for the V2 pair too
    return (NEG_RISK_EXCHANGE if neg_risk else EXCHANGE), "2"
