"""`arb bench sim`: can the simulator sustain N games at R book updates/s on at most one core?

Starts `arb sim` as a child process, subscribes one WS client to every Kalshi market on the
orderbook_delta, ticker and trade channels, and over a measured window reports the sim's CPU
seconds per wall second (from /proc; 1.0 = one full core), book updates/s (level changes) and WS
messages/s the client received.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench._proc import cpu_seconds


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sim", help="simulator throughput and CPU with a WS client subscribed to everything",
                       description="Runs `arb sim` in a child process and measures its CPU use (CPU s / wall s) while it produces "
                                   "book updates for N games and one WebSocket client counts the messages.")
    p.add_argument("--games", type=int, default=50, help="synthetic games (default 50)")
    p.add_argument("--events-per-s", type=float, default=400.0, help="scenario events per second; each moves one or more levels (default 400)")
    p.add_argument("--seconds", type=float, default=10.0, help="measured window (default 10)")
    p.add_argument("--warmup", type=float, default=2.0, help="seconds before measuring (default 2)")
    p.add_argument("--json", action="store_true", help="print one JSON line")
    p.set_defaults(handler=run)


async def _measure(urls: dict[str, Any], key_pem: bytes, key_id: str, pid: int, warmup: float, seconds: float) -> dict[str, Any]:
    import asyncio

    import httpx
    import websockets

    from venues.kalshi import auth

    key = auth.load_private_key(key_pem)
    async with httpx.AsyncClient(timeout=10) as http:
        tickers: list[str] = []
        cursor = ""
        while True:
            page = (await http.get(urls["kalshi_url"] + "/markets", params={"limit": 1000, "mve_filter": "exclude", "cursor": cursor})).json()
            tickers += [m["ticker"] for m in page["markets"]]
            cursor = page.get("cursor") or ""
            if not cursor:
                break
        headers = auth.auth_headers(key_id, key, "GET", "/trade-api/ws/v2")
        count = 0
        counting = False
        async with websockets.connect(urls["kalshi_ws_url"], additional_headers=headers, max_queue=None, max_size=None) as ws:
            await ws.send(json.dumps({"id": 1, "cmd": "subscribe",
                                      "params": {"channels": ["orderbook_delta", "ticker", "trade"], "market_tickers": tickers}}))

            async def reader() -> None:
                nonlocal count
                async for _ in ws:
                    if counting:
                        count += 1

            task = asyncio.create_task(reader())
            await asyncio.sleep(warmup)
            s0 = (await http.get(urls["admin_url"] + "/state")).json()
            c0, t0 = cpu_seconds(pid), time.monotonic()
            counting = True
            await asyncio.sleep(seconds)
            counting = False
            c1, t1 = cpu_seconds(pid), time.monotonic()
            s1 = (await http.get(urls["admin_url"] + "/state")).json()
            task.cancel()
    wall = t1 - t0
    return {
        "markets": len(tickers), "wall_s": round(wall, 3),
        "sim_cpu_s": round(c1 - c0, 3) if c0 is not None and c1 is not None else None,
        "sim_cores": round((c1 - c0) / wall, 3) if c0 is not None and c1 is not None else None,
        "events_per_s": round((s1["steps"] - s0["steps"]) / wall, 1),
        "book_updates_per_s": round((s1["level_changes"] - s0["level_changes"]) / wall, 1),
        "ws_messages_per_s": round(count / wall, 1),
        "arb_windows": s1["windows"] - s0["windows"],
    }


def run(args: argparse.Namespace) -> int:
    import asyncio

    from core.errors import CommandError
    from localkafka.broker import die_with_parent

    with tempfile.TemporaryDirectory() as tmp:
        key_path = Path(tmp) / "kalshi.pem"
        cmd = [*die_with_parent(), sys.executable, "-m", "cli.main", "sim", "--games", str(args.games), "--updates-per-s", str(args.events_per_s),
               "--kalshi-private-key-out", str(key_path), "--kalshi-tier", "unlimited", "--duration", str(args.warmup + args.seconds + 30)]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        try:
            line = proc.stdout.readline() if proc.stdout else ""
            if not line:
                raise CommandError("the simulator did not start")
            urls = json.loads(line)
            result = asyncio.run(_measure(urls, key_path.read_bytes(), urls["kalshi_key_id"], proc.pid, args.warmup, args.seconds))
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
    result = {"games": args.games, "target_events_per_s": args.events_per_s, **result}
    print(json.dumps(result) if args.json else "\n".join(f"{k}: {v}" for k, v in result.items()))
    return 0
