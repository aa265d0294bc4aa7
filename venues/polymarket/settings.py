"""Polymarket settings (ARB_POLY_*, ARB_GAMMA_URL). Secrets: env var or `<ENV>_FILE`.

Wallets (py_clob_client_v2 `OrderBuilder`, order_builder/builder.py): the private key is always the EOA's.
For signature type 0 the EOA is the maker and the signer; for 1 (POLY_PROXY) and 2 (GNOSIS_SAFE) the
funder is the maker and the EOA the signer; for 3 (POLY_1271, deposit wallet) the funder is both maker and
signer. The L2 header POLY_ADDRESS is the EOA in every case. Positions (and balances) are the funder's.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.config import Secret, setting


@dataclass(frozen=True)
class PolymarketSettings:
    clob_url: str = setting("ARB_POLY_CLOB_URL", "https://clob.polymarket.com", "Polymarket CLOB REST base URL.")
    ws_url: str = setting("ARB_POLY_WS_URL", "wss://ws-subscriptions-clob.polymarket.com/ws/market", "Polymarket market-channel WebSocket URL.")
    gamma_url: str = setting("ARB_GAMMA_URL", "https://gamma-api.polymarket.com", "Polymarket Gamma (discovery) base URL.")
    data_api_url: str = setting("ARB_POLY_DATA_API_URL", "https://data-api.polymarket.com",
                                "Polymarket Data API base URL (positions for `arb positions --reconcile`).")
    private_key: Secret = setting("ARB_POLY_PRIVATE_KEY", Secret(""), "Hex private key of the signing wallet (or ARB_POLY_PRIVATE_KEY_FILE). Never logged.")
    address: str = setting("ARB_POLY_ADDRESS", "", "EOA address of the private key, sent as POLY_ADDRESS (default: derived from the key; "
                                                  "must be the key's when both are set).")
    funder: str = setting("ARB_POLY_FUNDER", "", "Maker address holding the funds and positions (proxy / safe / deposit wallet); required "
                                                "for signature types 1-3; default: the EOA.")
    signature_type: int = setting("ARB_POLY_SIGNATURE_TYPE", 0, "Order signature type: 0 EOA, 1 POLY_PROXY, 2 GNOSIS_SAFE, 3 POLY_1271 "
                                                                "(deposit wallet: the funder is maker and signer).")
    api_key: str = setting("ARB_POLY_API_KEY", "", "L2 API key (the `owner` of orders).")
    api_secret: Secret = setting("ARB_POLY_API_SECRET", Secret(""), "L2 API secret, urlsafe base64 (or ARB_POLY_API_SECRET_FILE).")
    passphrase: Secret = setting("ARB_POLY_PASSPHRASE", Secret(""), "L2 API passphrase (or ARB_POLY_PASSPHRASE_FILE).")
    chain_id: int = setting("ARB_POLY_CHAIN_ID", 137, "Chain id of the exchange contracts (137 Polygon, 80002 Amoy).")
