"""Kalshi endpoints and credentials (shared by discovery, the feed and the executor)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.config import ConfigError, read_secret_file, setting

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey


@dataclass(frozen=True)
class KalshiSettings:
    rest_url: str = setting("ARB_KALSHI_REST_URL", "https://external-api.kalshi.com/trade-api/v2", "Kalshi REST base URL (ends with /trade-api/v2). Demo: https://external-api.demo.kalshi.co/trade-api/v2.")
    ws_url: str = setting("ARB_KALSHI_WS_URL", "wss://external-api-ws.kalshi.com/trade-api/ws/v2", "Kalshi WebSocket URL (ends with /trade-api/ws/v2).")
    key_id: str = setting("ARB_KALSHI_KEY_ID", "", "Kalshi API key id (UUID).")
    private_key_file: str = setting("ARB_KALSHI_PRIVATE_KEY_FILE", "", "Path of the Kalshi RSA private key (PEM, PKCS#8 or PKCS#1). Never logged.")
    tier: str = setting("ARB_KALSHI_TIER", "basic", "Kalshi rate-limit tier (sizes the client-side token buckets).")

    def load_private_key(self) -> RSAPrivateKey:
        """Read and parse the key file; errors name the setting, never the key."""
        from core.logs import register_secret
        from venues.kalshi.auth import load_private_key

        if not self.key_id or not self.private_key_file:
            raise ConfigError("ARB_KALSHI_KEY_ID and ARB_KALSHI_PRIVATE_KEY_FILE are required for Kalshi")
        pem = read_secret_file("ARB_KALSHI_PRIVATE_KEY_FILE", self.private_key_file)  # warns when group/world-readable
        register_secret(pem)
        try:
            return load_private_key(pem)
        except Exception:
            raise ConfigError("ARB_KALSHI_PRIVATE_KEY_FILE: not a PEM RSA private key") from None
