"""`arb preflight [--live | --paper] [--json]`: would `arb execute` (with the same flags) run, and what would it trade?

Checks, none of which sends an order: the settings load; the live guard (executor/live_guard.py); per venue
with credentials, an authenticated read (Kalshi `GET /portfolio/balance`, Polymarket `GET /balance-allowance`)
that proves the keys and shows the balance, and the venue's clock against ours; on Kafka, the executor's
topics, consumer group and transactional id with the operations it needs, and the kill switch. Exit 0 when
every check passes, 1 when one fails, 2 on a setting that cannot be read.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from email.utils import parsedate_to_datetime
from typing import Any

from cli.common import BROKER_TIMEOUT_S, add_kafka_args, kafka_settings, require_broker
from core.errors import CommandError

OK, FAIL, SKIP = "ok", "FAIL", "skip"
# Venues do not publish their timestamp tolerance (Kalshi: venue docs say nothing; Polymarket L2 neither); a
# few seconds off already risks 401s on orders, which the executor counts as refusals, not as retries.
DEFAULT_MAX_SKEW_S = 2.0


@dataclass
class Check:
    check: str
    status: str  # ok, FAIL or skip
    detail: str


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("preflight", help="check everything `arb execute` needs, without sending an order",
                       description="Validates what `arb execute` with the same flags would use, without sending an order: settings, the "
                                   "live guard (real venues need --live), credentials by one authenticated read per venue (Kalshi "
                                   "GET /portfolio/balance, Polymarket GET /balance-allowance), balances, clock skew against each venue, "
                                   "and the executor's Kafka topics, consumer group and transactional ids (ACLs) and the kill switch; "
                                   "then prints what would trade. Exit 1 when a check fails, 2 on an unreadable setting.")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--live", action="store_true", help="check for `arb execute --live` (real venues allowed)")
    mode.add_argument("--paper", action="store_true", help="check for `arb execute --paper` (no venue is contacted)")
    p.add_argument("--max-skew-s", type=float, default=DEFAULT_MAX_SKEW_S, help=f"largest clock difference with a venue that passes (default {DEFAULT_MAX_SKEW_S:g})")
    p.add_argument("--json", action="store_true", help="one JSON object: ok, checks, would_trade")
    add_kafka_args(p)
    p.set_defaults(handler=run)


# --- pure helpers --------------------------------------------------------------------------------


def skew_bounds(server_s: int, sent: float, received: float) -> tuple[float, float]:
    """Range of (venue clock - our clock), in s, from a venue time in whole seconds read between `sent` and
    `received` (our clock): the venue's clock was in [server_s, server_s + 1) at some instant in between."""
    return server_s - received, server_s + 1 - sent


def least_skew(bounds: tuple[float, float]) -> float:
    """The smallest |skew| the bounds allow (0 when they straddle 0)."""
    lo, hi = bounds
    return 0.0 if lo <= 0 <= hi else min(abs(lo), abs(hi))


def usd(micros: int) -> str:
    sign = "-" if micros < 0 else ""
    cents = abs(micros) // 10_000
    return f"{sign}${cents // 100:,}.{cents % 100:02d}"


# --- venue checks (async: httpx) ------------------------------------------------------------------


async def _timed(call: Callable[[], Awaitable[Any]]) -> tuple[Any, float, float]:
    sent = time.time()
    result = await call()
    return result, sent, time.time()


def _clock_check(venue: str, server_s: int, sent: float, received: float, max_skew_s: float) -> Check:
    bounds = skew_bounds(server_s, sent, received)
    off = least_skew(bounds)
    where = f"venue clock - ours in [{bounds[0]:+.2f}, {bounds[1]:+.2f}] s"
    if off > max_skew_s:
        return Check(f"{venue} clock", FAIL, f"{where}: at least {off:.1f} s off (limit {max_skew_s:g} s); signed requests may be refused: sync the clock (NTP)")
    return Check(f"{venue} clock", OK, where)


async def _kalshi(settings: Any, max_skew_s: float) -> list[Check]:
    import httpx

    from core.config import ConfigError, load
    from venues import errors, http
    from venues.kalshi.rest import KalshiRest
    from venues.kalshi.settings import KalshiSettings

    ks = load(KalshiSettings)
    timeout = settings.http_timeout_ms / 1000
    out: list[Check] = []
    try:
        key = ks.load_private_key()
    except ConfigError as exc:
        return [Check("KALSHI credentials", FAIL, str(exc))]
    rest = KalshiRest(ks.rest_url, ks.key_id, key, timeout_s=timeout)
    try:
        body = await rest.get_balance()
        out.append(Check("KALSHI credentials", OK, f"key {ks.key_id} accepted (GET /portfolio/balance)"))
        from venues.kalshi.rest import kalshi_balance

        balance = kalshi_balance(body)
        out.append(Check("KALSHI balance", OK if balance > 0 else FAIL,
                         f"{usd(balance)} available" + ("" if balance > 0 else ": every buy would be refused")))
    except errors.AuthError as exc:
        out.append(Check("KALSHI credentials", FAIL, f"{exc} (a wrong key id or key, a key of the other environment: demo keys work "
                                                     "only on demo, or a clock far off)"))
    except (errors.VenueError, ValueError) as exc:
        out.append(Check("KALSHI credentials", FAIL, str(exc)))
    finally:
        await rest.aclose()
    # Kalshi publishes no time endpoint: the HTTP Date header (RFC 9110 section 6.6.1) of a public call.
    async with httpx.AsyncClient(base_url=ks.rest_url.rstrip("/"), timeout=timeout) as client:
        try:
            resp, sent, received = await _timed(lambda: http.send(client, "KALSHI", "GET", "/exchange/status"))
            out.append(_clock_check("KALSHI", int(parsedate_to_datetime(resp.headers["date"]).timestamp()), sent, received, max_skew_s))
        except (errors.VenueError, KeyError, ValueError, TypeError) as exc:
            out.append(Check("KALSHI clock", FAIL, f"no Date from GET /exchange/status: {exc}"))
    return out


async def _polymarket(settings: Any, max_skew_s: float) -> list[Check]:
    import httpx

    from core.config import load
    from executor.polymarket_transport import wallet_from_settings
    from venues import errors, http
    from venues.polymarket.auth import ApiCreds
    from venues.polymarket.rest import PolymarketRest
    from venues.polymarket.settings import PolymarketSettings

    ps = load(PolymarketSettings)
    timeout = settings.http_timeout_ms / 1000
    out: list[Check] = []
    try:
        wallet = wallet_from_settings(ps)
    except ValueError as exc:
        return [Check("POLYMARKET credentials", FAIL, str(exc))]
    if wallet is None:  # the caller checked that an API key and a private key are set
        return [Check("POLYMARKET credentials", SKIP, "ARB_POLY_API_KEY and ARB_POLY_PRIVATE_KEY not set")]
    rest = PolymarketRest(ps.clob_url, wallet.address, ApiCreds(ps.api_key, ps.api_secret, ps.passphrase), timeout_s=timeout)
    try:
        body = await rest.get_balance_allowance(wallet.signature_type)
        out.append(Check("POLYMARKET credentials", OK, f"API key {ps.api_key} of {wallet.address} accepted (GET /balance-allowance)"))
        from venues.polymarket.rest import poly_balance

        balance = poly_balance(body)
        out.append(Check("POLYMARKET balance", OK if balance > 0 else FAIL,
                         f"{usd(balance)} pUSD at {wallet.funder}" + ("" if balance > 0 else ": every buy would be refused")))
    except errors.AuthError as exc:
        out.append(Check("POLYMARKET credentials", FAIL, f"{exc} (a wrong API key, secret or passphrase, keys of another wallet, "
                                                         "or a clock far off)"))
    except (errors.VenueError, ValueError) as exc:
        out.append(Check("POLYMARKET credentials", FAIL, str(exc)))
    finally:
        await rest.aclose()
    # GET /time: the server's Unix time in seconds (docs.polymarket.com api-reference/data/get-server-time; public).
    async with httpx.AsyncClient(base_url=ps.clob_url.rstrip("/"), timeout=timeout) as client:
        try:
            resp, sent, received = await _timed(lambda: http.send(client, "POLYMARKET", "GET", "/time"))
            out.append(_clock_check("POLYMARKET", int(resp.text.strip()), sent, received, max_skew_s))
        except (errors.VenueError, ValueError) as exc:
            out.append(Check("POLYMARKET clock", FAIL, f"GET /time: {exc}"))
    return out


# --- Kafka checks (blocking: run in a thread) -----------------------------------------------------


def executor_needs(kafka: Any, *, paper: bool, reads_market_data: bool) -> dict[str, set[str]]:
    """Topic -> the operations (READ, WRITE) `arb execute` performs on it (docs/operations.md "Kafka ACLs per role")."""
    from core.topics import topic_name

    own = {t: topic_name(t, kafka, paper=paper) for t in ("orders", "outcomes", "fills")}
    needs: dict[str, set[str]] = {topic_name("signals", kafka): {"READ"}, own["orders"]: {"READ", "WRITE"}, own["outcomes"]: {"READ", "WRITE"},
                                  own["fills"]: {"WRITE"}, topic_name("control", kafka): {"READ", "WRITE"}, topic_name("dlq", kafka): {"WRITE"}}
    if reads_market_data:  # paper fills and Polymarket tick sizes come from `markets` and `ticks`
        for t in ("markets", "ticks"):
            needs.setdefault(topic_name(t, kafka), set()).add("READ")
    return needs


def _kafka_checks(kafka: Any, *, paper: bool, reads_market_data: bool) -> list[Check]:
    from confluent_kafka import KafkaException, TopicCollection

    from core.control import ControlState
    from core.kafka import make_admin, make_transactional_producer
    from executor.txn import transactional_id

    try:
        require_broker(kafka)  # a broker that is down: one line within seconds, not every check's timeout
    except CommandError as exc:
        return [Check("kafka", FAIL, str(exc))]
    admin = make_admin(kafka, error_cb=lambda _err: None)
    out: list[Check] = []
    needs = executor_needs(kafka, paper=paper, reads_market_data=reads_market_data)
    problems: list[str] = []
    try:
        futures = admin.describe_topics(TopicCollection(sorted(needs)), request_timeout=BROKER_TIMEOUT_S, include_authorized_operations=True)
        for topic, fut in futures.items():
            try:
                desc = fut.result(timeout=BROKER_TIMEOUT_S + 1)
            except KafkaException as exc:
                problems.append(f"{topic}: {exc.args[0].str() if exc.args else exc}")
                continue
            allowed = {op.name for op in (desc.authorized_operations or [])}
            # ALL grants everything; None means the broker did not say (then only a real call could tell).
            if desc.authorized_operations is not None and "ALL" not in allowed and (missing := needs[topic] - allowed):
                problems.append(f"{topic}: no {'/'.join(sorted(missing))}")
    except Exception as exc:
        return [Check("kafka", FAIL, f"cannot describe the executor's topics at {kafka.bootstrap}: {exc}")]
    out.append(Check("kafka topics", FAIL if problems else OK,
                     "; ".join(problems) + " (`arb topics create`; ACLs: docs/operations.md \"Kafka ACLs per role\")" if problems
                     else f"{len(needs)} topics present with the operations the executor needs"))
    group = f"{kafka.paper_prefix if paper else ''}{kafka.topic_prefix}executor"
    try:
        desc = admin.describe_consumer_groups([group], request_timeout=BROKER_TIMEOUT_S, include_authorized_operations=True)[group].result(
            timeout=BROKER_TIMEOUT_S + 1)
        allowed = {op.name for op in (desc.authorized_operations or [])}
        ok = desc.authorized_operations is None or bool({"READ", "ALL"} & allowed)
        out.append(Check("kafka group", OK if ok else FAIL, f"{group}: " + ("READ allowed" if ok else "no READ (join, commit offsets in transactions)")))
    except Exception as exc:
        out.append(Check("kafka group", FAIL, f"{group}: {exc}"))
    # A transactional id under the executor's prefix that no partition uses, so nothing running is fenced. Shows
    # WRITE on the prefix and a broker that can run transactions (enough replicas of __transaction_state).
    txn_id = transactional_id(kafka, 0, paper=paper).rsplit("-", 1)[0] + "-preflight"
    try:
        make_transactional_producer(kafka, txn_id).init_transactions(BROKER_TIMEOUT_S * 2)
        out.append(Check("kafka transactions", OK, f"{txn_id} initialised (executor ids: {txn_id.rsplit('-', 1)[0]}-<partition>)"))
    except Exception as exc:
        out.append(Check("kafka transactions", FAIL, f"{txn_id}: {exc} (WRITE on transactional ids prefixed {txn_id.rsplit('-', 1)[0]}-)"))
    control = ControlState(kafka).start(wait_s=BROKER_TIMEOUT_S * 2)
    try:
        if control.error is not None:
            out.append(Check("kill switch", FAIL, f"{control.error}: the executor rejects every signal while it cannot read `control`"))
        elif (kill := control.kill_switch()) is not None:
            out.append(Check("kill switch", FAIL, f"engaged ({kill.reason or 'no reason'}): every signal would be rejected until `arb resume`"))
        else:
            out.append(Check("kill switch", OK, "released"))
    finally:
        control.stop()
    return out


# --- the command ----------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    from core.config import load
    from executor.live_guard import classify, refusal, trading_endpoints
    from executor.settings import ExecutorSettings
    from venues.kalshi.settings import KalshiSettings
    from venues.polymarket.settings import PolymarketSettings

    # ConfigError here ends the command with exit 2 (cli.main): nothing else can be judged.
    kafka = kafka_settings(args)
    settings = load(ExecutorSettings)
    endpoints = trading_endpoints(load(KalshiSettings), load(PolymarketSettings))
    live = args.live or settings.live
    checks = [Check("settings", OK, "every setting the executor reads is valid")]
    tasks: list[Awaitable[list[Check]]] = []
    if args.paper:
        checks.append(Check("mode", OK, "paper: fills modelled from the latest ticks, records to the paper topics; no venue is contacted"))
    else:
        targets = [classify(e, settings.simulator_hosts) for e in endpoints]
        why = refusal(endpoints, live=live, simulator_hosts=settings.simulator_hosts)
        where = ", ".join(f"{t.endpoint.venue} at {t.endpoint.url} ({t.name})" for t in targets) or "no venue (no credentials set)"
        checks.append(Check("mode", FAIL if why else OK, why or f"{'live' if any(not t.simulator for t in targets) else 'simulators'}: {where}"))
        if not endpoints:
            checks.append(Check("venues", FAIL, "no venue credentials: every signal would be rejected (ARB_KALSHI_KEY_ID, ARB_POLY_API_KEY + "
                                                "ARB_POLY_PRIVATE_KEY)"))
        for e in endpoints:
            # Credentials go only where the guard lets them (https, or a simulator), --live or not: reads are not orders.
            if (unsafe := refusal([e], live=True, simulator_hosts=settings.simulator_hosts)) is not None:
                checks.append(Check(f"{e.venue} credentials", SKIP, f"not sent: {unsafe}"))
                continue
            tasks.append(_kalshi(settings, args.max_skew_s) if e.venue == "KALSHI" else _polymarket(settings, args.max_skew_s))
        for venue, var in (("KALSHI", "ARB_KALSHI_KEY_ID"), ("POLYMARKET", "ARB_POLY_API_KEY and ARB_POLY_PRIVATE_KEY")):
            if venue not in {e.venue for e in endpoints}:
                checks.append(Check(f"{venue} credentials", SKIP, f"{var} not set: signals with {venue} legs would be rejected"))

    async def gather() -> list[list[Check]]:
        kafka_part = asyncio.to_thread(_kafka_checks, kafka, paper=args.paper,
                                       reads_market_data=args.paper or any(e.venue == "POLYMARKET" for e in endpoints))
        return list(await asyncio.gather(*tasks, kafka_part))

    for part in asyncio.run(gather()):
        checks += part
    would_trade: dict[str, Any] = {
        "mode": "paper" if args.paper else ("live" if live else "simulators only"),
        "venues": [] if args.paper else [{"venue": e.venue, "url": e.url} for e in endpoints],
        "signals": f"{kafka.topic_prefix}signals", "group": f"{kafka.paper_prefix if args.paper else ''}{kafka.topic_prefix}executor",
        "max_game_exposure_usd": usd(settings.max_game_exposure), "max_total_exposure_usd": usd(settings.max_total_exposure),
        "daily_loss_limit_usd": usd(settings.daily_loss_limit), "max_orders_per_s": settings.max_orders_per_s, "leg_mode": settings.leg_mode,
    }
    failed = [c for c in checks if c.status == FAIL]
    if args.json:
        print(json.dumps({"ok": not failed, "checks": [asdict(c) for c in checks], "would_trade": would_trade}))
    else:
        for c in checks:
            print(f"{c.status:<5} {c.check}: {c.detail}")
        venues_text = ", ".join(f"{v['venue']} ({v['url']})" for v in would_trade["venues"]) or "the paper fill model"
        print(f"would trade: {would_trade['mode']}; signals from {would_trade['signals']} (group {would_trade['group']}) -> {venues_text}; "
              f"at most {would_trade['max_game_exposure_usd']} per game, {would_trade['max_total_exposure_usd']} in all, "
              f"{would_trade['max_orders_per_s']} orders/s, stop after a {would_trade['daily_loss_limit_usd']} daily loss; legs {settings.leg_mode}")
        print(f"preflight: {len(checks)} checks, {len(failed)} failed")
    return 1 if failed else 0
