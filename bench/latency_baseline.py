"""The in-process baseline of `arb bench latency`: the same feed parsers and books, the same detector
and the same order builder/signer, chained in one process without Kafka, on the simulator's frames
(by default after the pipeline's interval, alone on the machine: see bench/latency.py).
It never sends (it would take the pipeline's liquidity): its end point is the order ready to send.

It runs in a process of its own: as a thread of the benchmark's process it shared the interpreter lock
with the benchmark's bookkeeping, which put tens of milliseconds into its p99."""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING, Any

from core.units import now_us
from schemas.records import MarketPairing, Signal, Tick, from_dict

if TYPE_CHECKING:  # multiprocessing is imported on use: `arb` imports every bench module at start-up
    from multiprocessing.connection import Connection
    from multiprocessing.synchronize import Event

Ready = list[tuple[int, set[str]]]  # (order ready time us, books of the signal)


class Baseline:
    """The benchmark's handle on the baseline process."""

    def __init__(self, urls: dict[str, Any], kalshi_key_id: str, kalshi_pem: bytes, pairings: dict[str, MarketPairing]) -> None:
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")  # no fork of a process with threads and sockets
        self.ready: Ready = []
        self._stop = ctx.Event()
        self._results, sender = ctx.Pipe(duplex=False)
        self._proc = ctx.Process(target=_serve, args=(urls, kalshi_key_id, kalshi_pem, pairings, self._stop, sender),
                                 name="latency-baseline", daemon=True)

    def start(self) -> Baseline:
        self._proc.start()
        return self

    def stop(self, timeout_s: float = 20.0) -> None:
        """Stop the chain and collect its results (empty, with a warning, if it died)."""
        self._stop.set()
        if self._results.poll(timeout_s):
            self.ready = self._results.recv()
        else:
            print("bench latency: the baseline process returned no results", file=sys.stderr, flush=True)
        self._proc.join(timeout=5)
        if self._proc.is_alive():
            self._proc.kill()


def _serve(urls: dict[str, Any], key_id: str, pem: bytes, pairings: dict[str, MarketPairing], stop: Event, results: Connection) -> None:
    chain = _Chain(urls, key_id, pem, pairings)
    try:
        asyncio.run(chain.run(stop))
    finally:
        results.send(chain.ready)


class _Chain:
    def __init__(self, urls: dict[str, Any], kalshi_key_id: str, kalshi_pem: bytes, pairings: dict[str, MarketPairing]) -> None:
        self.urls = urls
        self.key_id = kalshi_key_id
        self.pem = kalshi_pem
        self.pairings = pairings
        self.ready: Ready = []

    async def run(self, stop: Event) -> None:
        from processors.detector import Detector
        from processors.settings import DetectorSettings
        from producers.handoff import Handoff
        from producers.kalshi_feed import KalshiFeed
        from producers.polymarket_feed import PolymarketFeed
        from producers.service import venue_markets
        from venues.kalshi.auth import load_private_key

        handoff: Handoff[dict[str, Any]] = Handoff(100_000)
        feeds: list[Any] = [KalshiFeed(url=self.urls["kalshi_ws_url"], key_id=self.key_id, private_key=load_private_key(self.pem),
                            markets=venue_markets(self.pairings, "KALSHI"), handoff=handoff),
                 PolymarketFeed(url=self.urls["poly_ws_url"], markets=venue_markets(self.pairings, "POLYMARKET"), handoff=handoff)]
        det = Detector(DetectorSettings(), self.pairings.get)
        states: dict[str, dict[str, Tick]] = {}
        tasks = [asyncio.create_task(f.run()) for f in feeds]
        try:
            while not stop.is_set():
                try:
                    batch = await asyncio.wait_for(handoff.get_batch(512), 0.2)
                except TimeoutError:
                    continue
                for _, raw in batch:
                    # The feeds hand over the dicts the producer encodes; the processor decodes them into records.
                    raw["produced_ts"] = raw["received_ts"]
                    tick = from_dict(Tick, raw)
                    states[tick.game_id], sigs = det.on_tick(states.get(tick.game_id, {}), tick)
                    for s in sigs:
                        self._prepare(s)
                        self.ready.append((now_us(), {leg.book for leg in s.legs}))
        finally:
            for f in feeds:
                f.stop()
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def _prepare(self, signal: Signal) -> None:
        """What the executor does before sending: build the requests and sign the Polymarket leg."""
        from executor.orders import leg_requests
        from venues.polymarket import constants as C
        from venues.polymarket.eip712 import address_of
        from venues.polymarket.order import build_order
        from venues.polymarket.signing import sign_order

        key = b"\x01" * 32
        for r in leg_requests(signal):
            if r.venue == "POLYMARKET":
                book = next((b for p in self.pairings.values() for b in p.books if b.market == r.book), None)
                tick = book.tick_size if book else 100
                o = build_order(token_id=int(r.market), side="BUY", price=r.limit_price, size=r.size, tick=tick, maker=address_of(key),
                                signer=address_of(key), signature_type=0, salt=1, timestamp_ms=r.deadline_us // 1000)
                sign_order(o, key, C.EXCHANGE, "2", C.POLYGON)


def window_latencies(windows: list[dict[str, Any]], ready: list[tuple[int, set[str]]]) -> list[int]:
    out = []
    for w in windows:
        books = {w["kalshi_ticker"], w["poly_condition_id"]}
        times = [t for t, bs in ready if bs & books and w["opened_us"] <= t <= w["expires_us"]]
        if times:
            out.append(min(times) - int(w["opened_us"]))
    return sorted(out)
