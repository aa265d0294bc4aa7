"""Live trading is a choice: which venue endpoints `arb execute` may send orders (and credentials) to.

A host is a *simulator* when it is local (`localhost`, `*.localhost`, a loopback address) or declared one
(ARB_SIMULATOR_HOSTS; the default adds the compose stack's `sim`). Every other host is *live*: the real
venues (Kalshi production `*.kalshi.com` and demo `*.kalshi.co`, docs.kalshi.com/getting_started/api_environments;
Polymarket `*.polymarket.com`, docs.polymarket.com "Endpoints"), and any unlisted host too (a proxy, a typo),
so that an unknown host fails closed. A real venue's host is never a simulator, whatever the setting says.

Rules (`refusal`): credentials go only over https to a live host (`--live` does not lift that); orders go
to a live host only with --live or ARB_LIVE=1. Pure: the caller reads settings and prints the line.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from venues.kalshi.settings import KalshiSettings
from venues.polymarket.settings import PolymarketSettings

# Registrable domains of the real venues -> what to call them in a message.
REAL_VENUES = (("kalshi.com", "Kalshi production"), ("kalshi.co", "Kalshi demo"), ("polymarket.com", "Polymarket"))


@dataclass(frozen=True)
class Endpoint:
    venue: str  # KALSHI or POLYMARKET
    setting: str  # the variable the URL came from, for the message
    url: str


@dataclass(frozen=True)
class Target:
    endpoint: Endpoint
    host: str
    scheme: str
    simulator: bool
    name: str  # "simulator", "Kalshi production", "Kalshi demo", "Polymarket" or "an unlisted host"


def real_venue(host: str) -> str | None:
    for domain, name in REAL_VENUES:
        if host == domain or host.endswith("." + domain):
            return name
    return None


def is_local(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):  # RFC 6761: always loopback
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def classify(endpoint: Endpoint, simulator_hosts: Iterable[str]) -> Target:
    parts = urlsplit(endpoint.url.strip())
    host = (parts.hostname or "").rstrip(".").lower()
    declared = {h.strip().rstrip(".").lower().strip("[]") for h in simulator_hosts if h.strip()}
    venue = real_venue(host)
    simulator = venue is None and bool(host) and (is_local(host) or host in declared)
    return Target(endpoint, host, parts.scheme.lower(), simulator, "simulator" if simulator else venue or "an unlisted host")


def refusal(endpoints: Sequence[Endpoint], *, live: bool, simulator_hosts: Iterable[str]) -> str | None:
    """One line saying why orders may not go to these endpoints, or None when they may."""
    hosts = tuple(simulator_hosts)
    targets = [classify(e, hosts) for e in endpoints]
    for t in targets:
        e = t.endpoint
        if not t.host or t.scheme not in ("http", "https"):
            return f"{e.setting}={e.url!r} is not an http(s) URL"
        if not t.simulator and t.scheme != "https":
            return (f"{e.setting}={e.url} would send {e.venue} credentials unencrypted to {t.name} ({t.host}): use https, "
                    f"or list the host in ARB_SIMULATOR_HOSTS if it is a simulator")
    real = [t for t in targets if not t.simulator]
    if real and not live:
        where = ", ".join(f"{t.endpoint.venue} at {t.host} ({t.name})" for t in real)
        return (f"refusing to trade live: orders would go to {where}; pass --live or set ARB_LIVE=1 "
                f"(check first with `arb preflight --live`; simulators: local hosts or ARB_SIMULATOR_HOSTS; or --paper)")
    return None


def trading_endpoints(kalshi: KalshiSettings, poly: PolymarketSettings) -> list[Endpoint]:
    """The endpoints executor.run.build gives a live client (and so orders and credentials): Kalshi's REST URL
    when ARB_KALSHI_KEY_ID is set; Polymarket's CLOB when an API key and a private key are
    (executor.polymarket_transport.wallet_from_settings). A venue without credentials gets no orders."""
    out = []
    if kalshi.key_id:
        out.append(Endpoint("KALSHI", "ARB_KALSHI_REST_URL", kalshi.rest_url))
    if poly.api_key and poly.private_key:
        out.append(Endpoint("POLYMARKET", "ARB_POLY_CLOB_URL", poly.clob_url))
    return out
