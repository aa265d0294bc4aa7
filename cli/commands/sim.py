"""`arb sim`: run the Kalshi and Polymarket simulators and the admin API on 127.0.0.1."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from core.errors import CommandError

_EPILOG = """\
Every flag has an ARB_SIM_* environment variable (see `arb config`); flags win.
Secrets (Polymarket L2 secret / passphrase) come only from ARB_SIM_POLY_SECRET[_FILE] and
ARB_SIM_POLY_PASSPHRASE[_FILE], never from flags. On start the command prints one JSON line with the
URLs (kalshi_url, kalshi_ws_url, poly_clob_url, poly_ws_url, gamma_url, admin_url); the admin API is
documented in simulators/README.md. Without --kalshi-public-key a throwaway RSA key pair is generated;
write its private key with --kalshi-private-key-out to sign requests.
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sim", help="run the local Kalshi + Polymarket simulator",
                       description="Serve both venues' REST and WebSocket APIs from one seeded synthetic world, with an admin API "
                                   "for books, arbitrage windows, faults and the ground-truth order log.",
                       epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    g = p.add_argument_group("network")
    g.add_argument("--host", help="listen address (default 127.0.0.1)")
    g.add_argument("--kalshi-port", type=int, help="Kalshi REST + WS port (default 0: ephemeral)")
    g.add_argument("--poly-clob-port", type=int, help="Polymarket CLOB + market WS port (default 0)")
    g.add_argument("--poly-gamma-port", type=int, help="Polymarket Gamma port (default 0)")
    g.add_argument("--admin-port", type=int, help="admin API port (default 0)")
    g = p.add_argument_group("scenario")
    g.add_argument("--seed", type=int, help="scenario seed (default 1)")
    g.add_argument("--games", type=int, help="number of synthetic games (default 10)")
    g.add_argument("--updates-per-s", type=float, help="background book events per second (default 200; 0 = static)")
    g.add_argument("--clock", choices=("real", "virtual"), help="sim clock (default real)")
    g.add_argument("--no-autostart", action="store_true", help="don't start the scenario driver (step it via POST /step)")
    g.add_argument("--arb-rate-per-min", type=float, help="arbitrage windows per minute (default 6)")
    g.add_argument("--arb-lifetime-ms", type=int, help="window lifetime in ms (default 300)")
    g.add_argument("--arb-edge", help="gross edge per contract in USD, e.g. 0.0500")
    g.add_argument("--arb-size", help="contracts per leg of a window, e.g. 50.00")
    g.add_argument("--kalshi-replay", type=Path, metavar="JSONL", help="stream these recorded Kalshi WS frames to subscribers")
    g.add_argument("--replay-rate", type=float, help="recorded frames per second (default 0: as fast as possible)")
    g = p.add_argument_group("accounts")
    g.add_argument("--kalshi-key-id", help="Kalshi API key id accepted (default sim-kalshi-key)")
    g.add_argument("--kalshi-public-key", type=Path, metavar="PEM", help="RSA public key for that key id")
    g.add_argument("--kalshi-private-key-out", type=Path, metavar="PEM", help="write the generated private key here (mode 0600)")
    g.add_argument("--kalshi-tier", help="rate-limit tier: basic, advanced, ..., prestige, unlimited (default advanced)")
    g.add_argument("--kalshi-duplicate-coid", choices=("open", "always"), help="409 on reused client_order_id while open (default) or always")
    g.add_argument("--poly-address", help="Polymarket wallet address accepted")
    g.add_argument("--poly-api-key", help="Polymarket L2 API key accepted")
    g.add_argument("--credentials-out", type=Path, metavar="DIR",
                   help="write throwaway client credentials for this simulator into DIR (mode 0600 files): kalshi.pem, "
                        "poly-private-key (a generated wallet, unless ARB_SIM_POLY_ADDRESS is set), poly-l2-secret, poly-passphrase, "
                        "and client.env with the non-secret ids (ARB_KALSHI_KEY_ID, ARB_POLY_ADDRESS, ARB_POLY_API_KEY)")
    g = p.add_argument_group("faults at start (change them later through the admin API)")
    g.add_argument("--fault-kalshi-429", type=float, metavar="P", help="Kalshi answers 429 with probability P")
    g.add_argument("--fault-kalshi-5xx", type=float, metavar="P", help="Kalshi answers 503 with probability P")
    g.add_argument("--fault-kalshi-latency-ms", type=int, metavar="MS", help="added Kalshi REST latency")
    g.add_argument("--fault-poly-429", type=float, metavar="P", help="Polymarket answers 429 with probability P")
    g.add_argument("--fault-poly-5xx", type=float, metavar="P", help="Polymarket answers 503 with probability P")
    g.add_argument("--fault-poly-latency-ms", type=int, metavar="MS", help="added Polymarket REST latency")
    p.add_argument("--duration", type=float, default=0.0, help="stop after this many seconds (default 0: run until interrupted)")
    p.set_defaults(handler=run)


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    names = ("host", "kalshi_port", "poly_clob_port", "poly_gamma_port", "admin_port", "seed", "games", "updates_per_s", "clock",
             "arb_rate_per_min", "arb_lifetime_ms", "arb_edge", "arb_size", "kalshi_replay", "replay_rate", "kalshi_key_id",
             "kalshi_public_key", "kalshi_private_key_out", "kalshi_tier", "kalshi_duplicate_coid", "poly_address", "poly_api_key")
    out = {n: getattr(args, n, None) for n in names}
    if args.no_autostart:
        out["autostart"] = False
    return out


def run(args: argparse.Namespace) -> int:
    import asyncio

    from core.config import ConfigError, load
    from core.units import UnitError, parse_price, parse_size
    from simulators.settings import SimSettings
    from venues.kalshi.constants import TIERS

    overrides = _overrides(args)
    wallet_key: bytes | None = None
    if args.credentials_out is not None:
        import os
        import secrets

        from venues.polymarket.eip712 import address_of

        _credentials_dir(args.credentials_out)
        overrides["kalshi_private_key_out"] = args.credentials_out / "kalshi.pem"
        if not os.environ.get("ARB_SIM_POLY_ADDRESS") and args.poly_address is None:
            wallet_key = secrets.token_bytes(32)
            overrides["poly_address"] = address_of(wallet_key)
    settings = load(SimSettings, overrides=overrides)
    if (why := out_of_range(settings, args)) is not None:
        raise CommandError(why, 2)
    if args.credentials_out is not None:
        _write_credentials(args.credentials_out, settings, wallet_key)
    if settings.kalshi_tier not in TIERS and settings.kalshi_tier != "unlimited":
        raise ConfigError(f"ARB_SIM_KALSHI_TIER: unknown tier {settings.kalshi_tier!r}")
    try:
        parse_price(settings.arb_edge)
        parse_size(settings.arb_size)
    except UnitError as exc:
        raise CommandError(f"bad --arb-edge/--arb-size: {exc}", 2) from None
    if settings.kalshi_public_key is not None and not Path(settings.kalshi_public_key).is_file():
        raise CommandError(f"--kalshi-public-key: no such file {settings.kalshi_public_key}", 2)
    if settings.kalshi_replay is not None and not Path(settings.kalshi_replay).is_file():
        raise CommandError(f"--kalshi-replay: no such file {settings.kalshi_replay}", 2)
    faults = {"KALSHI": {"p429": args.fault_kalshi_429, "p5xx": args.fault_kalshi_5xx, "latency_ms": args.fault_kalshi_latency_ms},
              "POLYMARKET": {"p429": args.fault_poly_429, "p5xx": args.fault_poly_5xx, "latency_ms": args.fault_poly_latency_ms}}
    try:
        asyncio.run(_serve(settings, faults, args.duration))
    except OSError as exc:
        raise CommandError(f"cannot listen: {exc.strerror or exc}") from None
    return 0


def out_of_range(settings: Any, args: argparse.Namespace) -> str | None:
    """The first number the simulator cannot run with (flag or ARB_SIM_* setting), as one line; None when all fit."""
    checks: list[tuple[str, Any, float, float]] = [
        ("--kalshi-port", settings.kalshi_port, 0, 65535), ("--poly-clob-port", settings.poly_clob_port, 0, 65535),
        ("--poly-gamma-port", settings.poly_gamma_port, 0, 65535), ("--admin-port", settings.admin_port, 0, 65535),
        ("--games", settings.games, 0, float("inf")), ("--updates-per-s", settings.updates_per_s, 0, float("inf")),
        ("--arb-rate-per-min", settings.arb_rate_per_min, 0, float("inf")), ("--arb-lifetime-ms", settings.arb_lifetime_ms, 0, float("inf")),
        ("--replay-rate", settings.replay_rate, 0, float("inf")), ("--duration", args.duration, 0, float("inf")),
        ("--fault-kalshi-429", args.fault_kalshi_429, 0, 1), ("--fault-kalshi-5xx", args.fault_kalshi_5xx, 0, 1),
        ("--fault-poly-429", args.fault_poly_429, 0, 1), ("--fault-poly-5xx", args.fault_poly_5xx, 0, 1),
        ("--fault-kalshi-latency-ms", args.fault_kalshi_latency_ms, 0, float("inf")),
        ("--fault-poly-latency-ms", args.fault_poly_latency_ms, 0, float("inf"))]
    for flag, value, lo, hi in checks:
        if value is not None and not lo <= value <= hi:  # also refuses NaN
            bounds = f"at least {lo:g}" if hi == float("inf") else f"from {lo:g} to {hi:g}"
            return f"{flag} must be {bounds}, not {value}"
    return None


def _credentials_dir(out: Path) -> None:
    """Create --credentials-out (with parents) or CommandError (exit 2): before the simulator starts, not after."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CommandError(f"--credentials-out {out}: cannot create the directory: {exc.strerror or exc}", 2) from None
    import os

    if not os.access(out, os.W_OK | os.X_OK):
        raise CommandError(f"--credentials-out {out}: directory not writable", 2)


def _write_credentials(out: Path, settings: Any, wallet_key: bytes | None) -> None:
    import os

    def secret_file(name: str, value: str) -> None:
        fd = os.open(out / name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(value)

    if wallet_key is not None:
        secret_file("poly-private-key", wallet_key.hex())
    secret_file("poly-l2-secret", settings.poly_secret.reveal())
    secret_file("poly-passphrase", settings.poly_passphrase.reveal())
    (out / "client.env").write_text(f"ARB_KALSHI_KEY_ID={settings.kalshi_key_id}\nARB_POLY_ADDRESS={settings.poly_address}\n"
                                    f"ARB_POLY_API_KEY={settings.poly_api_key}\n")


async def _serve(settings: Any, faults: dict[str, dict[str, Any]], duration: float) -> None:
    import asyncio
    import json
    import signal

    from simulators.runner import Simulator

    async with Simulator(settings) as sim:
        for venue, values in faults.items():
            sim.world.faults[venue].update({k: v for k, v in values.items() if v is not None})
        print(json.dumps({**sim.urls(), "seed": settings.seed, "games": len(sim.world.games),
                          "kalshi_key_id": settings.kalshi_key_id}), flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, stop.set)
            except (NotImplementedError, RuntimeError):
                pass
        try:
            await asyncio.wait_for(stop.wait(), duration if duration > 0 else None)
        except TimeoutError:
            pass
