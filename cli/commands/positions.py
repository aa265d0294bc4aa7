"""`arb positions [serve] [--json] [--watch] [--reconcile]`: positions folded from `fills` and `settlements`."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from cli.common import add_kafka_args, kafka_settings, require_broker
from core.errors import CommandError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("positions", help="positions per game, market and venue (from `fills`); `serve` runs the positions role",
                       description="Folds every Fill on `fills` into positions per instrument: contracts, average cost, fees, "
                                   "realized P&L, unrealized P&L marked at the best bid of recent ticks, and the locked-in "
                                   "profit per game (worst case over its outcomes); with the Settlement records on `settlements`, "
                                   "the games whose markets resolved, realized P&L per game and per trading day (ARB_EXEC_DAY_TZ, fees "
                                   "included), and, loudly, any game whose two venues resolved differently (paid per venue, never "
                                   "netted). `arb positions serve` runs the long-running "
                                   "role that publishes Position records to the compacted `positions` topic, rebuilt from `fills` "
                                   "on every start, and every ARB_POSITIONS_RECONCILE_S compares them with the positions of the venues "
                                   "it has credentials for (a drift seen in ARB_POSITIONS_RECONCILE_CONFIRM checks in a row is an ALERT "
                                   "`alert:reconcile` on `control` and arb_reconcile_drift_instruments; ARB_POSITIONS_RECONCILE_KILL=1 "
                                   "also engages the kill switch). Games and instruments are shown by their pairing labels, or whole ids; "
                                   "--json has every id. Settings: ARB_POSITIONS_*; --reconcile and serve also use ARB_KALSHI_* / ARB_POLY_*.")
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
    from positions.fold import Book, locked_profit, pays_on_index, settlement_mismatch
    from positions.readers import read_fills, read_marks, read_pairings_seen, read_settlements
    from positions.service import day_time_zone

    fills, bad = read_fills(kafka, paper=paper)
    settlement_error = None
    try:
        settlements, bad_settlements = read_settlements(kafka)
    except TimeoutError as exc:  # shown, never read as "nothing settled" silently
        settlements, bad_settlements, settlement_error = [], 0, str(exc)
    book = Book(tz=day_time_zone()).fold(fills).fold_settlements(settlements)
    marks = read_marks(kafka, settings.mark_tail)
    pairings, ended = read_pairings_seen(kafka)  # withdrawn games too: a finished game is withdrawn before it resolves
    idx, outcomes = pays_on_index(pairings)
    rows = position_rows(book, marks, pairings)
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
            "undecodable": bad + bad_settlements, "_book": book, "_ended_games": ended}


def position_rows(book: Any, marks: dict[tuple[str, str], int], pairings: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per instrument: the Position record's fields (whole ids) plus readable `game_label` and `label`."""
    from positions.fold import position_record
    from positions.readers import mark_for

    game_labels, instrument_labels = labels(pairings)
    rows = []
    for h in sorted(book.holdings.values(), key=lambda h: (h.game_id, h.venue, h.market, h.side)):
        rec = position_record(h, mark_for(marks, h.venue, h.market, h.side), 0)
        rec.pop("ts")
        rec["avg_cost"] = h.avg_cost_price()
        rec["game_label"] = game_labels.get(h.game_id, h.game_id)
        rec["label"] = instrument_labels.get((h.venue, h.market, h.side), h.market)
        rows.append(rec)
    return rows


def labels(pairings: dict[str, dict[str, Any]]) -> tuple[dict[str, str], dict[tuple[str, str, str], str]]:
    """Readable names from the pairings: game -> "NFL BUF @ KC 2026-11-29" (plus what else the id says, e.g. a
    doubleheader's "g2"); (venue, market, side) -> the instrument's label ("buf", "not buf", "draw")."""
    games: dict[str, str] = {}
    instruments: dict[tuple[str, str, str], str] = {}
    for gid, p in pairings.items():
        d = str(p.get("game_date") or "")
        base = f"{p.get('league')}-{d}-{p.get('away')}-{p.get('home')}"
        extra = gid[len(base):].lstrip("-") if gid.startswith(base) else ""
        date = f"{d[:4]}-{d[4:6]}-{d[6:]}" if len(d) == 8 else d
        games[gid] = " ".join(x for x in (str(p.get("league", "")).upper(), f"{str(p.get('away', '')).upper()} @ {str(p.get('home', '')).upper()}",
                                          date, extra) if x)
        for b in p["books"]:
            for i in b["instruments"]:
                if i.get("label"):
                    instruments[(b["venue"], i["market"], i["side"])] = str(i["label"])
    return games, instruments


def _money(v: int | None) -> str:
    if v is None:
        return "-"
    sign = "-" if v < 0 else ""
    return f"{sign}{abs(v) // 1_000_000}.{abs(v) % 1_000_000 // 100:04d}"


def _table(snap: dict[str, Any]) -> str:
    from core.units import format_price, format_size

    # Whole labels (or, without a pairing, whole ids), never cut: the columns are as wide as their longest entry.
    gw = max([4] + [len(r["game_label"]) for r in snap["positions"]])
    iw = max([10] + [len(r["label"]) for r in snap["positions"]])
    head = f"{'game':{gw}} {'venue':10} {'instrument':{iw}} {'side':4} {'contracts':>10} {'avg':>7} {'fees':>10} {'unreal.':>10} {'realized':>10}"
    lines = [head, "-" * len(head)]
    for r in snap["positions"]:
        lines.append(f"{r['game_label']:{gw}} {r['venue']:10} {r['label']:{iw}} {r['side']:4} {format_size(r['contracts']):>10} "
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


async def _reconcile(book: Any, ended_games: Any = ()) -> dict[str, Any]:
    """One comparison with the venues (positions/venue_positions.py reads them, positions/reconcile.py compares);
    a configured venue whose read fails is no reconciliation (CommandError)."""
    from positions.reconcile import compare
    from positions.venue_positions import VenuePositions

    venues = VenuePositions.from_env()
    snap = await venues.read()
    if snap.failed:
        raise CommandError("cannot reconcile: " + "; ".join(f"{v}: {why}" for v, why in snap.failed.items()))
    c = compare(book, snap.positions, snap.read, ended_games=ended_games)
    return {"drift": c.drift, "awaiting_settlement": c.awaiting_settlement, "judged": snap.read,
            "notes": [f"{v.title()} not configured" for v in snap.not_configured]}


def run(args: argparse.Namespace) -> int:
    import asyncio

    from core.config import load
    from core.logs import setup_logging
    from core.settings import RuntimeSettings
    from positions.settings import PositionsSettings

    rt = load(RuntimeSettings)
    setup_logging(rt.log_format, rt.log_level)
    settings = load(PositionsSettings)
    if args.reconcile and args.action == "show":
        from positions.venue_positions import VenuePositions

        unreadable = VenuePositions.from_env().not_configured
        if unreadable:  # no venue positions would read as "no drift"
            needs = " nor ".join(f"{v.title()} ({n})" for v, n in unreadable.items())
            raise CommandError(f"--reconcile cannot read {needs}; it does not judge a venue it cannot read", code=2)
    kafka = kafka_settings(args)
    if args.action == "serve":
        import signal

        from core import metrics
        from positions.service import PositionsService
        from positions.venue_positions import VenuePositions

        metrics.serve(rt.metrics_port, "positions")
        # Without credentials for a venue, serve reconciles only the venues it can read (and says so at start).
        venues = VenuePositions.from_env() if settings.reconcile_s > 0 and not args.paper else None
        service = PositionsService(kafka, settings, paper=args.paper, venues=venues)
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: service.stop())
        service.run()
        return 0
    require_broker(kafka)
    try:
        while True:
            snap = _snapshot(kafka, settings, args.paper)
            book = snap.pop("_book")
            ended = snap.pop("_ended_games")
            code = 0
            if args.reconcile:
                rec = asyncio.run(_reconcile(book, ended))  # a venue that cannot be read fully is no reconciliation
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
                    rec = snap["reconciliation"]
                    print("reconciliation: " + ("no drift" if not rec["drift"] else json.dumps(rec["drift"])))
                    if rec["awaiting_settlement"]:
                        print("paid out by the venue, Settlement record not read yet (ended games, not drift): "
                              + json.dumps(rec["awaiting_settlement"]))
            if not args.watch:
                return code
            time.sleep(1.0)
    except KeyboardInterrupt:
        return 0
    except OSError as exc:
        raise CommandError(str(exc)) from None
