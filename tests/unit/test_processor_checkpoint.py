"""processors.checkpoint.Checkpoint: the worker's commit protocol is send signals, write state, commit offsets, in
that order, and never writes a state or commits an offset that the agent produced after the commit began."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping

from core import codec
from processors.checkpoint import Checkpoint, Entry, GameState
from processors.detector import Detector
from processors.settings import DetectorSettings
from schemas.records import MarketPairing, Tick
from tests.factories import pairing_record, tick


class Kafka:
    """What the checkpoint's three callables reach: a producer (sends in flight until flushed), the changelog and
    the group's committed offsets. `during_flush` runs inside the next flush, as the agent would meanwhile."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.changelog: list[tuple[int, str, GameState]] = []
        self.committed: dict[int, int] = {}
        self.during_flush: Callable[[], None] | None = None
        self.commit_ok = True

    async def flush(self) -> None:
        self.calls.append("flush")
        hook, self.during_flush = self.during_flush, None
        await asyncio.sleep(0)
        if hook is not None:
            hook()

    def write(self, partition: int, game_id: str, state: GameState) -> None:
        self.calls.append(f"write {game_id}")
        self.changelog.append((partition, game_id, state))

    async def commit(self, offsets: Mapping[int, int]) -> bool:
        self.calls.append(f"commit {dict(offsets)}")
        if self.commit_ok:
            self.committed.update(offsets)
        return self.commit_ok


def checkpoint() -> tuple[Checkpoint, Kafka]:
    k = Kafka()
    return Checkpoint(k.flush, k.write, k.commit), k


def batch(cp: Checkpoint, game: str, partition: int, offset: int) -> Entry:
    entry: Entry = (partition, GameState({}, offset, {}))
    cp.processed({game: entry}, [(partition, offset)])
    return entry


def test_signals_then_state_then_offsets() -> None:
    cp, k = checkpoint()
    batch(cp, "g1", 3, 10)
    batch(cp, "g2", 5, 7)
    asyncio.run(cp.commit())
    assert k.calls == ["flush", "write g1", "write g2", "flush", "commit {3: 11, 5: 8}"]
    assert cp.pending == {} and cp.committed_to == {3: 11, 5: 8}
    assert cp.state("g1") is None
    # Nothing new: nothing is flushed, written or committed again.
    k.calls.clear()
    asyncio.run(cp.commit())
    assert k.calls == []


def test_what_the_agent_adds_during_a_commit_waits_for_the_next_one() -> None:
    cp, k = checkpoint()
    first = batch(cp, "g1", 3, 10)
    newer: list[Entry] = []

    def agent_goes_on() -> None:  # while the signals are flushed: g1 again and a new game, on two partitions
        newer.append(batch(cp, "g1", 3, 12))
        batch(cp, "g2", 4, 0)

    k.during_flush = agent_goes_on
    asyncio.run(cp.commit())
    # Only what the commit began with: the state whose signals that flush delivered, the offsets it needs.
    assert k.changelog == [(3, "g1", first[1])]
    assert k.committed == {3: 11}
    # g1's newer state was not dropped as written; it and g2 go with the next commit.
    assert cp.state("g1") is newer[0][1] and cp.state("g2") is not None
    k.calls.clear()
    asyncio.run(cp.commit())
    assert k.calls == ["flush", "write g1", "write g2", "flush", "commit {3: 13, 4: 1}"]


def test_a_failed_commit_is_tried_again_and_an_assignment_starts_afresh() -> None:
    cp, k = checkpoint()
    batch(cp, "g1", 3, 10)
    k.commit_ok = False
    asyncio.run(cp.commit())
    assert cp.committed_to == {} and k.committed == {}
    k.commit_ok = True
    asyncio.run(cp.commit())
    assert k.committed == {3: 11}
    # A rewound partition processes lower offsets again: the mark does not go back.
    batch(cp, "g1", 3, 4)
    assert cp.processed_to == {3: 11}
    cp.assigned()
    assert cp.processed_to == {} and cp.committed_to == {}


def test_a_state_reaches_the_changelog_as_the_json_it_always_was() -> None:
    # The changelog of a running deployment is read back by the new code, and the other way round: the same JSON.
    p = pairing_record()
    ticks = [tick("K-BUF", asks=[(4500, 1000)], bids=[(4000, 300)]), tick("K-KC", asks=[(5000, 1000)], seq=2)]
    decoded = {t["market"]: codec.decode(codec.encode("Tick", t), "Tick") for t in ticks}  # as fastavro hands them over
    pairings: dict[str, MarketPairing] = {p.game_id: p}
    det = Detector(DetectorSettings(), pairings.get, clock=lambda: 0)
    books: dict[str, Tick] = {}
    for t in decoded.values():
        books, _ = det.on_tick(books, codec.decode_record(codec.encode("Tick", t), Tick))
    state = GameState(books, 42, det.memory(p.game_id))
    before = {"books": decoded, "offset": 42, "memo": det.memory(p.game_id)}  # what the worker wrote before records
    assert json.dumps(state.to_json()) == json.dumps(before)
    back = GameState.from_json(json.loads(json.dumps(before)))
    assert back == state
    assert GameState.from_json(None) == GameState({}) and GameState.from_json({}) == GameState({}, -1, None)


def test_overlapping_commits_run_one_after_the_other() -> None:
    # Faust's commit and the worker's timer asked within milliseconds of each other; the first one's flush ended last.
    # It then wrote its older state over the newer one and committed a lower offset after a higher one.
    cp, k = checkpoint()
    older = batch(cp, "g1", 3, 10)
    slow = asyncio.Event()

    async def flush() -> None:
        k.calls.append("flush")
        if len(k.calls) == 1:  # the first commit's signals take a while
            await slow.wait()

    cp._flush = flush

    async def scenario() -> None:
        first = asyncio.ensure_future(cp.commit())
        await asyncio.sleep(0)
        newer = batch(cp, "g1", 3, 20)  # the agent goes on
        second = asyncio.ensure_future(cp.commit())
        await asyncio.sleep(0.01)
        slow.set()
        await asyncio.gather(first, second)
        assert [(g, s) for _, g, s in k.changelog] == [("g1", older[1]), ("g1", newer[1])]  # the newest state last

    asyncio.run(scenario())
    assert [c for c in k.calls if c.startswith("commit")] == ["commit {3: 11}", "commit {3: 21}"]
    assert k.committed == {3: 21} and cp.pending == {}
