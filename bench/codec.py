"""`arb bench codec`: encode/decode cost of a Tick with 10 levels a side (medians over many runs)."""

from __future__ import annotations

import argparse
import json
import time


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("codec", help="Avro single-object encode/decode of a 10-level Tick",
                       description="Times encode and decode of a Tick with 10 levels a side; prints medians and p99 in µs.")
    p.add_argument("--iterations", type=int, default=20000, help="timed iterations per run (default 20000)")
    p.add_argument("--runs", type=int, default=5, help="runs; the reported numbers are medians over runs (default 5)")
    p.add_argument("--json", action="store_true", help="print one JSON line")
    p.set_defaults(handler=run)


def sample_tick() -> dict:
    return {
        "tick_id": "KALSHI:KXNFLGAME-26NOV29BUFKC-KC:1:123456", "game_id": "nfl-20261129-buf-kc", "venue": "KALSHI",
        "market": "KXNFLGAME-26NOV29BUFKC-KC", "status": "OK",
        "bids": [{"price": 5400 - 100 * i, "size": 10000 + 137 * i} for i in range(10)],
        "asks": [{"price": 5500 + 100 * i, "size": 12000 + 91 * i} for i in range(10)],
        "tick_size": 100, "venue_ts": 1_795_000_000_000_000, "received_ts": 1_795_000_000_001_000, "produced_ts": 1_795_000_000_001_050,
    }


def measure(iterations: int) -> tuple[list[float], list[float]]:
    from core import codec

    tick = sample_tick()
    enc: list[float] = []
    dec: list[float] = []
    data = codec.encode("Tick", tick)
    for _ in range(iterations):
        t0 = time.perf_counter_ns()
        data = codec.encode("Tick", tick)
        t1 = time.perf_counter_ns()
        codec.decode(data, "Tick")
        t2 = time.perf_counter_ns()
        enc.append((t1 - t0) / 1000)
        dec.append((t2 - t1) / 1000)
    return enc, dec


def run(args: argparse.Namespace) -> int:
    from statistics import median

    from bench._stats import percentile

    enc_p50, dec_p50, enc_p99, dec_p99 = [], [], [], []
    measure(min(2000, args.iterations))  # warm-up
    for _ in range(args.runs):
        enc, dec = measure(args.iterations)
        enc.sort()
        dec.sort()
        enc_p50.append(percentile(enc, 50))
        dec_p50.append(percentile(dec, 50))
        enc_p99.append(percentile(enc, 99))
        dec_p99.append(percentile(dec, 99))
    result = {"encode_us": round(median(enc_p50), 2), "decode_us": round(median(dec_p50), 2),
              "encode_p99_us": round(median(enc_p99), 2), "decode_p99_us": round(median(dec_p99), 2),
              "iterations": args.iterations, "runs": args.runs}
    print(json.dumps(result) if args.json else "\n".join(f"{k}: {v}" for k, v in result.items()))
    return 0
