"""`arb positions [serve] [--json] [--watch] [--reconcile]`: positions folded from `fills`."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from cli.common import CommandError, add_kafka_args, kafka_settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("positions", help="positions per game, market and venue (from `fills`); `serve` runs the positions role",
                       description="Folds every Fill on `fills` into positions per instrument: contracts, average cost, fees, "
                                   "realized P&L, unrealized P&L marked at the best bid of recent ticks, and the locked-in "
                                   "profit per game (worst case over its outcomes). `arb positions serve` runs the long-running "
                                   "role that publishes Position records to the compacted `positions` topic, rebuilt from `fills` "
                                   "on every start. Settings: ARB_POSITIONS_*; --reconcile also uses ARB_KALSHI_* / ARB_POLY_*.")
    p.add_argument("action", nargs="?", choices=("show", "serve"), default="show", help="show (default): print positions; serve: run the role")
    p.add_argument("--json", action="store_true", help="one JSON document instead of a table")
    p.add_argument("--watch", action="store_true", help="refresh about once a second until Ctrl-C")
    p.add_argument("--reconcile", action="store_true", help="compare with the venues' positions endpoints and report drift (exit 1 on drift)")
    p.add_argument("--paper", action="store_true", help="paper-trading fills (the paper topic prefix)")
    add_kafka_args(p)
    p.set_defaults(handler=run)


def _snapshot(kafka: Any, settings: Any, paper: bool) -> dict[str, Any]:
    from core.markets_cache import MarketsCache
    from positions.fold import Book, locked_profit, pays_on_index, position_record
    from positions.readers import mark_for, read_fills, read_marks

    fills, bad = read_fills(kafka, paper=paper)
    book = Book().fold(fills)
    marks = read_marks(kafka, settings.mark_tail)
    markets = MarketsCache(kafka).start(wait_s=10)
    try:
        idx, outcomes = pays_on_index(markets.pairings)
    finally:
        markets.stop()
    rows = []
    for h in sorted(book.holdings.values(), key=lambda h: (h.game_id, h.venue, h.market, h.side)):
        rec = position_record(h, mark_for(marks, h.venue, h.market, h.side), 0)
        rec.pop("ts")
        rec["avg_cost"] = h.avg_cost_price()
        rows.append(rec)
    games = {g: locked_profit(book, g, outcomes.get(g, []), idx) for g in sorted(book.games())}
    return {"positions": rows, "locked_profit": games, "fills": len(fills), "duplicate_fills": book.duplicates, "undecodable": bad,
            "_book": book}


def _money(v: int | None) -> str:
    if v is None:
        return "-"
    sign = "-" if v < 0 else ""
    return f"{sign}{abs(v) // 1_000_000}.{abs(v) % 1_000_000 // 100:04d}"


def _table(snap: dict[str, Any]) -> str:
    from core.units import format_price, format_size

    head = f"{'game':30} {'venue':10} {'market':28} {'side':4} {'contracts':>10} {'avg':>7} {'fees':>10} {'unreal.':>10} {'realized':>10}"
    lines = [head, "-" * len(head)]
    for r in snap["positions"]:
        lines.append(f"{r['game_id'][:30]:30} {r['venue']:10} {r['market'][-28:]:28} {r['side']:4} {format_size(r['contracts']):>10} "
                     f"{format_price(r['avg_cost']) if r['avg_cost'] is not None else '-':>7} {_money(r['fees']):>10} "
                     f"{_money(r['unrealized_pnl']):>10} {_money(r['realized_pnl']):>10}")
    lines.append("")
    for g, v in snap["locked_profit"].items():
        lines.append(f"locked profit {g}: {_money(v)} USD")
    lines.append(f"{snap['fills']} fills ({snap['duplicate_fills']} duplicate records ignored)")
    return "\n".join(lines)


async def _reconcile(book: Any) -> dict[str, Any]:
    from core.config import load
    from positions.reconcile import drift, kalshi_positions, ours_by_venue_key, polymarket_positions
    from venues.kalshi.rest import KalshiRest
    from venues.kalshi.settings import KalshiSettings
    from venues.polymarket.settings import PolymarketSettings

    venue: dict[tuple[str, str], int] = {}
    notes = []
    ks = load(KalshiSettings)
    if ks.key_id and ks.private_key_file:
        rest = KalshiRest(ks.rest_url, ks.key_id, ks.load_private_key())
        try:
            venue |= kalshi_positions([p async for p in rest.positions()])
        finally:
            await rest.aclose()
    else:
        notes.append("Kalshi not configured")
    ps = load(PolymarketSettings)
    if ps.api_key and (ps.address or ps.funder):
        from venues.polymarket.auth import ApiCreds
        from venues.polymarket.rest import PolymarketRest

        prest = PolymarketRest(ps.clob_url, ps.address, ApiCreds(ps.api_key, ps.api_secret, ps.passphrase))
        try:
            venue |= polymarket_positions(await prest.positions((ps.funder or ps.address).lower()))
        finally:
            await prest.aclose()
    else:
        notes.append("Polymarket not configured")
    d = drift(ours_by_venue_key(book, {}), venue)
    return {"drift": d, "notes": notes}


def run(args: argparse.Namespace) -> int:
    import asyncio

    from core.config import load
    from core.logs import setup_logging
    from core.settings import RuntimeSettings
    from positions.settings import PositionsSettings

    rt = load(RuntimeSettings)
    setup_logging(rt.log_format, rt.log_level)
    settings = load(PositionsSettings)
    kafka = kafka_settings(args)
    if args.action == "serve":
        import signal

        from core import metrics
        from positions.service import PositionsService

        metrics.serve(rt.metrics_port, "positions")
        service = PositionsService(kafka, settings, paper=args.paper)
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: service.stop())
        service.run()
        return 0
    try:
        while True:
            snap = _snapshot(kafka, settings, args.paper)
            book = snap.pop("_book")
            code = 0
            if args.reconcile:
                rec = asyncio.run(_reconcile(book))
                snap["reconciliation"] = rec
                code = 1 if rec["drift"] else 0
            if args.json:
                print(json.dumps(snap), flush=True)
            else:
                if args.watch and sys.stdout.isatty():
                    sys.stdout.write("\x1b[H\x1b[2J")
                print(_table(snap), flush=True)
                if args.reconcile:
                    print("reconciliation: " + ("no drift" if not snap["reconciliation"]["drift"] else json.dumps(snap["reconciliation"]["drift"])))
            if not args.watch:
                return code
            time.sleep(1.0)
    except KeyboardInterrupt:
        return 0
    except OSError as exc:
        raise CommandError(str(exc)) from None
