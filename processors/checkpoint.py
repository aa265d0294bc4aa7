"""The worker's commit protocol, one named step after another (as quix-streams' Checkpoint).

What the agent has done with a batch of ticks reaches Kafka in three steps, always in this order:

1. send signals: every signal (and dead letter) sent so far is delivered, those of the ticks in the states below among them;
2. write state: each game's newest state goes to the table's changelog (then the producer is flushed again);
3. commit offsets: the `ticks` offsets, per partition up to the tick after the last one processed.

A state written ahead of its signals would make a restarted worker skip the ticks whose signals were lost (ticks
at or below a state's offset are skipped as already folded in); offsets committed ahead of the states would lose
those ticks from the table. The changelog can be ahead of the committed offsets (a crash between steps 2 and 3):
the ticks between are consumed again and skipped by offset. After a crash the ticks since the last commit are
processed again and yield the same signal_ids, which the executor deduplicates.

A state (GameState) is the game's latest Tick per market, the offset of the last tick folded in and the detector's
hysteresis for the game after that tick; the changelog holds it as JSON ({"books": {market: Tick as the schema's
dict}, "offset": ..., "memo": ...}: `to_json` / `from_json`). States are written at each commit, not after every
batch: one changelog record per game per batch cost ~15% of a busy worker. Until then the agent reads them here
(`state`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import cast

from schemas.records import Tick, from_dict, to_dict

Json = dict[str, object]


@dataclass(slots=True)
class GameState:
    books: dict[str, Tick]  # market -> the latest tick of its book
    offset: int = -1  # of the last tick folded in (-1: none)
    memo: Mapping[str, object] | None = None  # the detector's hysteresis after that tick (Detector.memory; None: none)

    def to_json(self) -> Json:
        """The state as the changelog holds it (the key order is the one it always had)."""
        return {"books": {market: to_dict(tick) for market, tick in self.books.items()}, "offset": self.offset, "memo": self.memo}

    @staticmethod
    def from_json(value: object) -> GameState:
        """A state read back from the table (what `to_json` gave, through JSON); anything else is no state."""
        state = _json_object(value) or {}
        books = _json_object(state.get("books")) or {}
        offset = state.get("offset", -1)
        return GameState({market: from_dict(Tick, _json_object(tick) or {}) for market, tick in books.items()},
                         offset if isinstance(offset, int) else -1, _json_object(state.get("memo")))


def _json_object(value: object) -> Json | None:
    # A JSON object decodes to a dict with str keys.
    return cast(Json, value) if isinstance(value, dict) else None


Entry = tuple[int, GameState]  # (the game's ticks partition, its state)


class Checkpoint:
    """`flush` delivers everything the producer was given; `write` puts one game's state into the changelog
    partition numbered as its ticks partition; `commit` commits `ticks` offsets ({partition: offset}) and says
    whether it did."""

    def __init__(self, flush: Callable[[], Awaitable[None]], write: Callable[[int, str, GameState], None],
                 commit: Callable[[Mapping[int, int]], Awaitable[bool]]) -> None:
        self._flush = flush
        self._write = write
        self._commit = commit
        # One commit at a time: Faust's commits (interval, revocation, shutdown) and the worker's timer overlap, and an
        # earlier commit whose flush ended later wrote its older states over newer ones (into the table the agent
        # reads, and the changelog) and committed lower offsets after higher ones: the next ticks of those games were
        # folded into stale books (the processor-rebalance scenario: a lost signal, and one from books that never
        # coexisted).
        self._one_at_a_time = asyncio.Lock()
        self.pending: dict[str, Entry] = {}  # game -> its newest state, not written yet
        self.processed_to: dict[int, int] = {}  # partition -> the offset after the last tick processed
        self.committed_to: dict[int, int] = {}  # partition -> the offset committed last (this assignment)

    def state(self, game_id: str) -> GameState | None:
        """The game's newest state not written yet, if any."""
        entry = self.pending.get(game_id)
        return entry[1] if entry is not None else None

    def processed(self, states: Mapping[str, Entry], ticks: Iterable[tuple[int, int]]) -> None:
        """A batch is done: its games' new states and the (partition, offset) of every tick in it. Both at once
        (no await between), so that offsets taken for a commit never run ahead of the states they need."""
        self.pending.update(states)
        for partition, offset in ticks:
            if offset >= self.processed_to.get(partition, -1):
                self.processed_to[partition] = offset + 1

    def assigned(self) -> None:
        """A new assignment: the next commit of each partition is decided afresh (the pending states are kept:
        the next commit writes them)."""
        self.processed_to.clear()
        self.committed_to.clear()

    async def commit(self) -> None:
        """Send signals, write state, commit offsets. Faust runs it on its commit interval, when partitions are
        revoked and at shutdown; the worker's own timer too. A commit asked for while one runs waits for it."""
        async with self._one_at_a_time:
            await self._commit_now()

    async def _commit_now(self) -> None:
        offsets = {p: o for p, o in self.processed_to.items() if o > self.committed_to.get(p, -1)}
        # The states those offsets need, taken before the first await: the agent goes on meanwhile, and a state it
        # adds now may have signals the flush below does not wait for.
        states = list(self.pending.items())
        if states or offsets:  # offsets without states too: a batch of dead letters and replays made no state
            await self.send_signals()
        if states:
            await self.write_state(states)
        if offsets:
            await self.commit_offsets(offsets)

    async def send_signals(self) -> None:
        await self._flush()

    async def write_state(self, states: list[tuple[str, Entry]]) -> None:
        for game_id, entry in states:
            partition, state = entry
            self._write(partition, game_id, state)
            if self.pending.get(game_id) is entry:  # not replaced by a newer state meanwhile
                del self.pending[game_id]
        await self._flush()

    async def commit_offsets(self, offsets: Mapping[int, int]) -> None:
        if await self._commit(offsets):
            for p, o in offsets.items():
                self.committed_to[p] = max(self.committed_to.get(p, -1), o)
