"""Polymarket settings (ARB_POLY_*, ARB_GAMMA_URL). Secrets: env var or `<ENV>_FILE`."""

from __future__ import annotations

from dataclasses import dataclass

from core.config import Secret, setting


@dataclass(frozen=True)
class PolymarketSettings:
    clob_url: str = setting("ARB_POLY_CLOB_URL", "https://clob.polymarket.com", "Polymarket CLOB REST base URL.")
    ws_url: str = setting("ARB_POLY_WS_URL", "wss://ws-subscriptions-clob.polymarket.com/ws/market", "Polymarket market-channel WebSocket URL.")
    gamma_url: str = setting("ARB_GAMMA_URL", "https://gamma-api.polymarket.com", "Polymarket Gamma (discovery) base URL.")
    private_key: Secret = setting("ARB_POLY_PRIVATE_KEY", Secret(""), "Hex private key of the signing wallet (or ARB_POLY_PRIVATE_KEY_FILE). Never logged.")
    address: str = setting("ARB_POLY_ADDRESS", "", "Signer wallet address (default: derived from the private key).")
    funder: str = setting("ARB_POLY_FUNDER", "", "Maker address holding the funds (proxy / safe / deposit wallet); default: the signer address.")
    signature_type: int = setting("ARB_POLY_SIGNATURE_TYPE", 0, "Order signature type: 0 EOA, 1 POLY_PROXY, 2 GNOSIS_SAFE, 3 POLY_1271.")
    api_key: str = setting("ARB_POLY_API_KEY", "", "L2 API key (the `owner` of orders).")
    api_secret: Secret = setting("ARB_POLY_API_SECRET", Secret(""), "L2 API secret, urlsafe base64 (or ARB_POLY_API_SECRET_FILE).")
    passphrase: Secret = setting("ARB_POLY_PASSPHRASE", Secret(""), "L2 API passphrase (or ARB_POLY_PASSPHRASE_FILE).")
    chain_id: int = setting("ARB_POLY_CHAIN_ID", 137, "Chain id of the exchange contracts (137 Polygon, 80002 Amoy).")
