"""The detector sizes a candidate again only when one of its books changed (processors/detector.py `_LastSized`).

The reference is a detector that remembers no sizing: a fresh one per tick, given the long-lived one's hysteresis
(`restore(memory(...))`), so the two differ only in what the long-lived one remembers."""

from __future__ import annotations

import random

import pytest

from processors import detector as detector_module
from processors.detector import Detector
from processors.settings import DetectorSettings
from schemas.records import MarketPairing, Tick, to_dict
from tests.factories import KALSHI_FEE, NO_FEE, POLY_FEE, pairing_record, tick_record

SHAPES = [{}, {"draw": True}, {"draw": True, "poly_draw": True}, {"poly": False}, {"delay": 3}, {"poly_fee": NO_FEE},
          {"kalshi_fee": POLY_FEE}, {"poly_fee": KALSHI_FEE}]


def _ticks(rng: random.Random, pairing: MarketPairing, n: int) -> list[Tick]:
    venues = {i.market: b.venue for b in pairing.books for i in b.instruments}
    markets = sorted(venues)

    def ladder(lo: int, hi: int) -> list[tuple[int, int]]:
        return [((rng.randrange(lo, hi) * rng.choice([1, 10, 100]) // 10 * 10) or 10, rng.choice([1, 37, 100, 250, 1000, 5000]))
                for _ in range(rng.randrange(0, 5))]

    out = []
    for k in range(n):
        m = rng.choice(markets)
        out.append(tick_record(m, venue=venues[m], bids=ladder(300, 900), asks=ladder(100, 700), ts=1_000_000 + k * rng.choice([1, 500_000]),
                               seq=k, status=rng.choice(["OK"] * 8 + ["STALE"])))
    return out


@pytest.mark.parametrize("seed", range(6))
def test_remembered_sizings_give_the_signals_and_memory_of_sizing_afresh(seed: int) -> None:
    rng = random.Random(seed)
    compared = 0
    for _ in range(25):
        pairing = pairing_record(**rng.choice(SHAPES))
        settings = DetectorSettings(min_edge_money=rng.choice([1, 10_000]), min_edge_per_contract=rng.choice([1, 50, 200]),
                                    max_signal_size=rng.choice([10_000, 777, 10**9]), fills_per_leg=rng.choice([1, 3]),
                                    whole_contracts=rng.choice([True, False]), allow_delayed=rng.choice([True, False]),
                                    book_reuse_ms=rng.choice([0, 1000]))
        pairings = {pairing.game_id: pairing}
        kept = Detector(settings, pairings.get, clock=lambda: 0)
        state: dict[str, Tick] = {}
        for tick in _ticks(rng, pairing, 40):
            fresh = Detector(settings, pairings.get, clock=lambda: 0)
            fresh.restore(pairing.game_id, kept.memory(pairing.game_id))
            fresh_books, fresh_out = fresh.on_tick(state, tick)
            state, out = kept.on_tick(state, tick)
            assert [to_dict(s) for s in out] == [to_dict(s) for s in fresh_out]
            assert kept.memory(pairing.game_id) == fresh.memory(pairing.game_id)
            assert state == fresh_books
            compared += len(out)
    assert compared > 0  # the books above do make signals


def test_only_the_candidates_of_the_changed_book_are_sized_again(monkeypatch: pytest.MonkeyPatch) -> None:
    sized: list[tuple[str, ...]] = []
    real = detector_module._size_cover

    def counting(ladders: list[list[tuple[int, int]]], *args: object, **kwargs: object) -> object:
        sized.append(tuple(str(lad) for lad in ladders))
        return real(ladders, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(detector_module, "_size_cover", counting)
    pairing = pairing_record()  # Kalshi's two markets and Polymarket's
    markets = sorted({i.market for b in pairing.books for i in b.instruments})
    venues = {i.market: b.venue for b in pairing.books for i in b.instruments}
    det = Detector(DetectorSettings(), {pairing.game_id: pairing}.get, clock=lambda: 0)
    state: dict[str, Tick] = {}
    for k, m in enumerate(markets):
        state, _ = det.on_tick(state, tick_record(m, venue=venues[m], bids=[(4000, 100)], asks=[(6000, 100)], seq=k))
    every = det._candidates(pairing)[0]
    sized.clear()
    changed = markets[0]
    state, _ = det.on_tick(state, tick_record(changed, venue=venues[changed], bids=[(4100, 100)], asks=[(5900, 100)], seq=99))
    touching = [p for p in every if changed in p.books_used]
    assert 0 < len(touching) < len(every)
    assert len(sized) == len(touching)
    sized.clear()
    state, _ = det.on_tick(state, state[changed])  # the same tick again: nothing changed, nothing is sized
    assert sized == []
