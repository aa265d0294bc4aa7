"""`arb books`: rebuild venue books offline from recorded WS frames, through the live feed's parser and book code."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import CommandError

EPILOG = """\
Input: a JSON array of frames, a single JSON frame, or one frame per line (JSON Lines); a Polymarket frame may
itself be an array of events. Output (--json): {"<ticker or asset_id>": {"bids": [["0.52", "100"], ...],
"asks": [...], "status": "ok"}}, both sides best first, prices and sizes as decimal strings. Kalshi books are on
the YES scale: asks are implied from NO bids. Recorded Kalshi frames do not say their price scale: pass
--yes-price for frames of a `use_yes_price: true` subscription (the default, --no-leg-pricing, matches the
recorded fixtures). Bad frames are counted on stderr; exit 1 when no book could be rebuilt (every frame bad, or none).
"""


@dataclass
class Replay:
    books: dict[str, dict[str, Any]] = field(default_factory=dict)
    frames: int = 0
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # gaps, crossings, disagreements


def load_frames(text: str) -> list[Any]:
    """Frames as decoded JSON where possible; undecodable lines are kept as raw strings (the parser reports them)."""
    stripped = text.strip()
    if not stripped:
        return []
    try:
        whole = json.loads(stripped)
    except ValueError:
        return [line for line in stripped.splitlines() if line.strip()]
    return whole if isinstance(whole, list) else [whole]


def _fmt(levels: list[tuple[int, int]]) -> list[list[str]]:
    from core.units import PRICE_DP, SIZE_DP, format_fixed

    return [[format_fixed(p, PRICE_DP, min_dp=2), format_fixed(s, SIZE_DP, min_dp=0)] for p, s in levels]


def replay_kalshi(frames: list[Any], *, yes_price: bool, depth: int | None = None) -> Replay:
    from venues.kalshi.book import KalshiBooks
    from venues.kalshi.parse import ParseError, parse_frame, parse_message

    out = Replay()
    books = KalshiBooks(yes_price=yes_price, auto_create=True)
    for frame in frames:
        items = frame if isinstance(frame, list) else [frame]
        out.frames += 1
        for item in items:
            try:
                msg = parse_frame(item) if isinstance(item, str) else parse_message(item)
            except ParseError as exc:
                out.errors.append(f"frame {out.frames}: {exc}")
                continue
            res = books.apply(msg)
            if res.error:
                out.errors.append(f"frame {out.frames}: {res.error}")
            if res.gap:
                out.notes.append(f"frame {out.frames}: seq gap on sid {res.resync}")
    n = depth or 10**9
    for ticker, b in books.books.items():
        bids, asks = b.top(n)
        out.books[ticker] = {"bids": _fmt(bids), "asks": _fmt(asks), "status": b.status.lower()}
    return out


def replay_polymarket(frames: list[Any], *, depth: int | None = None) -> Replay:
    from venues.polymarket.book import PolyBooks
    from venues.polymarket.parse import parse_decoded, parse_frame

    out = Replay()
    books = PolyBooks(auto_create=True)
    for frame in frames:
        out.frames += 1
        parsed = parse_frame(frame) if isinstance(frame, str) else parse_decoded(frame)
        out.errors.extend(f"frame {out.frames}: {e}" for e in parsed.errors)
        for ev in parsed.events:
            res = books.apply(ev)
            if res.error:
                out.errors.append(f"frame {out.frames}: {res.error}")
            for d in res.disagreements:
                out.notes.append(f"frame {out.frames}: {d.asset_id[:16]}… at {d.position}: venue best {d.venue} "
                                 f"vs rebuilt {d.ours}{' (crossed)' if d.crossed else ''}")
    n = depth or 10**9
    for asset, b in books.books.items():
        bids, asks = b.top(n)
        out.books[asset] = {"bids": _fmt(bids), "asks": _fmt(asks), "status": b.status.lower()}
    return out


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("books", help="rebuild order books offline from recorded WS frames",
                       description="Replays recorded Kalshi or Polymarket WebSocket frames through the same parser and "
                                   "book code as the live feed and prints the final book of every market/asset.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--venue", required=True, choices=("kalshi", "polymarket"), help="venue the frames come from")
    p.add_argument("--frames", required=True, type=Path, metavar="FILE", help="recorded frames (JSON array, JSON, or JSON Lines)")
    p.add_argument("--json", action="store_true", help="print the books as one JSON object instead of a table")
    p.add_argument("--depth", type=int, default=None, metavar="N", help="print only the top N levels a side (default: all)")
    scale = p.add_mutually_exclusive_group()
    scale.add_argument("--no-leg-pricing", dest="yes_price", action="store_false",
                       help="Kalshi NO levels are NO-leg prices (the venue's old default; the fixtures) [default]")
    scale.add_argument("--yes-price", dest="yes_price", action="store_true",
                       help="Kalshi NO levels are on the YES scale (frames of a use_yes_price:true subscription)")
    p.set_defaults(handler=run, yes_price=False)


def run(args: argparse.Namespace) -> int:
    try:
        text = args.frames.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"cannot read {args.frames}: {exc}", 2) from None
    if args.depth is not None and args.depth < 1:
        raise CommandError("--depth must be at least 1", 2)
    frames = load_frames(text)
    if args.venue == "kalshi":
        rep = replay_kalshi(frames, yes_price=args.yes_price, depth=args.depth)
    else:
        rep = replay_polymarket(frames, depth=args.depth)
    if not rep.books and (rep.errors or not rep.frames):  # nothing rebuilt: a failure, not an empty table
        first = f" (first: {rep.errors[0]})" if rep.errors else ""
        raise CommandError(f"{args.frames}: no book rebuilt from {rep.frames} frame(s), {len(rep.errors)} bad{first}")
    for line in rep.errors:
        print(f"bad input: {line}", file=sys.stderr)
    for line in rep.notes:
        print(f"note: {line}", file=sys.stderr)
    print(f"{rep.frames} frames, {len(rep.errors)} bad inputs, {len(rep.books)} books", file=sys.stderr)
    if args.json:
        print(json.dumps(rep.books, indent=2))
        return 0
    for market, book in rep.books.items():
        print(f"{market}  [{book['status']}]")
        bids, asks = book["bids"], book["asks"]
        for i in range(max(len(bids), len(asks))):
            b = f"{bids[i][1]:>12} @ {bids[i][0]:<7}" if i < len(bids) else " " * 22
            a = f"{asks[i][0]:>7} x {asks[i][1]:<12}" if i < len(asks) else ""
            print(f"  {b} | {a}")
    return 0
