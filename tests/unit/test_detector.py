"""Table-driven detection tests (issue 11 acceptance)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from core.fees import taker_fee
from core.units import ONE_DOLLAR
from processors.detector import Candidate, Detector, candidates, detect_all
from processors.settings import DetectorSettings
from schemas.records import MarketPairing, Signal, Tick
from tests.factories import KALSHI_FEE, NO_FEE
from tests.factories import pairing_record as pairing
from tests.factories import tick_record as tick

S = DetectorSettings(min_edge_money=1, min_edge_per_contract=1, max_signal_size=10**9, fills_per_leg=1)  # one fill per leg: exact edges


def run(p: MarketPairing, ticks: list[Tick], settings: DetectorSettings = S) -> list[Signal]:
    return detect_all(ticks, {p.game_id: p}, settings)


def legs(sig: Signal) -> list[tuple[str, str, str, int]]:
    return [(leg.venue, leg.market, leg.side, leg.limit_price) for leg in sig.legs]


def _names(c: Candidate) -> frozenset[str]:
    return frozenset(f"{i.market}:{i.side}" for i in c.instruments)


def test_candidates_are_every_covering_cross_book_pair() -> None:
    got = {_names(c) for c in candidates(pairing())}
    assert got == {frozenset(x) for x in [
        ("K-BUF:YES", "K-KC:YES"), ("K-BUF:NO", "K-KC:NO"),  # intra-Kalshi, two books
        ("K-BUF:YES", "TOK-KC:YES"), ("K-KC:YES", "TOK-BUF:YES"),  # cross-venue YES + the other token
        ("K-BUF:NO", "TOK-BUF:YES"), ("K-KC:NO", "TOK-KC:YES"),  # cross-venue NO + the same team's token
    ]}


def test_same_book_pairs_are_never_candidates() -> None:
    for c in candidates(pairing()):
        assert c.books[0].market != c.books[1].market


def test_draw_league_requires_paying_on_the_draw() -> None:
    got = {_names(c) for c in candidates(pairing(draw=True))}
    assert frozenset(("K-BUF:YES", "K-KC:YES")) not in got  # loses on a draw: a bet, not an arbitrage
    assert frozenset(("K-BUF:NO", "K-KC:NO")) in got  # NO BUF pays {kc, draw}, NO KC pays {buf, draw}


def test_three_leg_covers_of_a_draw_league_are_candidates() -> None:
    # Issue 29 item 6: A-YES + B-YES + TIE-YES covers every outcome, within Kalshi or across venues.
    got = {_names(c) for c in candidates(pairing(draw=True, poly_draw=True))}
    yes = {"buf": ("K-BUF:YES", "TOK-BUF-YES:YES"), "kc": ("K-KC:YES", "TOK-KC-YES:YES"), "draw": ("K-DRAW:YES", "TOK-DRAW-YES:YES")}
    threes = {c for c in got if len(c) == 3}
    assert threes == {frozenset((a, b, d)) for a in yes["buf"] for b in yes["kc"] for d in yes["draw"]}  # every mix of venues
    assert frozenset(("K-BUF:NO", "TOK-BUF-YES:YES")) in got  # pairs are still there
    # no cover with a redundant leg (NO BUF already pays on kc and the draw), never two legs on one book
    assert frozenset(("K-BUF:YES", "K-KC:YES", "K-BUF:NO")) not in got
    assert all(len({b.market for b in c.books}) == len(c.books) for c in candidates(pairing(draw=True, poly_draw=True)))
    assert not [c for c in candidates(pairing()) if len(c.instruments) > 2]  # two outcomes: a minimal cover has two legs


def test_three_leg_signal_when_no_pair_pays() -> None:
    # Each YES at 0.30 (no fees): 0.90 for a contract that pays 1 whatever happens. YES + YES loses on the third
    # outcome, and every NO costs 0.99 (bids at 0.01): no pair pays.
    p = pairing(draw=True, kalshi_fee=NO_FEE)
    books = [tick("K-BUF", asks=[(3000, 500)], bids=[(100, 500)]), tick("K-KC", asks=[(3000, 300)], bids=[(100, 500)]),
             tick("K-DRAW", asks=[(3000, 800)], bids=[(100, 500)])]
    (sig,) = run(p, books)
    assert sorted(legs(sig)) == [("KALSHI", "K-BUF", "YES", 3000), ("KALSHI", "K-DRAW", "YES", 3000), ("KALSHI", "K-KC", "YES", 3000)]
    assert sig.size == 300 and {leg.size for leg in sig.legs} == {300}  # the thinnest leg bounds every leg
    assert sig.edge == (ONE_DOLLAR - 9000) * 300
    assert sorted(set(leg.pays_on[0] for leg in sig.legs)) == ["buf", "draw", "kc"]


def test_three_leg_cover_across_venues_with_fees() -> None:
    p = pairing(draw=True, poly_draw=True)
    books = [tick("K-BUF", asks=[(3000, 10_000)]), tick("TOK-KC-YES", venue="POLYMARKET", asks=[(3000, 10_000)]),
             tick("K-DRAW", asks=[(3000, 10_000)])]
    (sig,) = run(p, books)
    assert {leg.market for leg in sig.legs} == {"K-BUF", "TOK-KC-YES", "K-DRAW"}
    fees_paid = sum(leg.expected_fee for leg in sig.legs)
    assert fees_paid > 0 and sig.edge == ONE_DOLLAR * sig.size - 9000 * sig.size - fees_paid


def test_a_restored_three_leg_memory_keeps_its_hysteresis() -> None:
    p = pairing(draw=True, kalshi_fee=NO_FEE)
    books = [tick("K-BUF", asks=[(3000, 500)]), tick("K-KC", asks=[(3000, 300)]), tick("K-DRAW", asks=[(3000, 800)])]
    det = Detector(S, {p.game_id: p}.get, clock=lambda: 0)
    state: dict[str, Tick] = {}
    sigs: list[Signal] = []
    for t in books:
        state, out = det.on_tick(state, t)
        sigs += out
    assert len(sigs) == 1
    memory = det.memory(p.game_id)
    assert any(len(entry) == 7 for entry in memory["last"])  # 3 keys, size, 3 limits
    again = Detector(S, {p.game_id: p}.get, clock=lambda: 0)
    again.restore(p.game_id, memory)
    assert again.memory(p.game_id) == memory
    assert again.evaluate(p, state, books[-1]) == []  # the same opportunity is not signalled twice


def test_intra_kalshi_yes_yes_signal_with_fees() -> None:
    sigs = run(pairing(poly=False), [tick("K-BUF", asks=[(4500, 1000)]), tick("K-KC", asks=[(5000, 1000)])])
    assert len(sigs) == 1 and legs(sigs[0]) == [("KALSHI", "K-BUF", "YES", 4500), ("KALSHI", "K-KC", "YES", 5000)]
    fees = taker_fee(KALSHI_FEE, 4500, 1000) + taker_fee(KALSHI_FEE, 5000, 1000)
    assert sigs[0].size == 1000 and sigs[0].cost == (4500 + 5000) * 1000 + fees
    assert sigs[0].edge == ONE_DOLLAR * 1000 - sigs[0].cost > 0


def test_fees_that_erase_a_gross_edge() -> None:
    # 0.48 + 0.49 = 0.97: 3 cents gross, 3.5 cents of Kalshi fees
    assert run(pairing(poly=False), [tick("K-BUF", asks=[(4800, 1000)]), tick("K-KC", asks=[(4900, 1000)])]) == []
    # the same prices without fees do signal
    nofee = pairing(poly=False, kalshi_fee=NO_FEE)
    assert len(run(nofee, [tick("K-BUF", asks=[(4800, 1000)]), tick("K-KC", asks=[(4900, 1000)])])) == 1


def test_small_intra_kalshi_signal_that_rounding_fees_erase() -> None:
    """Issue 29 item 3: 2 contracts at 0.44 + 2 at 0.52 look like $0.08 gross - $0.0695 of fees = $0.0105 of
    edge with fees ceiled to $0.0001. A non-direct member's balance moves in whole cents: each leg costs
    $0.04 of fees (0.88 + 0.034496 -> 0.92; 1.04 + 0.034944 -> 1.08), and the trade earns exactly $0.00."""
    ticks = [tick("K-BUF", asks=[(4400, 200)]), tick("K-KC", asks=[(5200, 200)])]
    assert run(pairing(poly=False), ticks, DetectorSettings()) == []  # the default minimum edge is $0.01
    assert run(pairing(poly=False), ticks) == []  # not even at a minimum of $0.000001: the edge is zero
    assert taker_fee(KALSHI_FEE, 4400, 200, member="non_direct") == 40_000


def test_depth_supports_only_part_of_the_size() -> None:
    sigs = run(pairing(poly=False), [tick("K-BUF", asks=[(4500, 300), (5400, 5000)]), tick("K-KC", asks=[(5000, 5000)])])
    assert len(sigs) == 1 and sigs[0].size == 300 and legs(sigs[0])[0][3] == 4500


def test_prices_at_one_cent_and_ninety_nine() -> None:
    sigs = run(pairing(poly=False), [tick("K-BUF", asks=[(100, 1000)]), tick("K-KC", asks=[(9700, 1000)])])
    assert len(sigs) == 1 and [leg[3] for leg in legs(sigs[0])] == [100, 9700]
    assert run(pairing(poly=False), [tick("K-BUF", asks=[(100, 1000)]), tick("K-KC", asks=[(9900, 1000)])]) == []


def test_kalshi_no_plus_same_team_token_on_polymarket() -> None:
    # BUF YES bid 0.62 -> BUF NO ask 0.38; Polymarket BUF token ask 0.50: 0.88 for a sure dollar
    sigs = run(pairing(), [tick("K-BUF", bids=[(6200, 2000)], asks=[(6400, 2000)]), tick("K-KC", bids=[(3000, 100)], asks=[(3800, 100)]),
                           tick("TOK-BUF", venue="POLYMARKET", asks=[(5000, 2000)]), tick("TOK-KC", venue="POLYMARKET", asks=[(5100, 2000)])])
    assert [legs(s) for s in sigs] == [[("KALSHI", "K-BUF", "NO", 3800), ("POLYMARKET", "TOK-BUF", "YES", 5000)]]
    assert sigs[0].legs[0].pays_on == ["kc"] and sigs[0].legs[1].pays_on == ["buf"]


def test_both_legs_sized_in_contracts() -> None:
    (sig,) = run(pairing(), [tick("K-BUF", asks=[(4000, 700)]), tick("TOK-KC", venue="POLYMARKET", asks=[(5000, 10**6)])])
    assert [leg.size for leg in sig.legs] == [700, 700] and sig.size == 700


def test_a_million_contracts_without_overflow() -> None:
    big = 10**8  # 10^6 contracts
    (sig,) = run(pairing(poly=False), [tick("K-BUF", asks=[(4500, big)]), tick("K-KC", asks=[(5000, big)])])
    fee = taker_fee(KALSHI_FEE, 4500, big) + taker_fee(KALSHI_FEE, 5000, big)
    assert sig.size == big and sig.edge == ONE_DOLLAR * big - 9500 * big - fee


def test_stale_resyncing_or_crossed_legs_are_ignored() -> None:
    p = pairing(poly=False)
    for status in ("STALE", "RESYNCING", "CROSSED"):
        assert run(p, [tick("K-BUF", asks=[(4500, 1000)], status=status), tick("K-KC", asks=[(5000, 1000)])]) == []
        # a book that goes bad after a quiet spell stops being used, however recent the other leg is
        quiet_then_stale = [tick("K-BUF", asks=[(4500, 1000)], ts=1_000_000), tick("K-BUF", asks=[(4500, 1000)], ts=5_000_000, seq=2, status=status),
                            tick("K-KC", asks=[(5000, 1000)], ts=9_000_000)]
        assert run(p, quiet_then_stale) == []


@pytest.mark.parametrize("quiet_s", [1.999, 2.5, 10, 3600])
def test_a_quiet_book_is_not_too_old(quiet_s: float) -> None:
    """Issue 29 item 2: venues send nothing while a book does not change (Polymarket's market channel and
    Kalshi's orderbook_delta alike; venue-protocols.md, corrections 8 and 12), so the lagging-quote case --
    one venue reprices, the other's valid book has been quiet for seconds -- is the arbitrage. Trust comes
    from the tick's status (the feed marks a book STALE/RESYNCING when it loses it), not from how long ago
    the book last changed."""
    t0 = 1_000_000
    quiet = tick("TOK-KC", venue="POLYMARKET", asks=[(5000, 1000)], ts=t0)  # OK, unchanged since
    reprice = tick("K-BUF", asks=[(4000, 1000)], ts=t0 + int(quiet_s * 1_000_000))
    (sig,) = run(pairing(), [quiet, reprice])
    assert legs(sig) == [("KALSHI", "K-BUF", "YES", 4000), ("POLYMARKET", "TOK-KC", "YES", 5000)]
    assert sig.input_received_ts == [reprice.received_ts, quiet.received_ts]
    assert sig.deadline_ts == reprice.received_ts + S.signal_ttl_ms * 1000  # the deadline runs from the newest input


def test_the_retired_tick_age_setting_is_accepted_and_ignored() -> None:
    from cli.settings_index import all_settings
    from core.config import load

    assert load(DetectorSettings, env={"ARB_MAX_TICK_AGE_MS": "2000"}) == DetectorSettings()  # an old environment still loads
    assert "ARB_MAX_TICK_AGE_MS" not in {d.env for d in all_settings()}


def test_delayed_polymarket_market_skipped_unless_enabled_with_more_edge() -> None:
    p = pairing(delay=3)
    ticks = [tick("K-BUF", asks=[(4000, 1000)]), tick("TOK-KC", venue="POLYMARKET", asks=[(5000, 1000)])]
    assert run(p, ticks) == []
    (sig,) = run(p, ticks, replace(S, allow_delayed=True, delayed_extra_edge=100))
    assert sig.deadline_ts - sig.event_ts == S.signal_ttl_ms * 1000 + 3_000_000  # covers the delay
    assert run(p, ticks, replace(S, allow_delayed=True, delayed_extra_edge=9000)) == []


def test_hysteresis_and_determinism() -> None:
    p = pairing(poly=False)
    ticks = [tick("K-BUF", asks=[(4500, 1000)]), tick("K-KC", asks=[(5000, 1000)]),
             tick("K-KC", asks=[(5000, 1000)], seq=2),  # unchanged opportunity: not signalled again
             tick("K-KC", asks=[(5600, 1000)], seq=3),  # gone
             tick("K-BUF", asks=[(4500, 1000)], seq=5),  # K-BUF's book updated since the first signal
             tick("K-KC", asks=[(5000, 1000)], seq=4)]  # back: a new signal
    sigs = run(p, ticks)
    assert len(sigs) == 2 and sigs[0].signal_id != sigs[1].signal_id
    again = run(p, ticks)
    assert [(s.signal_id, s.deadline_ts) for s in again] == [(s.signal_id, s.deadline_ts) for s in sigs]
    assert sigs[0].deadline_ts == 1_000_000 + S.signal_ttl_ms * 1000


def test_a_book_signalled_on_is_not_reused_until_it_changes() -> None:
    """After a signal, our own order is taking that liquidity: another leg moving must not re-signal it
    against the same, not yet updated, book (the stale second signal that ends one-sided)."""
    p = pairing(poly=False)
    first = [tick("K-BUF", asks=[(4500, 1000)]), tick("K-KC", asks=[(5000, 1000)])]
    stale = run(p, [*first, tick("K-KC", asks=[(5100, 1000)], seq=2, ts=1_200_000)])
    assert len(stale) == 1  # K-BUF still shows the tick we signalled on
    later = run(p, [*first, tick("K-KC", asks=[(5100, 1000)], seq=2, ts=1_000_000 + S.book_reuse_ms * 1000)])
    assert len(later) == 2  # ... unless it stayed unchanged for the reuse window (our order did not take it)
    moved = run(p, [*first, tick("K-BUF", asks=[(4400, 1000)], seq=2, ts=1_100_000)])
    assert len(moved) == 1  # K-KC is still the book we signalled on
    both = run(p, [*first, tick("K-BUF", asks=[(4400, 1000)], seq=2, ts=1_100_000), tick("K-KC", asks=[(5000, 1000)], seq=2, ts=1_150_000)])
    assert len(both) == 2 and both[1].legs[0].limit_price == 4400


def test_unknown_game_or_missing_leg_gives_nothing() -> None:
    no_pairings: dict[str, MarketPairing] = {}
    det = Detector(S, no_pairings.get)
    state, sigs = det.on_tick({}, tick("K-BUF", asks=[(100, 100)]))
    assert sigs == [] and "K-BUF" in state


@pytest.mark.parametrize("whole", [True, False])
def test_kalshi_lots(whole: bool) -> None:
    (sig,) = run(pairing(poly=False), [tick("K-BUF", asks=[(4500, 250)]), tick("K-KC", asks=[(5000, 1000)])], replace(S, whole_contracts=whole))
    assert sig.size == (200 if whole else 250)


def test_a_detector_restored_from_a_games_memory_decides_as_the_one_that_kept_running() -> None:
    # The hysteresis travels in the table state: a worker that takes a game over after tick k must emit
    # exactly what the first worker would have emitted from tick k+1 on (and the memory is plain JSON).
    import json
    import random

    p = pairing()
    rng = random.Random(7)
    ticks = [tick(rng.choice(["K-BUF", "K-KC"]), asks=[(rng.choice([4400, 4500, 5000, 5100]), rng.choice([500, 1000]))],
                  seq=i, ts=1_000_000 + i * 1000) for i in range(1, 120)]
    S2 = replace(S, book_reuse_ms=50)
    whole = detect_all(ticks, {p.game_id: p}, S2)
    assert len(whole) > 5  # the sequence exercises the hysteresis, or the test says nothing
    differs = 0
    for k in (10, 40, 77):
        first = Detector(S2, {p.game_id: p}.get, clock=lambda: 0)
        books: dict[str, Tick] = {}
        out: list[Signal] = []
        for t in ticks[:k]:
            books, sigs = first.on_tick(books, t)
            out += sigs
        memo = json.loads(json.dumps(first.memory(p.game_id)))
        second = Detector(S2, {p.game_id: p}.get, clock=lambda: 0)
        second.restore(p.game_id, memo)
        for t in ticks[k:]:
            books, sigs = second.on_tick(books, t)
            out += sigs
        assert out == whole
        forgetful = Detector(S2, {p.game_id: p}.get, clock=lambda: 0)  # the same, with the memory lost
        b2, lossy = books_at(ticks[:k]), whole_until(whole, ticks[:k])
        for t in ticks[k:]:
            b2, sigs = forgetful.on_tick(b2, t)
            lossy += sigs
        differs += lossy != whole
    assert differs  # losing the memory changes decisions: what restore() carries matters


def books_at(ticks: list[Tick]) -> dict[str, Tick]:
    return {t.market: t for t in ticks}


def whole_until(signals: list[Signal], ticks: list[Tick]) -> list[Signal]:
    seen = {t.tick_id for t in ticks}
    return [s for s in signals if set(s.input_tick_ids) <= seen]
