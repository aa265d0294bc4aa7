"""`arb discover [--once | --every S]`: pair Kalshi and Polymarket games onto the `markets` topic."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from cli.common import add_kafka_args, kafka_settings, require_broker, require_topics
from core.errors import CommandError

# Client-side bound on CLOB /clob-markets reads (one per candidate market a round): a tenth of the CLOB's
# documented general limit, 9,000 requests / 10 s (docs.polymarket.com/api-reference/rate-limits).
CLOB_RATE_PER_S = 90.0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("discover", help="pair the venues' markets for the same game and publish them to `markets`",
                       description="Reads Kalshi sports series -> open markets (mve_filter=exclude, cursor paging, rate-limited) and "
                                   "Gamma sports events (moneyline by default), pairs games by league, date (America/New_York) and "
                                   "teams through the alias table, applies the override file, and publishes one MarketPairing per "
                                   "game to the compacted `markets` topic (changes only; a pairing that disappears is tombstoned). "
                                   "Fees: Kalshi series fee_type/fee_multiplier with event overrides and scheduled series fee changes; "
                                   "Polymarket per market from the CLOB (GET /clob-markets/{condition_id}); a market whose fee cannot be "
                                   "established is refused. A round where a venue could not be read publishes nothing. Each round prints "
                                   "a JSON report. Settings: ARB_DISCOVER_*, ARB_KALSHI_REST_URL (+ key, optional: market data is public), "
                                   "ARB_GAMMA_URL, ARB_POLY_CLOB_URL.")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--once", action="store_true",
                      help="run one round, print its report and exit (exit 1 if a venue failed or a record was not delivered: `published` "
                           "lists only what Kafka acknowledged; exit 1 at once if Kafka cannot be reached, 2 if `markets` is missing)")
    mode.add_argument("--every", type=float, metavar="S", help="seconds between rounds (default ARB_DISCOVER_EVERY_S)")
    p.add_argument("--dry-run", action="store_true", help="with --once: print the pairings that would be published, publish nothing")
    p.add_argument("-l", "--loglevel", choices=("debug", "info", "warning", "error"),
                   help="log level, as `arb process` takes it (default: $ARB_LOG_LEVEL, INFO); logs go to stderr, reports to stdout")
    add_kafka_args(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import asyncio
    import signal

    import httpx

    from core.config import ConfigError, load
    from core.logs import setup_logging
    from core.ratelimit import TokenBucket
    from core.settings import RuntimeSettings
    from producers.discovery import aliases as alias_mod
    from producers.discovery import overrides as override_mod
    from producers.discovery.exceptions import AliasError, OverrideError
    from producers.discovery.gamma_source import GammaDiscovery
    from producers.discovery.kalshi_source import KalshiDiscovery
    from producers.discovery.match import match
    from producers.discovery.model import VenueGame
    from producers.discovery.service import DiscoveryService, RoundReport
    from producers.discovery.settings import DiscoverySettings
    from venues.kalshi.rest import KalshiRest, tier_buckets
    from venues.kalshi.settings import KalshiSettings
    from venues.polymarket.settings import PolymarketSettings

    rt = load(RuntimeSettings)
    setup_logging(rt.log_format, args.loglevel.upper() if args.loglevel else rt.log_level)
    from core import metrics

    metrics.serve(rt.metrics_port, "discover")
    ds = load(DiscoverySettings)
    ks = load(KalshiSettings)
    ps = load(PolymarketSettings)
    try:
        key = ks.load_private_key() if ks.key_id and ks.private_key_file else None
    except ConfigError as exc:
        raise CommandError(str(exc), code=2) from None
    if args.every is not None and not args.every > 0:
        raise CommandError("--every must be positive", code=2)
    try:
        read, _ = tier_buckets(ks.tier)
    except ValueError as exc:
        raise CommandError(f"ARB_KALSHI_TIER: {exc}", code=2) from None
    if args.once and not args.dry_run:  # one round: fail fast; the long-running role retries instead
        kafka = kafka_settings(args)
        require_broker(kafka)
        require_topics(kafka, ["markets"])

    async def main() -> int:
        rest = KalshiRest(ks.rest_url, ks.key_id, key, read_bucket=read)
        gamma_http = httpx.AsyncClient(base_url=ps.gamma_url.rstrip("/"), timeout=10.0)
        clob_http = httpx.AsyncClient(base_url=ps.clob_url.rstrip("/"), timeout=10.0)  # per-market fee parameters
        leagues = ds.league_set()

        async def fetch_kalshi(aliases: alias_mod.AliasTable) -> list:
            return await KalshiDiscovery(rest, aliases, leagues).fetch()

        gamma_bucket = TokenBucket(ds.gamma_rate_per_s, max(1.0, ds.gamma_rate_per_s))
        clob_bucket = TokenBucket(CLOB_RATE_PER_S, CLOB_RATE_PER_S)

        async def fetch_poly(aliases: alias_mod.AliasTable) -> list:
            return await GammaDiscovery(gamma_http, aliases, tag_id=ds.gamma_tag_id, market_types=ds.market_type_set(),
                                        bucket=gamma_bucket, leagues=leagues, clob=clob_http, clob_bucket=clob_bucket).fetch()

        try:
            if args.dry_run:
                aliases = alias_mod.load(ds.aliases_file)
                k: list | BaseException
                p: list | BaseException
                k, p = await asyncio.gather(fetch_kalshi(aliases), fetch_poly(aliases), return_exceptions=True)
                failed = [f"{venue}: {type(res).__name__}: {res}" for venue, res in (("KALSHI", k), ("POLYMARKET", p))
                          if isinstance(res, BaseException)]
                if failed:  # as a round's report says it, in one line
                    raise CommandError("cannot read the venues: " + "; ".join(failed))
                kg = k if isinstance(k, list) else []
                pg = p if isinstance(p, list) else []
                result = match([g for g in kg if isinstance(g, VenueGame)], [g for g in pg if isinstance(g, VenueGame)],
                               override_mod.load(ds.overrides_file), {c: lg.draws for c, lg in aliases.leagues.items()})
                for rec in result.pairings.values():
                    print(json.dumps(rec, sort_keys=True))
                return 0
            from producers.discovery import gamma_source, kalshi_source

            service = DiscoveryService(kafka_settings(args), fetch_kalshi=fetch_kalshi, fetch_polymarket=fetch_poly,
                                       aliases_file=ds.aliases_file, overrides_file=ds.overrides_file,
                                       resolve_kalshi=lambda books: kalshi_source.fetch_resolutions(rest, books),
                                       resolve_polymarket=lambda books: gamma_source.fetch_resolutions(gamma_http, books, bucket=gamma_bucket))
            service.start()
            try:
                if args.once:
                    rep = await service.run_once()
                    print(json.dumps(rep.to_json()))
                    return 0 if rep.ok else 1

                from core.progress import StatusLine, status_interval_s

                # Totals over the rounds, and the last round's pairing count, for the status line.
                seen: dict[str, Any] = {"rounds": 0, "failed_rounds": 0, "paired": None, "published": 0, "tombstoned": 0, "settled": 0}

                def report(rep: RoundReport) -> None:
                    seen["rounds"] += 1
                    seen["failed_rounds"] += 0 if rep.ok else 1
                    seen["paired"] = rep.paired
                    seen["published"] += len(rep.published)
                    seen["tombstoned"] += len(rep.tombstoned)
                    seen["settled"] += len(rep.settled)
                    print(json.dumps(rep.to_json()), flush=True)

                status = StatusLine("discover", status_interval_s(), lambda: {**seen, "games_on_markets": len(service.cache.pairings)})
                loop = asyncio.get_running_loop()
                for sig in (signal.SIGINT, signal.SIGTERM):
                    loop.add_signal_handler(sig, service.stop)
                status_task = asyncio.create_task(status.task(), name="status-line")
                try:
                    await service.run_forever(args.every or ds.every_s, report)
                finally:
                    status_task.cancel()
                return 0
            finally:
                service.close()
        except (AliasError, OverrideError) as exc:
            raise CommandError(str(exc), code=2) from None
        finally:
            await rest.aclose()
            await gamma_http.aclose()
            await clob_http.aclose()

    code = asyncio.run(main())
    sys.stdout.flush()
    return code
