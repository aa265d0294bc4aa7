"""Settings of the local venue simulator (`arb sim`), read by core.config (env ARB_SIM_*)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.config import Secret, setting


@dataclass(frozen=True)
class SimSettings:
    host: str = setting("ARB_SIM_HOST", "127.0.0.1", "interface the simulator listens on (keep it local)")
    kalshi_port: int = setting("ARB_SIM_KALSHI_PORT", 0, "Kalshi REST + WS port (0 = ephemeral)")
    poly_clob_port: int = setting("ARB_SIM_POLY_CLOB_PORT", 0, "Polymarket CLOB REST + market WS port (0 = ephemeral)")
    poly_gamma_port: int = setting("ARB_SIM_POLY_GAMMA_PORT", 0, "Polymarket Gamma port (0 = ephemeral)")
    admin_port: int = setting("ARB_SIM_ADMIN_PORT", 0, "admin API port (0 = ephemeral)")
    seed: int = setting("ARB_SIM_SEED", 1, "scenario seed: the same seed gives the same games, books and flow")
    games: int = setting("ARB_SIM_GAMES", 10, "number of synthetic games")
    updates_per_s: float = setting("ARB_SIM_UPDATES_PER_S", 200.0, "background book events per second over all books (0 = static books)")
    autostart: bool = setting("ARB_SIM_AUTOSTART", True, "start the scenario driver with the servers (false: step it through the admin API)")
    clock: str = setting("ARB_SIM_CLOCK", "real", "sim clock: real (wall time) or virtual (starts at clock_start_us, advances one step per event)",
                         choices=("real", "virtual"))
    clock_start_us: int = setting("ARB_SIM_CLOCK_START_US", 1_796_000_000_000_000, "virtual clock start, µs since the epoch")
    start_date: str = setting("ARB_SIM_START_DATE", "", "date (yyyymmdd, America/New_York) of the first synthetic game, for fixed dates "
                              "(reproducible recordings); empty = relative to the sim clock: the first game starts an hour after "
                              "the world is built, then one an hour (8 a day), the next 8 a day later")
    # Game life (simulators/lifecycle.py): listed -> trading -> closed -> resolved -> settled, then replaced.
    first_game_after_s: float = setting("ARB_SIM_FIRST_GAME_AFTER_S", 3600.0, "clock-relative schedule: seconds from the world's "
                                        "build (or a replacement's listing) to the game's start, rounded up to 5 min")
    game_spacing_s: float = setting("ARB_SIM_GAME_SPACING_S", 3600.0, "clock-relative schedule: seconds between two starts of one "
                                    "day's games (8 a day, the next 8 a day later)")
    game_duration_s: float = setting("ARB_SIM_GAME_DURATION_S", 0.0, "seconds from a game's start to its end, when trading stops "
                                     "and a new game is listed in its place (0 = games never end)")
    resolve_delay_s: float = setting("ARB_SIM_RESOLVE_DELAY_S", 60.0, "seconds from a game's end to its resolution (seeded winner; "
                                     "Kalshi `determined`, Polymarket resolved)")
    kalshi_settlement_timer_s: int = setting("ARB_SIM_KALSHI_SETTLEMENT_TIMER_S", 30, "Kalshi `settlement_timer_seconds`: from "
                                             "`determined` to `finalized`, when positions are paid")
    arb_rate_per_min: float = setting("ARB_SIM_ARB_RATE_PER_MIN", 6.0, "arbitrage windows injected per minute of sim time (0 = none)")
    arb_lifetime_ms: int = setting("ARB_SIM_ARB_LIFETIME_MS", 300, "lifetime of an injected arbitrage window (sim time)")
    arb_edge: str = setting("ARB_SIM_ARB_EDGE", "0.0500", "gross edge of an injected window, USD per contract (before fees)")
    arb_size: str = setting("ARB_SIM_ARB_SIZE", "50.00", "contracts offered on each leg of an injected window")
    # Kalshi
    kalshi_key_id: str = setting("ARB_SIM_KALSHI_KEY_ID", "sim-kalshi-key", "Kalshi API key id the simulator accepts")
    kalshi_public_key: Path | None = setting("ARB_SIM_KALSHI_PUBLIC_KEY", None, "PEM file of the RSA public key for kalshi_key_id (unset: generate a throwaway pair)")
    kalshi_private_key_out: Path | None = setting("ARB_SIM_KALSHI_PRIVATE_KEY_OUT", None, "where to write the generated private key when no public key is given")
    kalshi_balance: str = setting("ARB_SIM_KALSHI_BALANCE", "10000.00", "starting Kalshi cash balance, USD")
    kalshi_tier: str = setting("ARB_SIM_KALSHI_TIER", "advanced", "Kalshi rate-limit tier (token buckets, K7)",
                               choices=("basic", "advanced", "expert", "premier", "paragon", "prime", "prestige", "unlimited"))
    kalshi_duplicate_coid: str = setting("ARB_SIM_KALSHI_DUPLICATE_COID", "open", "409 on a reused client_order_id: while the first order is open, or always",
                                         choices=("open", "always"))
    kalshi_ioc_remaining: str = setting("ARB_SIM_KALSHI_IOC_REMAINING", "zero", "IOC remaining_count in the create answer: zero (after cancel) or unfilled",
                                        choices=("zero", "unfilled"))
    # Which money an order's *_fill_cost_dollars counts is undocumented (executor/kalshi_transport.py): both readings.
    kalshi_fill_cost: str = setting("ARB_SIM_KALSHI_FILL_COST", "outcome", "money of an order's *_fill_cost_dollars: outcome (the "
                                    "order's outcome side: NO money for an ask) or yes (YES money whatever the side)",
                                    choices=("outcome", "yes"))
    kalshi_ping_interval_s: float = setting("ARB_SIM_KALSHI_PING_INTERVAL_S", 10.0, "seconds between WS Ping frames (body 'heartbeat')")
    kalshi_ts_tolerance_ms: int = setting("ARB_SIM_KALSHI_TS_TOLERANCE_MS", 60_000, "max |wall clock - KALSHI-ACCESS-TIMESTAMP| (0 = unchecked)")
    kalshi_ws_queue: int = setting("ARB_SIM_KALSHI_WS_QUEUE", 100_000, "per-connection outbound WS queue; overflow sends terminal error 25")
    kalshi_replay: Path | None = setting("ARB_SIM_KALSHI_REPLAY", None, "JSONL of recorded Kalshi WS frames to stream to every subscriber instead of live books")
    # No real capture settles Kalshi's seq rule (venue-protocols.md, corrections 11): each plausible reading is a switch.
    kalshi_ws_seq: str = setting("ARB_SIM_KALSHI_WS_SEQ", "continuous", "WS seq of a subscription: continuous (every numbered message takes "
                                 "the next number, never reset) or snapshot_reset (each orderbook_snapshot restarts it at 1, "
                                 "NautilusTrader's reading)", choices=("continuous", "snapshot_reset"))
    kalshi_ws_reply_seq: str = setting("ARB_SIM_KALSHI_WS_REPLY_SEQ", "next", "seq of ok/unsubscribed replies: next (takes the next "
                                       "number), current (repeats the last number, takes none) or none (no seq field)",
                                       choices=("next", "current", "none"))
    kalshi_ws_closed_market: str = setting("ARB_SIM_KALSHI_WS_CLOSED_MARKET", "not_found", "a WS command naming a market that is not "
                                           "active: not_found (error 16 for the whole command) or accepted",
                                           choices=("not_found", "accepted"))
    replay_rate: float = setting("ARB_SIM_REPLAY_RATE", 0.0, "recorded frames per second (0 = as fast as possible)")
    # Polymarket (served by simulators.polymarket.app)
    poly_address: str = setting("ARB_SIM_POLY_ADDRESS", "0x0000000000000000000000000000000000005157", "Polymarket wallet address the simulator accepts")
    poly_api_key: str = setting("ARB_SIM_POLY_API_KEY", "00000000-0000-4000-8000-000000005157", "Polymarket L2 API key")
    poly_secret: Secret = setting("ARB_SIM_POLY_SECRET", Secret("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="), "Polymarket L2 API secret (urlsafe base64)")
    poly_passphrase: Secret = setting("ARB_SIM_POLY_PASSPHRASE", Secret("sim-passphrase"), "Polymarket L2 API passphrase")
    poly_balance: str = setting("ARB_SIM_POLY_BALANCE", "10000.00", "starting Polymarket pUSD balance")
    poly_seconds_delay: int = setting("ARB_SIM_POLY_SECONDS_DELAY", 0, "secondsDelay of the simulated sports markets: marketable orders answer `delayed` and execute this much later (real sports markets: 1-3)")
    poly_min_size: str = setting("ARB_SIM_POLY_MIN_SIZE", "5", "orderMinSize of the simulated markets, shares")
    poly_fee_rate: str = setting("ARB_SIM_POLY_FEE_RATE", "0.03", "taker fee rate of the simulated markets (sports 0.03; exponent 1)")
    poly_ws_idle_s: float = setting("ARB_SIM_POLY_WS_IDLE_S", 20.0, "close a market-channel connection after this long without any client message (the venue drops clients that stop sending PING)")
    # No documented CLOB answer names a closed market (PD resources/error-codes.md): both plausible readings.
    poly_closed_order: str = setting("ARB_SIM_POLY_CLOSED_ORDER", "not_ready", "an order on a market that stopped trading: "
                                     "not_ready (400 `the market is not yet ready to process new orders`) or no_orderbook "
                                     "(400 `No orderbook exists for the requested token id`, and 404 on GET /book)",
                                     choices=("not_ready", "no_orderbook"))
    poly_redeem: str = setting("ARB_SIM_POLY_REDEEM", "auto", "winning Polymarket shares at resolution: auto (paid into the "
                               "balance, standing in for the on-chain redeem) or manual (the position stays, `redeemable: true`)",
                               choices=("auto", "manual"))
    poly_chain_id: int = setting("ARB_SIM_POLY_CHAIN_ID", 137, "chain id whose exchange domains order signatures must use")
