"""Positions folded from fills: hand-computed numbers, idempotence, one-sided holdings, settlement (payouts per
venue, realized P&L per game and day against an independent recomputation, cross-venue mismatches)."""

from __future__ import annotations

import dataclasses
import random
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from core import codec
from positions.fold import Book, locked_profit, position, position_record, settlement_mismatch, settlement_pays, venue_verdict
from schemas.records import BookRef, Control, FeeParams, Instrument, MarketPairing, Position, Settlement, from_dict

G = "nfl-20261129-buf-kc"
PAYS = {("KALSHI", "K-BUF", "YES"): ["buf"], ("KALSHI", "K-BUF", "NO"): ["kc"], ("POLYMARKET", "tokKC", "YES"): ["kc"]}


def fill(fid: str, venue: str, market: str, side: str, action: str, price: int, size: int, fee: int) -> dict[str, Any]:
    return {"fill_id": fid, "client_order_id": fid.split("#")[0], "signal_id": "s1", "game_id": G, "venue": venue, "market": market,
            "side": side, "action": action, "price": price, "size": size, "fee": fee, "paper": False, "ts": 1}


def test_hedged_pair_locks_profit_and_duplicates_are_ignored() -> None:
    fills = [fill("a#0", "KALSHI", "K-BUF", "YES", "BUY", 4500, 1000, 174_000),   # 10 @ 0.45, fee 0.174
             fill("b#0", "POLYMARKET", "tokKC", "YES", "BUY", 5000, 1000, 75_000),  # 10 @ 0.50, fee 0.075
             fill("a#0", "KALSHI", "K-BUF", "YES", "BUY", 4500, 1000, 174_000)]    # the same fill again
    book = Book().fold(fills)
    assert book.duplicates == 1
    k = book.holdings[("KALSHI", "K-BUF", "YES")]
    assert (k.contracts, k.cost, k.fees, k.avg_cost_price()) == (1000, 4_500_000, 174_000, 4500)
    # 10 contracts pay $1 whichever team wins: 10 - 4.5 - 5.0 - 0.249 = 0.251
    assert locked_profit(book, G, ["buf", "kc"], PAYS) == 10_000_000 - 9_500_000 - 249_000
    rec = position(k, 4700, 5)
    assert rec == Position(key="KALSHI:K-BUF:YES", game_id=G, venue="KALSHI", market="K-BUF", side="YES", contracts=1000, cost=4_500_000,
                           fees=174_000, realized_pnl=-174_000, unrealized_pnl=4700 * 1000 - 4_500_000, mark_price=4700, settled=False, ts=5)
    assert position_record(k, 4700, 5) == {f.name: getattr(rec, f.name) for f in dataclasses.fields(rec)}  # the rows of `arb positions`


def test_one_sided_holding_has_a_worst_case_loss() -> None:
    book = Book().fold([fill("a#0", "KALSHI", "K-BUF", "YES", "BUY", 4500, 1000, 174_000)])
    assert locked_profit(book, G, ["buf", "kc"], PAYS) == 0 - 4_500_000 - 174_000  # KC wins: the contracts pay nothing


def test_partial_close_realizes_against_average_cost() -> None:
    book = Book().fold([fill("a#0", "KALSHI", "K-BUF", "YES", "BUY", 4000, 1000, 0), fill("a#1", "KALSHI", "K-BUF", "YES", "BUY", 5000, 1000, 0),
                        fill("u#0", "KALSHI", "K-BUF", "YES", "SELL", 4800, 500, 20_000)])
    h = book.holdings[("KALSHI", "K-BUF", "YES")]
    # average 0.45; selling 5 at 0.48 realizes 5 x 0.03 = 0.15, minus the 0.02 fee
    assert (h.contracts, h.cost, h.realized) == (1500, 6_750_000, 150_000 - 20_000)


def test_settlement_pays_winners() -> None:
    book = Book().fold([fill("a#0", "KALSHI", "K-BUF", "NO", "BUY", 5500, 200, 0), fill("b#0", "POLYMARKET", "tokKC", "YES", "BUY", 4000, 100, 0)])
    book.settle({("KALSHI", "K-BUF", "NO"): True, ("POLYMARKET", "tokKC", "YES"): True})
    assert book.holdings[("KALSHI", "K-BUF", "NO")].realized == 2 * 1_000_000 - 1_100_000
    assert book.holdings[("POLYMARKET", "tokKC", "YES")].contracts == 0 and book.holdings[("POLYMARKET", "tokKC", "YES")].settled


# --- settlement (issue 26) ---------------------------------------------------------------------------------------

NY = ZoneInfo("America/New_York")
DAY1_US = 1_796_000_000_000_000  # 2026-11-29 ~ 19:33 New York
DAY2_US = DAY1_US + 86_400_000_000


def settlement(venue: str, market: str, payout: int, ts: int = DAY2_US, game: str = G) -> dict[str, Any]:
    return {"game_id": game, "venue": venue, "market": market, "book": market if venue == "KALSHI" else "0xcond", "payout": payout,
            "source": "test", "resolved_ts": ts, "published_ts": ts}


def _independent_realized(fills: list[dict[str, Any]], pays: dict[tuple[str, str, str], int]) -> int:
    """Cash in minus cash out, straight from the fills (no average cost): every sale brings price x size, every
    buy costs it, every fee is paid, and whatever is held at the end is paid at the settlement price."""
    cash, held = 0, dict[tuple[str, str, str], int]()
    for f in {f["fill_id"]: f for f in fills}.values():
        k = (f["venue"], f["market"], f["side"])
        sign = 1 if f["action"] == "BUY" else -1
        cash += -sign * f["price"] * f["size"] - f["fee"]
        held[k] = held.get(k, 0) + sign * f["size"]
    return cash + sum(pays[k] * n for k, n in held.items())


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("settle_first", [False, True])
def test_settlement_releases_exposure_and_realizes_what_the_fills_say(seed: int, settle_first: bool) -> None:
    rng = random.Random(seed)
    instruments = [("KALSHI", "K-BUF", "YES"), ("KALSHI", "K-BUF", "NO"), ("KALSHI", "K-KC", "NO"), ("POLYMARKET", "tokKC", "YES"),
                   ("POLYMARKET", "tokBUF", "YES")]
    fills = []
    held = {k: 0 for k in instruments}
    for n in range(40):
        k = rng.choice(instruments)
        action = "SELL" if held[k] > 0 and rng.random() < 0.3 else "BUY"
        size = rng.randint(1, held[k]) if action == "SELL" else rng.randint(1, 900)
        held[k] += size if action == "BUY" else -size
        fills.append(fill(f"f{n}#0", *k, action, rng.randint(1, 99) * 100, size, rng.randint(0, 300_000)) | {"ts": DAY1_US + n})
    fills.append(dict(fills[3]))  # a duplicate record is ignored
    recs = [settlement("KALSHI", "K-BUF", 10_000), settlement("KALSHI", "K-KC", 0), settlement("POLYMARKET", "tokKC", 0),
            settlement("POLYMARKET", "tokBUF", 10_000)]
    book = Book(tz=NY)
    if settle_first:  # settlements read before the fills: each late fill settles as it lands
        book.fold_settlements(recs).fold(fills)
    else:
        book.fold(fills).fold_settlements(recs)
    pays = {k: v for r in recs for k, v in settlement_pays(r).items()}
    assert book.exposure(G) == 0 and all(h.contracts == 0 and h.settled for h in book.holdings.values())
    assert book.game_realized()[G] == _independent_realized(fills, pays)
    assert sum(book.daily.values()) == book.game_realized()[G] and set(book.daily) <= {"20261129", "20261130"}
    assert book.settled_games() == {G}


def test_realized_pnl_per_trading_day() -> None:
    fills = [fill("a#0", "KALSHI", "K-BUF", "YES", "BUY", 4500, 1000, 174_000) | {"ts": DAY1_US},
             fill("b#0", "POLYMARKET", "tokKC", "YES", "BUY", 5000, 1000, 75_000) | {"ts": DAY1_US}]
    book = Book(tz=NY).fold(fills)
    assert book.exposure(G) == 9_500_000 and book.daily == {"20261129": -249_000}  # fees realized the day they are paid
    book.fold_settlements([settlement("KALSHI", "K-BUF", 10_000), settlement("POLYMARKET", "tokKC", 0)])
    # BUF won: Kalshi YES pays 10, the KC token nothing; the day of the resolution gets it
    assert book.daily == {"20261129": -249_000, "20261130": 10_000_000 - 9_500_000}
    assert book.game_realized()[G] == 10_000_000 - 9_500_000 - 249_000 and book.exposure(G) == 0


def test_kalshi_no_pays_the_rest_of_a_dollar_and_a_settlement_folds_once() -> None:
    book = Book(tz=NY).fold([fill("a#0", "KALSHI", "K-BUF", "NO", "BUY", 3000, 200, 0) | {"ts": DAY1_US}])
    assert book.apply_settlement(settlement("KALSHI", "K-BUF", 2500))  # a fair-price settlement: NO pays 0.75
    assert not book.apply_settlement(settlement("KALSHI", "K-BUF", 2500))
    assert not book.apply_settlement(settlement("KALSHI", "K-BUF", 10_000)) and book.conflicting  # what was paid stands
    assert book.holdings[("KALSHI", "K-BUF", "NO")].realized == 7500 * 200 - 3000 * 200


def _pairing(game_id: str, outcomes: list[str], books: list[tuple[str, str, list[tuple[str, str, list[str]]]]]) -> MarketPairing:
    """A MarketPairing of these books: (venue, book market, [(instrument market, side, pays_on)])."""
    fee = FeeParams(model="NONE", rate_ppm=0, multiplier_ppm=1_000_000, exponent=1)
    league, day, away, home = game_id.split("-")[:4]
    return MarketPairing(game_id=game_id, league=league, game_date=day, away=away, home=home, outcomes=outcomes, updated_ts=0, books=[
        BookRef(venue=v, market=m, event=m, tick_size=100, min_size=100, fee=fee, seconds_delay=0, neg_risk=False, exchange_version=0,
                exchange_index=0, instruments=[Instrument(market=im, side=side, label=im, pays_on=on) for im, side, on in instruments])  # type: ignore[arg-type]
        for v, m, instruments in books])


PAIRING = _pairing(G, ["buf", "kc"], [("KALSHI", "K-BUF", [("K-BUF", "YES", ["buf"]), ("K-BUF", "NO", ["kc"])]),
                                      ("KALSHI", "K-KC", [("K-KC", "YES", ["kc"]), ("K-KC", "NO", ["buf"])]),
                                      ("POLYMARKET", "0xcond", [("tokBUF", "YES", ["buf"]), ("tokKC", "YES", ["kc"])])])
SOCCER = _pairing("epl-20261129-ars-che", ["ars", "che", "draw"],
                  [("KALSHI", f"K-{t.upper()}", [(f"K-{t.upper()}", "YES", [t]), (f"K-{t.upper()}", "NO", [o for o in ("ars", "che", "draw") if o != t])])
                   for t in ("ars", "che", "draw")]
                  + [("POLYMARKET", f"0x{t}", [(f"{t}-yes", "YES", [t]), (f"{t}-no", "YES", [o for o in ("ars", "che", "draw") if o != t])])
                     for t in ("ars", "che", "draw")])


def _recs(pairs: dict[str, int]) -> dict[str, Settlement]:
    return {k: from_dict(Settlement, settlement(k.split(":")[0], k.split(":")[1], p)) for k, p in pairs.items()}


def test_venues_that_agree_are_no_mismatch_and_partial_results_wait() -> None:
    agree = _recs({"KALSHI:K-BUF": 10_000, "KALSHI:K-KC": 0, "POLYMARKET:tokBUF": 10_000, "POLYMARKET:tokKC": 0})
    assert venue_verdict(PAIRING, "KALSHI", agree) == "buf" == venue_verdict(PAIRING, "POLYMARKET", agree)
    assert settlement_mismatch(PAIRING, agree) is None
    partial = _recs({"KALSHI:K-BUF": 10_000, "POLYMARKET:tokBUF": 0, "POLYMARKET:tokKC": 10_000})
    assert venue_verdict(PAIRING, "KALSHI", partial) is None and settlement_mismatch(PAIRING, partial) is None


def test_kalshi_says_buf_polymarket_says_kc_is_a_mismatch() -> None:
    recs = _recs({"KALSHI:K-BUF": 10_000, "KALSHI:K-KC": 0, "POLYMARKET:tokBUF": 0, "POLYMARKET:tokKC": 10_000})
    assert settlement_mismatch(PAIRING, recs) == {"KALSHI": "buf", "POLYMARKET": "kc"}


def test_a_fifty_fifty_at_one_venue_is_a_mismatch() -> None:
    recs = _recs({"KALSHI:K-BUF": 10_000, "KALSHI:K-KC": 0, "POLYMARKET:tokBUF": 5000, "POLYMARKET:tokKC": 5000})
    got = settlement_mismatch(PAIRING, recs)
    assert got is not None and got["KALSHI"] == "buf" and got["POLYMARKET"].startswith("no single outcome")


def test_draw_at_one_venue_a_team_at_the_other_is_a_mismatch() -> None:
    k = {"KALSHI:K-ARS": 0, "KALSHI:K-CHE": 0, "KALSHI:K-DRAW": 10_000}
    p = {"POLYMARKET:ars-yes": 10_000, "POLYMARKET:ars-no": 0, "POLYMARKET:che-yes": 0, "POLYMARKET:che-no": 10_000,
         "POLYMARKET:draw-yes": 0, "POLYMARKET:draw-no": 10_000}
    assert settlement_mismatch(SOCCER, _recs(k | p)) == {"KALSHI": "draw", "POLYMARKET": "ars"}
    p_draw = {**p, "POLYMARKET:ars-yes": 0, "POLYMARKET:ars-no": 10_000, "POLYMARKET:draw-yes": 10_000, "POLYMARKET:draw-no": 0}
    assert settlement_mismatch(SOCCER, _recs(k | p_draw)) is None


class FakeProducer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes]] = []

    def produce(self, topic: str, key: bytes, value: bytes, **_: Any) -> None:
        self.sent.append((topic, key, value))


def test_positions_role_alerts_loudly_once_and_does_not_net(caplog: pytest.LogCaptureFixture) -> None:
    from core import metrics
    from core.settings import KafkaSettings
    from positions.service import PositionsService
    from positions.settings import PositionsSettings

    svc = PositionsService(KafkaSettings(topic_prefix="x."), PositionsSettings(), day_tz="America/New_York")
    svc.book.fold([fill("a#0", "KALSHI", "K-BUF", "YES", "BUY", 4500, 1000, 0) | {"ts": DAY1_US},
                   fill("b#0", "POLYMARKET", "tokKC", "YES", "BUY", 5000, 1000, 0) | {"ts": DAY1_US}])
    svc.on_pairing(G, PAIRING)
    for r in _recs({"KALSHI:K-BUF": 10_000, "KALSHI:K-KC": 0, "POLYMARKET:tokBUF": 0, "POLYMARKET:tokKC": 10_000}).values():
        svc.on_settlement(r)
    before = metrics.SETTLEMENT_MISMATCHES._value.get()
    producer = FakeProducer()
    assert svc.check_settlements(producer) == [G]
    assert metrics.SETTLEMENT_MISMATCHES._value.get() == before + 1
    assert any(r.levelname == "ERROR" and "SETTLEMENT MISMATCH" in r.getMessage() for r in caplog.records)
    [(topic, key, value)] = producer.sent
    alert = codec.decode_record(value, Control)
    assert topic == "x.control" and key == f"alert:settlement:{G}".encode() and alert.kind == "ALERT" and alert.active
    assert alert.reason is not None and "KALSHI buf" in alert.reason and "POLYMARKET kc" in alert.reason
    # both legs were paid by their own venue: 10 + 10 - 9.5, not netted to a hedge's 10 - 9.5
    assert svc.book.game_realized()[G] == 20_000_000 - 9_500_000
    svc.on_settlement(from_dict(Settlement, settlement("POLYMARKET", "tokKC", 10_000)))
    assert svc.check_settlements(producer) == [] and len(producer.sent) == 1  # once per game
