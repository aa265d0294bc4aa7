"""`arb positions [serve] [--json] [--watch] [--reconcile]`: positions folded from `fills` and `settlements`."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from cli.common import CommandError, add_kafka_args, kafka_settings, require_broker


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("positions", help="positions per game, market and venue (from `fills`); `serve` runs the positions role",
                       description="Folds every Fill on `fills` into positions per instrument: contracts, average cost, fees, "
                                   "realized P&L, unrealized P&L marked at the best bid of recent ticks, and the locked-in "
                                   "profit per game (worst case over its outcomes); with the Settlement records on `settlements`, "
                                   "the games whose markets resolved, realized P&L per game and per trading day (ARB_EXEC_DAY_TZ, fees "
                                   "included), and, loudly, any game whose two venues resolved differently (paid per venue, never "
                                   "netted). `arb positions serve` runs the long-running "
                                   "role that publishes Position records to the compacted `positions` topic, rebuilt from `fills` "
                                   "on every start. Settings: ARB_POSITIONS_*; --reconcile also uses ARB_KALSHI_* / ARB_POLY_*.")
    p.add_argument("action", nargs="?", choices=("show", "serve"), default="show", help="show (default): print positions; serve: run the role")
    p.add_argument("--json", action="store_true", help="one JSON document instead of a table")
    p.add_argument("--watch", action="store_true", help="refresh about once a second until Ctrl-C")
    p.add_argument("--reconcile", action="store_true",
                   help="compare with the venues' positions endpoints and report drift (exit 1 on drift; exit 2 when a venue's "
                        "credentials are not configured: a venue it cannot read is not judged)")
    p.add_argument("--paper", action="store_true", help="paper-trading fills (the paper topic prefix)")
    add_kafka_args(p)
    p.set_defaults(handler=run)


def _snapshot(kafka: Any, settings: Any, paper: bool) -> dict[str, Any]:
    from positions.fold import Book, locked_profit, pays_on_index, position_record, settlement_mismatch
    from positions.readers import mark_for, read_fills, read_marks, read_pairings_seen, read_settlements
    from positions.service import day_time_zone

    fills, bad = read_fills(kafka, paper=paper)
    settlement_error = None
    try:
        settlements, bad_settlements = read_settlements(kafka)
    except TimeoutError as exc:  # shown, never read as "nothing settled" silently
        settlements, bad_settlements, settlement_error = [], 0, str(exc)
    book = Book(tz=day_time_zone()).fold(fills).fold_settlements(settlements)
    marks = read_marks(kafka, settings.mark_tail)
    pairings = read_pairings_seen(kafka)  # withdrawn games too: a finished game is withdrawn before it resolves
    idx, outcomes = pays_on_index(pairings)
    rows = []
    for h in sorted(book.holdings.values(), key=lambda h: (h.game_id, h.venue, h.market, h.side)):
        rec = position_record(h, mark_for(marks, h.venue, h.market, h.side), 0)
        rec.pop("ts")
        rec["avg_cost"] = h.avg_cost_price()
        rows.append(rec)
    open_games = sorted(book.games() - book.settled_games())
    games = {g: locked_profit(book, g, outcomes.get(g, []), idx) for g in open_games}
    realized = book.game_realized()
    mismatches = {g: m for g in sorted({r["game_id"] for r in settlements}) if g in pairings
                  and (m := settlement_mismatch(pairings[g], book.settlements)) is not None}
    per_game = {g: {"state": "SETTLED" if g in book.settled_games() else "OPEN", "realized_pnl": realized[g],
                    "exposure": book.exposure(g), "mismatch": mismatches.get(g)} for g in sorted(book.games())}
    return {"positions": rows, "locked_profit": games, "games": per_game, "daily_realized_pnl": dict(sorted(book.daily.items())),
            "settlement_mismatches": mismatches, "settlements": len(settlements), "conflicting_settlements": book.conflicting,
            "settlements_error": settlement_error, "fills": len(fills), "duplicate_fills": book.duplicates,
            "undecodable": bad + bad_settlements, "_book": book}


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
    for g, st in snap["games"].items():
        if st["state"] == "SETTLED":
            lines.append(f"settled {g}: realized {_money(st['realized_pnl'])} USD (fees included)")
    for day, v in snap["daily_realized_pnl"].items():
        lines.append(f"realized {day[:4]}-{day[4:6]}-{day[6:]}: {_money(v)} USD")
    for g, verdicts in snap["settlement_mismatches"].items():
        lines.append(f"!!! SETTLEMENT MISMATCH {g}: " + "; ".join(f"{v} resolved {w}" for v, w in verdicts.items())
                     + " -- paid per venue, not netted: check both venues' rules")
    for c in snap["conflicting_settlements"]:
        lines.append(f"!!! conflicting settlement records: {c}")
    if snap["settlements_error"]:
        lines.append(f"!!! settlements not read: {snap['settlements_error']}")
    lines.append(f"{snap['fills']} fills ({snap['duplicate_fills']} duplicate records ignored), {snap['settlements']} settlements")
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
    user = _polymarket_user(ps)
    if user:
        from venues.polymarket.rest import PolymarketDataApi

        # Positions are on the public Data API host, not the CLOB (no credentials needed), and belong to the
        # funder (proxy / safe / deposit wallet) or, for an EOA wallet, the key's own address. Every page is read.
        data_api = PolymarketDataApi(ps.data_api_url)
        try:
            venue |= polymarket_positions(await data_api.positions(user))
        finally:
            await data_api.aclose()
    else:
        notes.append("Polymarket not configured")
    d = drift(ours_by_venue_key(book, {}), venue)
    return {"drift": d, "notes": notes}


def _polymarket_user(ps: Any) -> str:
    """Whose positions the Data API is asked for: ARB_POLY_FUNDER, else ARB_POLY_ADDRESS, else the key's address."""
    if ps.funder or ps.address:
        return str(ps.funder or ps.address).strip().lower()
    key = ps.private_key.reveal().strip() if ps.private_key else ""
    if not key:
        return ""
    from venues.polymarket.eip712 import address_of

    try:
        return address_of(bytes.fromhex(key.removeprefix("0x")))
    except ValueError:
        raise CommandError("ARB_POLY_PRIVATE_KEY is not a hex private key") from None


def _unreadable_venues() -> list[str]:
    """The venues --reconcile could not read with this configuration, each with what it needs."""
    from core.config import load
    from venues.kalshi.settings import KalshiSettings
    from venues.polymarket.settings import PolymarketSettings

    out = []
    ks = load(KalshiSettings)
    if not (ks.key_id and ks.private_key_file):
        out.append("Kalshi (set ARB_KALSHI_KEY_ID and ARB_KALSHI_PRIVATE_KEY_FILE)")
    if not _polymarket_user(load(PolymarketSettings)):
        out.append("Polymarket (set ARB_POLY_FUNDER, ARB_POLY_ADDRESS or ARB_POLY_PRIVATE_KEY_FILE)")
    return out


def run(args: argparse.Namespace) -> int:
    import asyncio

    from core.config import ConfigError, load
    from core.logs import setup_logging
    from core.settings import RuntimeSettings
    from positions.settings import PositionsSettings
    from venues.errors import VenueError

    rt = load(RuntimeSettings)
    setup_logging(rt.log_format, rt.log_level)
    settings = load(PositionsSettings)
    if args.reconcile and args.action == "show":
        unreadable = _unreadable_venues()
        if unreadable:  # no venue positions would read as "no drift"
            raise CommandError(f"--reconcile cannot read {' nor '.join(unreadable)}; it does not judge a venue it cannot read", code=2)
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
    require_broker(kafka)
    try:
        while True:
            snap = _snapshot(kafka, settings, args.paper)
            book = snap.pop("_book")
            code = 0
            if args.reconcile:
                try:
                    rec = asyncio.run(_reconcile(book))
                except ConfigError:
                    raise
                except (VenueError, ValueError) as exc:  # a venue that cannot be read fully is no reconciliation
                    raise CommandError(f"cannot reconcile: {exc}") from None
                snap["reconciliation"] = rec
                code = 1 if rec["drift"] else 0
                from core.metrics import set_reconcile_drift  # alerts.yml: ArbReconciliationDrift (exported with --watch)
                set_reconcile_drift(len(rec["drift"]), rt.metrics_port)
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
