"""Issue 26: the group's risk state folded from `fills`, `settlements` and `positions` (executor/group_risk.py)."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from core.units import ONE_DOLLAR
from executor.group_risk import RiskFold, day_start_us
from positions.fold import settlement_pays
from schemas.records import Fill, MarketPairing, Position, Settlement, from_dict
from tests.factories import NO_FEE

TZ = ZoneInfo("America/New_York")
DAY1 = 1_796_000_000_000_000  # 2026-11-30 (New York) in the afternoon
NEXT_DAY = day_start_us(DAY1, TZ) + 86_400 * 1_000_000 + 3_600_000_000

def _book(venue: str, market: str, instruments: list[tuple[str, str, list[str]]]) -> dict[str, Any]:
    return {"venue": venue, "market": market, "event": "e", "tick_size": 100, "min_size": 100, "fee": NO_FEE, "seconds_delay": 0,
            "neg_risk": False, "exchange_version": 0, "exchange_index": 0,
            "instruments": [{"market": m, "side": side, "label": m, "pays_on": pays_on} for m, side, pays_on in instruments]}


PAIRING = from_dict(MarketPairing, {
    "game_id": "g", "league": "nfl", "game_date": "20261130", "start_ts": None, "away": "away", "home": "home",
    "outcomes": ["home", "away"], "updated_ts": 0,
    "books": [_book("KALSHI", "K-HOME", [("K-HOME", "YES", ["home"]), ("K-HOME", "NO", ["away"])]),
              _book("POLYMARKET", "cond", [("tok-away", "YES", ["away"]), ("tok-home", "YES", ["home"])])],
})


def fill(fid: str, venue: str, market: str, price: int, size: int, *, side: str = "YES", action: str = "BUY", fee: int = 0,
         ts: int = DAY1, game: str = "g", signal_id: str = "s") -> Fill:
    return from_dict(Fill, {"fill_id": fid, "client_order_id": fid, "signal_id": signal_id, "game_id": game, "venue": venue, "market": market,
                            "side": side, "action": action, "price": price, "size": size, "fee": fee, "paper": False, "ts": ts})


def settlement(venue: str, market: str, payout: int, ts: int = DAY1) -> Settlement:
    return from_dict(Settlement, {"game_id": "g", "venue": venue, "market": market, "book": market, "payout": payout, "source": "test",
                                  "resolved_ts": ts, "published_ts": ts})


def mark(venue: str, market: str, side: str, price: int | None) -> Position:
    """A Position record carrying the mark (best bid) of an instrument: all the risk fold reads of it."""
    return from_dict(Position, {"key": f"{venue}:{market}:{side}", "game_id": "g", "venue": venue, "market": market, "side": side,
                                "contracts": 0, "cost": 0, "fees": 0, "realized_pnl": 0, "unrealized_pnl": 0, "mark_price": price,
                                "settled": False, "ts": DAY1})


def covered() -> RiskFold:
    """10 contracts of K-HOME YES at 0.45 + 10 of tok-away at 0.50: pays 10 USD whatever happens, cost 9.50 USD."""
    f = RiskFold(TZ)
    f.apply_fill(fill("f1", "KALSHI", "K-HOME", 4500, 1000, fee=70_000), 3)
    f.apply_fill(fill("f2", "POLYMARKET", "tok-away", 5000, 1000), 3)
    return f


def test_a_covered_position_has_no_exposure_and_an_uncovered_one_its_cost() -> None:
    f = covered()
    assert f.game_exposure("g", PAIRING) == 0  # cost 9.50 USD, sure to pay 10 USD
    assert f.game_exposure("g", None) == 9_500_000  # pairing unknown: nothing is sure to pay
    one_sided = RiskFold(TZ)
    one_sided.apply_fill(fill("f1", "KALSHI", "K-HOME", 4500, 1000), 3)
    assert one_sided.game_exposure("g", PAIRING) == 4_500_000
    assert one_sided.partition_exposure(3, {"g": PAIRING}) == 4_500_000
    assert one_sided.partition_exposure(4, {"g": PAIRING}) == 0


def test_a_settlement_releases_the_exposure_and_books_the_payout() -> None:
    f = RiskFold(TZ)
    f.apply_fill(fill("f1", "KALSHI", "K-HOME", 4500, 1000, fee=70_000), 3)
    f.apply_fill(fill("f2", "KALSHI", "K-HOME", 3000, 500, side="NO", fee=20_000), 3)
    assert f.game_exposure("g", PAIRING) == 6_000_000 - 5_000_000  # 4.50 + 1.50 cost, 5 USD sure (NO pays 5 contracts)
    f.apply_settlement(settlement("KALSHI", "K-HOME", 0))  # home lost: YES pays 0, NO pays 1 USD
    assert f.game_exposure("g", PAIRING) == 0
    assert f.exposures({"g": PAIRING}) == {}
    # Independent recomputation from the fills: NO 5 contracts x 1 USD - 4.50 - 1.50 - fees 0.09.
    realized, _ = f.day_pnl(DAY1, {"g": PAIRING})
    assert realized == 5 * 1_000_000 - 4_500_000 - 1_500_000 - 90_000


def test_kalshi_no_pays_the_complement_and_a_polymarket_token_its_payout() -> None:
    assert settlement_pays(settlement("KALSHI", "K", 10_000)) == {("KALSHI", "K", "YES"): 10_000, ("KALSHI", "K", "NO"): 0}
    assert settlement_pays(settlement("POLYMARKET", "tok", 5_000)) == {("POLYMARKET", "tok", "YES"): 5_000}


def test_a_fill_after_its_settlement_pays_out_at_once() -> None:
    f = RiskFold(TZ)
    f.apply_settlement(settlement("POLYMARKET", "tok-home", 10_000))
    f.apply_fill(fill("f1", "POLYMARKET", "tok-home", 6000, 100), 0)
    assert f.exposures({}) == {}
    assert f.day_pnl(DAY1, {})[0] == 10_000 * 100 - 6000 * 100


def test_realized_pnl_is_per_trading_day_and_a_repeated_fill_counts_once() -> None:
    f = RiskFold(TZ)
    f.apply_fill(fill("f1", "KALSHI", "K-HOME", 4500, 1000, fee=70_000), 3)
    f.apply_fill(fill("f1", "KALSHI", "K-HOME", 4500, 1000, fee=70_000), 3)  # the same fill twice
    f.apply_fill(fill("f3", "KALSHI", "K-HOME", 4000, 1000, action="SELL", fee=10_000, ts=NEXT_DAY), 3)
    assert f.day_pnl(DAY1, {})[0] == -70_000
    assert f.day_pnl(NEXT_DAY, {})[0] == (4000 - 4500) * 1000 - 10_000  # the next day starts from 0, then its own loss


def test_marks_value_open_positions_but_never_below_their_cover() -> None:
    f = RiskFold(TZ)
    f.apply_fill(fill("f1", "KALSHI", "K-HOME", 4500, 1000), 3)
    assert f.unrealized({"g": PAIRING}) == 0  # no mark yet: counted at its cost
    f.apply_position(mark("KALSHI", "K-HOME", "YES", 1000))
    assert f.unrealized({"g": PAIRING}) == (1000 - 4500) * 1000
    f.apply_position(mark("KALSHI", "K-HOME", "YES", None))
    assert f.unrealized({"g": PAIRING}) == 0
    c = covered()
    for market, side in (("K-HOME", "YES"), ("tok-away", "YES")):
        venue = "KALSHI" if market.startswith("K") else "POLYMARKET"
        c.apply_position(mark(venue, market, side, 100))
    assert c.unrealized({"g": PAIRING}) == 10_000_000 - 9_500_000  # bids of 1 cent, but it is sure to pay 10 USD


def test_a_rebuild_from_the_same_records_keeps_the_days_loss() -> None:
    records = [fill("f1", "KALSHI", "K-HOME", 4500, 1000, fee=70_000), fill("f2", "KALSHI", "K-HOME", 2000, 1000, action="SELL")]
    first, again = RiskFold(TZ), RiskFold(TZ)
    for r in records:
        first.apply_fill(r, 3)
        again.apply_fill(r, 3)
    assert first.day_pnl(DAY1, {}) == again.day_pnl(DAY1, {}) == (-70_000 - 2_500_000, 0)


def test_one_venue_settling_first_leaves_a_covered_game_covered_and_its_pnl_unchanged() -> None:
    # Review finding: Kalshi pays hours before Polymarket. The settled leg's payout and the open leg's value are one
    # covered position: no exposure appears and the day's P&L does not jump by the settled leg's gain or loss.
    for payout, won in ((10_000, "home"), (0, "away")):
        f = covered()
        before = sum(f.day_pnl(DAY1, {"g": PAIRING}))
        f.apply_settlement(settlement("KALSHI", "K-HOME", payout))
        assert f.game_exposure("g", PAIRING) == 0, won
        realized, unrealized = f.day_pnl(DAY1, {"g": PAIRING})
        assert realized + unrealized == 10_000_000 - 9_500_000 - 70_000, (won, realized, unrealized)  # what the pair locked in
        assert before <= realized + unrealized
        f.apply_settlement(settlement("POLYMARKET", "tok-away", ONE_DOLLAR - payout))  # the other venue agrees
        assert f.game_exposure("g", PAIRING) == 0 and f.open_holdings() == {}
        assert f.day_pnl(DAY1, {"g": PAIRING}) == (10_000_000 - 9_500_000 - 70_000, 0)


def test_a_withdrawn_games_last_pairing_still_covers_its_open_legs() -> None:
    from core.settings import KafkaSettings
    from executor.group_risk import GroupRisk

    current: dict[str, MarketPairing] = {"g": PAIRING}
    risk = GroupRisk(KafkaSettings(), "America/New_York", pairings=lambda: dict(current))
    risk.fold = covered()
    assert risk.view(lambda f, p: f.game_exposure("g", p.get("g"))) == 0
    current.clear()  # discovery withdrew the finished game before it resolved
    assert risk.view(lambda f, p: f.game_exposure("g", p.get("g"))) == 0


def test_a_fill_the_reader_cannot_decode_stops_it_a_mark_does_not() -> None:
    from core.settings import KafkaSettings
    from executor.group_risk import GroupRisk

    risk = GroupRisk(KafkaSettings(), "America/New_York")

    class Msg:
        def __init__(self, topic: str) -> None:
            self._topic = topic

        def topic(self) -> str:
            return self._topic

        def partition(self) -> int:
            return 0

        def offset(self) -> int:
            return 7

        def value(self) -> bytes:
            return b"\x00garbage"

    risk._apply(Msg("arb.positions"), "arb.settlements", "arb.positions")  # skipped: the holding counts at its cost
    for topic in (risk.fills_topic, "arb.settlements"):
        try:
            risk._apply(Msg(topic), "arb.settlements", "arb.positions")
        except RuntimeError as exc:
            assert "cannot be folded" in str(exc)
        else:
            raise AssertionError(f"an unreadable record of {topic} was skipped")


def _pairing_of(game: str) -> MarketPairing:
    """PAIRING for another game: its own markets."""
    return from_dict(MarketPairing, {
        "game_id": game, "league": "nfl", "game_date": "20261130", "start_ts": None, "away": "away", "home": "home",
        "outcomes": ["home", "away"], "updated_ts": 0,
        "books": [_book("KALSHI", f"K-{game}", [(f"K-{game}", "YES", ["home"]), (f"K-{game}", "NO", ["away"])]),
                  _book("POLYMARKET", f"cond-{game}", [(f"away-{game}", "YES", ["away"]), (f"home-{game}", "YES", ["home"])])],
    })


def test_a_partitions_exposure_is_the_sum_of_its_games_exposures() -> None:
    # The risk gate asks partition_exposure for every signal; it reads only the partition's games, and must sum what
    # exposures() (every game) says of them. Random holdings: covered, one-sided, settled, over 5 partitions.
    import random

    rng = random.Random(7)
    f, pairings = RiskFold(TZ), {}
    for i in range(40):
        g = f"g{i}"
        pairings[g] = _pairing_of(g)
        instruments = [("KALSHI", f"K-{g}", "YES"), ("KALSHI", f"K-{g}", "NO"), ("POLYMARKET", f"away-{g}", "YES"), ("POLYMARKET", f"home-{g}", "YES")]
        for j in range(rng.randint(1, 4)):
            venue, market, side = rng.choice(instruments)
            f.apply_fill(fill(f"{g}-{j}", venue, market, rng.randint(100, 9_900), rng.randint(1, 20) * 100, side=side, game=g,
                              signal_id=f"s-{g}"), i % 5)
        if rng.random() < 0.3:
            f.apply_settlement(settlement("KALSHI", f"K-{g}", rng.choice([0, 10_000])))
    exposures = f.exposures(pairings)
    assert sum(1 for e in exposures.values() if e > 0) >= 10  # the data exercises the sums
    for p in range(6):
        assert f.partition_exposure(p, pairings) == sum(e for g, e in exposures.items() if f.game_partition[g] == p), p


def test_the_kept_figures_equal_a_fold_made_afresh_after_every_change() -> None:
    # The gate's figures are kept per game until its book, a mark of what it holds or its pairing changes. After every
    # change of a random history (fills, settlements, marks, pairings replaced or withdrawn), asked of the same fold
    # again and again, they must equal those of a fold that replays the history from nothing (whose figures are all new).
    import random

    rng = random.Random(11)
    games = [f"g{i}" for i in range(6)]
    pairings: dict[str, MarketPairing] = {g: _pairing_of(g) for g in games}

    def instruments(g: str) -> list[tuple[str, str, str]]:
        return [("KALSHI", f"K-{g}", "YES"), ("KALSHI", f"K-{g}", "NO"), ("POLYMARKET", f"away-{g}", "YES"), ("POLYMARKET", f"home-{g}", "YES")]

    history: list[tuple[str, Any]] = []

    def apply(f: RiskFold, op: tuple[str, Any]) -> None:
        kind, arg = op
        if kind == "fill":
            f.apply_fill(*arg)
        elif kind == "settle":
            f.apply_settlement(arg)
        else:
            f.apply_position(arg)

    def figures(f: RiskFold) -> tuple[object, ...]:
        return (f.unrealized(pairings), f.exposures(pairings), [f.partition_exposure(p, pairings) for p in range(3)],
                [f.game_exposure(g, pairings.get(g)) for g in games])

    kept = RiskFold(TZ)
    changed = {"fill": 0, "settle": 0, "mark": 0, "pairing": 0}
    for step in range(400):
        g = rng.choice(games)
        venue, market, side = rng.choice(instruments(g))
        roll = rng.random()
        if roll < 0.45:
            op: tuple[str, Any] = ("fill", (fill(f"f{step}", venue, market, rng.randint(100, 9_900), rng.randint(1, 20) * 100, side=side,
                                                 action=rng.choice(["BUY", "BUY", "SELL"]), fee=rng.randint(0, 3) * 10_000, game=g,
                                                 signal_id=f"s{step}"), games.index(g) % 3))
        elif roll < 0.55:
            op = ("settle", settlement(venue, market, rng.choice([0, 10_000, 5_000])))
        elif roll < 0.85:
            op = ("mark", mark(venue, market, side, rng.choice([None, rng.randint(100, 9_900)])))
        else:
            op = ("pairing", g)
        changed[op[0]] += 1
        if op[0] == "pairing":
            # Discovery replaces a game's pairing (a new object), or it is withdrawn and the game is covered by nothing.
            if g in pairings and rng.random() < 0.4:
                del pairings[g]
            else:
                pairings[g] = _pairing_of(g)
        else:
            history.append(op)
            apply(kept, op)
        afresh = RiskFold(TZ)
        for done in history:
            apply(afresh, done)
        assert figures(kept) == figures(afresh), (step, op)
    assert min(changed.values()) >= 30, changed  # every kind of change is exercised
    assert any(e > 0 for e in kept.exposures(pairings).values()) and kept.unrealized(pairings) != 0


def test_a_fill_that_fails_half_way_leaves_no_figures_kept() -> None:
    # The reader stops on a fill it cannot fold (the gate then rejects every signal), but the fold must not go on serving
    # the figures from before: the book may have changed before the failure (here the holding, then the day's P&L).
    import pytest

    f = covered()
    assert f.game_exposure("g", PAIRING) == 0  # kept
    with pytest.raises((OverflowError, ValueError, OSError)):
        f.apply_fill(fill("bad", "POLYMARKET", "tok-home", 5000, 1000, fee=10_000, ts=10**20), 3)
    assert f.game_exposure("g", PAIRING) == RiskFold(TZ, books=f.books).game_exposure("g", PAIRING) > 0
