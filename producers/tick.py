"""Book state -> Tick record (schemas/avro/tick/v1.avsc). Pure."""

from __future__ import annotations

from typing import Any, Literal, Protocol

Venue = Literal["KALSHI", "POLYMARKET"]


class BookView(Protocol):
    """What a Tick needs from a venue book (KalshiBook and PolyBook both provide it)."""

    @property
    def status(self) -> str: ...

    tick_size: int
    venue_ts_ms: int | None

    def top(self, n: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]: ...


def tick_id(venue: Venue, market: str, position: str, status: str) -> str:
    """`venue:market:position` (Kalshi `sid:seq`, Polymarket `frame_ts/n`, see PolyBook.bump); a STALE / RESYNCING
    marker of the same position gets the status appended so it never collides with the change's tick."""
    base = f"{venue}:{market}:{position}"
    return base if status in ("OK", "CROSSED") else f"{base}:{status.lower()}"


def build_tick(*, venue: Venue, market: str, game_id: str, book: BookView, depth: int, position: str,
               received_ts: int, produced_ts: int) -> dict[str, Any]:
    """The Tick dict: top `depth` levels a side (bids best-first descending, asks best-first ascending).

    `received_ts` is when the causing frame came off the socket; `produced_ts` when it is handed to Kafka
    (the Kafka writer may restamp it just before producing). Both int microseconds.
    """
    bids, asks = book.top(depth)
    status = book.status
    return {
        "tick_id": tick_id(venue, market, position, status),
        "game_id": game_id,
        "venue": venue,
        "market": market,
        "status": status,
        "bids": [{"price": p, "size": s} for p, s in bids],
        "asks": [{"price": p, "size": s} for p, s in asks],
        "tick_size": book.tick_size,
        "venue_ts": None if book.venue_ts_ms is None else book.venue_ts_ms * 1000,
        "received_ts": received_ts,
        "produced_ts": produced_ts,
    }
