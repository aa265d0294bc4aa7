"""`arb replay (--file F | --topic T --from TIME --to TIME) [--game G] [--speed X|max] (--into PREFIX | --detect [--diff])`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from cli.common import (
    CommandError,
    add_kafka_args,
    kafka_settings,
    parse_window,
    require_broker,
    require_pipeline_topics,
    require_topics,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("replay", help="replay recorded records into an isolated prefix, or through detection offline",
                       description="Source: a file from `arb record`, or a topic window read exactly (as `arb record` does). "
                                   "--into PREFIX re-publishes the records to the same logical topics under PREFIX, which must exist "
                                   "with the registry's shape (`arb topics create --prefix PREFIX` creates them: replay creates no topic), paced by their timestamps (--speed), so a second pipeline started with ARB_TOPIC_PREFIX=PREFIX "
                                   "processes them without touching production topics. --detect runs the processor's detection offline "
                                   "over the Tick records (pairings from `markets` on the broker, or --markets FILE) with the current "
                                   "ARB_* detection settings and prints the signals; --diff compares them with the signals recorded for "
                                   "the same window (`signals` on the broker, or --signals FILE) and prints what appears, vanishes or changed.")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--file", type=Path, help="a recording made by `arb record`")
    src.add_argument("-t", "--topic", help="read this logical topic's window from the broker instead")
    p.add_argument("--from", dest="from_", metavar="TIME", help="window start with --topic (ISO-8601 or epoch ms)")
    p.add_argument("--to", metavar="TIME", help="window end with --topic (ISO-8601 or epoch ms)")
    p.add_argument("--game", help="only records of this game_id")
    p.add_argument("--speed", default="max", help="pace for --into: a factor of real time (1 = as recorded) or max (default)")
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--into", metavar="PREFIX", help="re-publish into this topic prefix (must differ from the source's; its topics must exist: exit 2 naming "
                           "`arb topics create --prefix PREFIX` otherwise)")
    mode.add_argument("--detect", action="store_true", help="run detection offline and print the signals (JSON lines)")
    p.add_argument("--diff", action="store_true", help="with --detect: compare with the recorded signals of the window; exit 1 if they differ")
    p.add_argument("--markets", type=Path, help="with --detect: pairings from this recording instead of the broker's `markets`")
    p.add_argument("--signals", type=Path, help="with --diff: recorded signals from this recording instead of the broker's `signals`")
    add_kafka_args(p)
    p.set_defaults(handler=run)


def _recording(path: Path) -> list[dict[str, Any]]:
    """Every row of a recording, or CommandError (exit 2, as `arb record` and `arb books` say of a bad file argument)."""
    from recording import container
    from recording.exceptions import RecordingError

    try:
        return list(container.read(path))
    except (RecordingError, OSError) as exc:
        raise CommandError(str(exc), code=2) from None


def _source(args: argparse.Namespace, kafka: Any) -> list[dict[str, Any]]:
    from core.topics import TOPICS, topic_name
    from recording.window import read_window

    if args.file is not None:
        rows = _recording(args.file)
        if args.game:
            rows = [r for r in rows if (r["key"] or b"").decode(errors="replace") == args.game]
        return rows
    start, end = parse_window(args.from_, args.to)
    try:
        return [{**r, "type": TOPICS[args.topic].value_type}
                for r in read_window(kafka, topic_name(args.topic, kafka), start, end, game=args.game)]
    except ValueError as exc:
        raise CommandError(str(exc)) from None


def _check(args: argparse.Namespace) -> float | None:
    """Every argument error (exit 2) before anything is read: the --into speed, or None for max."""
    from core.topics import TOPICS

    if args.diff and not args.detect:
        raise CommandError("--diff needs --detect", code=2)
    if args.topic is not None and args.topic not in TOPICS:
        raise CommandError(f"unknown topic {args.topic!r}; one of: {', '.join(TOPICS)}", code=2)
    if args.topic is None and (args.from_ or args.to):
        raise CommandError("--from/--to go with --topic (a recording is replayed whole)", code=2)
    parse_window(args.from_, args.to)
    if not args.into:
        return None
    try:
        speed = None if args.speed == "max" else float(args.speed)
    except ValueError:
        raise CommandError(f"--speed must be a number or max, not {args.speed!r}", code=2) from None
    if speed is not None and not speed > 0:
        raise CommandError("--speed must be positive", code=2)
    return speed


def run(args: argparse.Namespace) -> int:
    from core.config import load
    from core.markets_cache import MarketsCache
    from core.topics import topic_name
    from processors.settings import DetectorSettings
    from recording import replay
    from recording.window import read_window
    from schemas.records import MarketPairing, Signal, Tick, to_dict

    speed = _check(args)
    kafka = kafka_settings(args)
    if args.into and args.into == kafka.topic_prefix:
        raise CommandError(f"--into {args.into} is the source's prefix: replay never writes to the topics it reads (production's, "
                           "by default); name another prefix", code=2)
    markets = _recording(args.markets) if args.markets is not None else None
    recorded_signals = _recording(args.signals) if args.signals is not None else None
    if args.topic is not None or args.into or (args.detect and markets is None) or (args.diff and recorded_signals is None):
        require_broker(kafka)
    if args.into:
        from dataclasses import replace

        # Before anything is read: only `arb topics create` creates topics (a typo in PREFIX must not make a pipeline).
        require_pipeline_topics(replace(kafka, topic_prefix=args.into))
    if args.topic is not None:
        require_topics(kafka, [args.topic])
    rows = replay.ordered(_source(args, kafka))
    if args.into:
        n = replay.republish(rows, kafka, args.into, speed)
        print(f"replay: {n} records re-published under prefix {args.into!r}", file=sys.stderr)
        return 0
    ticks, bad = replay.decode_all([r for r in rows if r.get("type") in (None, "Tick")], Tick)
    if markets is not None:
        pairings = {p.game_id: p for p in replay.decode_all(markets, MarketPairing)[0]}
    else:
        require_topics(kafka, ["markets"])
        cache = MarketsCache(kafka).start(wait_s=15)
        pairings = dict(cache.pairings)
        cache.stop()
    signals = replay.detect(ticks, pairings, load(DetectorSettings))
    if not args.diff:
        for s in signals:
            print(json.dumps(to_dict(s), default=lambda b: b.hex() if isinstance(b, bytes) else str(b)))
        print(f"replay: {len(ticks)} ticks ({bad} undecodable) -> {len(signals)} signals", file=sys.stderr)
        return 0
    if recorded_signals is not None:
        recorded = replay.decode_all(recorded_signals, Signal)[0]
    else:
        require_topics(kafka, ["signals"])
        lo = min((r["timestamp_ms"] for r in rows), default=None)
        recorded_rows = list(read_window(kafka, topic_name("signals", kafka), lo, None, game=args.game))
        window_ticks = {t.tick_id for t in ticks}
        recorded = [s for s in replay.decode_all(recorded_rows, Signal)[0] if set(s.input_tick_ids) <= window_ticks]
    d = replay.diff(signals, recorded)
    print(json.dumps(d))
    return 1 if d["appear"] or d["vanish"] or d["changed"] else 0
