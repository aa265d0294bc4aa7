"""The demo's account of games through their life (demo/acceptance.py) and its positions check (demo/reconcile.py):
counts per bucket, realized P&L of settled games against a cash recomputation, the acceptance verdicts at their
thresholds, and a settled position the simulator no longer holds not counted as drift."""

from __future__ import annotations

import json
from typing import Any

import pytest

from demo import acceptance
from demo.reconcile import drift, expected_sim_positions, paid_books
from demo.stats import DemoStats
from tests.factories import pairing

G1, G2 = "nfl-20261129-buf-kc", "nfl-20261129-buf-kc-g2"
T0 = 1_796_000_000_000_000
B = 30_000_000  # 30 s buckets


def _pairing_g2() -> dict[str, Any]:
    """G2 on markets of its own (the factory names every game's markets alike)."""
    return dict(json.loads(json.dumps(pairing(G2)).replace("TOK-", "TOKEN2-").replace("K-", "K2-").replace("0xcond", "0xcond2")))


def _fill(fid: str, game: str, venue: str, market: str, side: str, action: str, price: int, size: int, fee: int, ts: int) -> dict[str, Any]:
    return {"fill_id": fid, "client_order_id": f"c-{fid}", "signal_id": f"s-{fid}", "game_id": game, "venue": venue, "market": market,
            "side": side, "action": action, "price": price, "size": size, "fee": fee, "paper": False, "ts": ts}


def _settlement(game: str, venue: str, market: str, book: str, payout: int, published: int) -> dict[str, Any]:
    return {"game_id": game, "venue": venue, "market": market, "book": book, "payout": payout, "source": "test",
            "resolved_ts": published - 1, "published_ts": published}


def _settle_g1(stats: DemoStats, published: int) -> None:
    """BUF won G1 at both venues: K-BUF yes, K-KC no, token BUF 1, token KC 0."""
    for venue, market, book, payout in (("KALSHI", "K-BUF", "K-BUF", 10_000), ("KALSHI", "K-KC", "K-KC", 0),
                                        ("POLYMARKET", "TOK-BUF", "0xcond", 10_000), ("POLYMARKET", "TOK-KC", "0xcond", 0)):
        stats.on_settlement(_settlement(G1, venue, market, book, payout, published))


def _stats() -> DemoStats:
    """G1: a covered pair (Kalshi YES BUF 10 @ 0.45 + Polymarket KC 10 @ 0.50), then 4 of the KC tokens sold back
    @ 0.40 (an unwind), then settled (BUF won). G2: one open Kalshi leg, never settled."""
    st = DemoStats()
    st.on_pairing(G1, pairing(G1))
    st.on_pairing(G2, _pairing_g2())
    for f in (_fill("f1", G1, "KALSHI", "K-BUF", "YES", "BUY", 4_500, 1_000, 70_000, T0 + 1_000_000),
              _fill("f2", G1, "POLYMARKET", "TOK-KC", "YES", "BUY", 5_000, 1_000, 75_000, T0 + 2_000_000),
              _fill("f3", G1, "POLYMARKET", "TOK-KC", "YES", "SELL", 4_000, 400, 20_000, T0 + B + 1_000_000),
              _fill("f4", G2, "KALSHI", "K2-KC", "NO", "BUY", 3_000, 500, 30_000, T0 + 2 * B + 5_000_000)):
        st.on_fill(f)
    st.on_fill(dict(st.fills["f1"]))  # read twice: counted once
    return st


def test_realized_pnl_of_settled_games_equals_the_cash_recomputation() -> None:
    st = _stats()
    pnl, by_game = acceptance.realized(st)
    assert pnl["settled_games"] == {} and pnl["sum_matches"]  # nothing settled yet: G1's fees are realized, not settled
    assert pnl["total"] == "-0.595000"  # fees 0.07 + 0.075 + 0.02 + 0.03 and the unwind: 4 x (0.40 - 0.50) = -0.40
    _settle_g1(st, T0 + 3 * B)
    pnl, by_game = acceptance.realized(st)
    # by hand: paid 4.50 + 5.00, got 1.60 back, fees 0.195 - 0.03 (G2's); BUF won: 10 Kalshi YES pay 10.00, 6 KC tokens 0
    g1 = -4_500_000 - 5_000_000 + 1_600_000 - 165_000 + 10_000_000
    assert by_game == {G1: g1} and pnl["settled_games"] == {G1: "1.935000"}
    assert pnl["settled_sum"] == pnl["recomputed_sum"] == "1.935000" and pnl["sum_matches"] and pnl["mismatched_games"] == []
    assert pnl["total"] == "1.905000" and pnl["unsettled_games"] == "-0.030000"  # G2's fee
    assert acceptance.cash_flow_pnl(st.fills.values(), st.settlements) == {G1: g1}  # G2 holds an unpaid instrument: left out


def test_a_book_disagreeing_with_the_cash_recomputation_fails_the_pnl_check(monkeypatch: pytest.MonkeyPatch) -> None:
    st = _stats()
    _settle_g1(st, T0 + 3 * B)
    st.settlements["KALSHI:K-BUF"] = {**st.settlements["KALSHI:K-BUF"], "payout": 9_000}  # the Book pays 0.90 ...
    real_cash = acceptance.cash_flow_pnl
    monkeypatch.setattr(acceptance, "cash_flow_pnl",  # ... the recomputation 1.00
                        lambda fills, recs: real_cash(fills, {**recs, "KALSHI:K-BUF": {**recs["KALSHI:K-BUF"], "payout": 10_000}}))
    pnl, _ = acceptance.realized(st)
    assert not pnl["sum_matches"] and pnl["mismatched_games"] == [G1]
    life = acceptance.game_life(None, st)
    assert acceptance.verdicts([], 0, 1, 0, life, pnl)["pnl_sum"]["ok"] is False


def _outcome(sid: str, state: str, ts: int, reason: str | None = None) -> dict[str, Any]:
    return {"signal_id": sid, "game_id": G1, "state": state, "reason": reason, "matched_size": 0, "locked_profit": 0, "ts": ts}


def test_counts_per_bucket() -> None:
    st = _stats()
    for i, ts in enumerate((T0 - 5_000_000, T0 + 1, T0 + B - 1, T0 + B, T0 + 3 * B + 7)):  # one before the run: the first bucket
        st.signals[f"s{i}"] = {"signal_id": f"s{i}", "detected_ts": ts}
    st.on_order({"type": "ACK", "client_order_id": "c1", "signal_id": "s1", "step": 0, "sent_ts": T0 + 10, "acked_ts": T0 + 20})
    st.on_order({"type": "FILL", "client_order_id": "c1", "signal_id": "s1", "step": 0, "sent_ts": T0 + 10, "acked_ts": T0 + 30})  # one order
    st.on_order({"type": "ACK", "client_order_id": "c2", "signal_id": "s3", "step": 0, "sent_ts": T0 + B + 10, "acked_ts": None})
    st.on_outcome(_outcome("s1", "FILLED", T0 + 100))
    st.on_outcome(_outcome("s2", "EXPIRED", T0 + B - 1, "received 12 ms after its deadline"))
    st.on_outcome(_outcome("s3", "REJECTED", T0 + B + 5, "per-game exposure limit (1000.000000 USD)"))
    st.on_outcome(_outcome("s4", "REJECTED", T0 + B + 6, "total exposure limit (10000.000000 USD; partition 3's share ...)"))
    st.on_outcome(_outcome("s0", "REJECTED", T0 + B + 7, "insufficient KALSHI balance: need 5 USD, have 1 USD"))
    _settle_g1(st, T0 + 2 * B + 1)
    _, by_game = acceptance.realized(st)
    rows = acceptance.buckets(st, T0, B, T0 + 3 * B, by_game)
    assert [r["start_s"] for r in rows] == [0, 30, 60, 90]  # 3 buckets of the run, then the drain's partial one
    assert [r["signals"] for r in rows] == [3, 1, 0, 1]
    assert [r["orders"] for r in rows] == [1, 1, 0, 0]
    assert [r["fills"] for r in rows] == [2, 1, 1, 0]
    assert [r["expired"] for r in rows] == [1, 0, 0, 0]
    assert rows[1]["rejected"] == {"exposure limit": 2, "balance": 1} and rows[0]["rejected"] == {}
    assert [r["settled_games"] for r in rows] == [0, 0, 1, 0] and rows[2]["realized_pnl"] == "1.935000"
    assert acceptance.complete_buckets(T0, B, T0 + 3 * B) == 3 and acceptance.complete_buckets(T0, B, T0 + 3 * B - 1) == 2


def test_reason_classes() -> None:
    assert acceptance.reason_class("daily loss limit reached (-501.000000 USD today: realized ...)") == "daily loss limit"
    assert acceptance.reason_class("kill switch engaged: operator") == "kill switch"
    assert acceptance.reason_class("risk state unknown: fills of partition 2 not caught up since its assignment") == "risk state unknown"
    assert acceptance.reason_class("risk state not loaded yet (fills/settlements/positions)") == "risk state unknown"
    assert acceptance.reason_class("max orders per second (20)") == "order rate"
    assert acceptance.reason_class("leg 0: limit price 1.0000 is not strictly inside (0, 1)") == "signal checks"
    assert acceptance.reason_class("recomputed edge 0.001000 USD below the minimum 0.010000 USD") == "signal checks"
    assert acceptance.reason_class(None) == "other"


def _row(signals: int, fills: int) -> dict[str, Any]:
    return {"signals": signals, "fills": fills}


def test_verdicts_at_their_thresholds() -> None:
    life = {"finalized": 2, "settled": 2, "unsettled": []}
    pnl = {"settled_sum": "1.000000", "recomputed_sum": "1.000000", "sum_matches": True}
    v = acceptance.verdicts([_row(100, 50), _row(90, 45), _row(80, 40), _row(3, 1)], 3, 1000, 20, life, pnl)
    assert v["last_over_first"]["ok"] is True and v["last_over_first"]["signals"] == 0.8  # the partial 4th bucket is not the last
    assert v["expired_share"]["ok"] is True and v["expired_share"]["share"] == 0.02
    assert v["ended_games_settled"]["ok"] is True and v["pnl_sum"]["ok"] is True
    assert acceptance.verdicts([_row(100, 50), _row(79, 45)], 2, 1000, 20, life, pnl)["last_over_first"]["ok"] is False
    assert acceptance.verdicts([_row(100, 50), _row(80, 39)], 2, 1000, 20, life, pnl)["last_over_first"]["ok"] is False
    assert acceptance.verdicts([_row(100, 50), _row(80, 40)], 2, 1000, 21, life, pnl)["expired_share"]["ok"] is False
    assert acceptance.verdicts([_row(100, 50)], 1, 0, 0, life, pnl)["last_over_first"]["ok"] is None  # one complete bucket: cannot tell
    unsettled = {"finalized": 2, "settled": 1, "unsettled": [G2]}
    assert acceptance.verdicts([], 0, 1, 0, unsettled, pnl)["ended_games_settled"]["ok"] is False
    assert acceptance.verdicts([], 0, 1, 0, {"finalized": 0, "settled": 0, "unsettled": []}, pnl)["ended_games_settled"]["ok"] is None


def test_game_life_from_the_simulator_and_the_records() -> None:
    st = _stats()
    st.on_pairing(G1, None)  # withdrawn when it stopped trading: still known, still settles
    sim_games: list[dict[str, Any]] = [{"game_id": G1, "life": {"phase": "finalized"}}, {"game_id": G2, "life": {"phase": "finalized"}},
                 {"game_id": "nba-x", "life": {"phase": "determined"}}, {"game_id": "nba-y", "life": {"phase": "closed"}},
                 {"game_id": "nba-z", "life": {"phase": "open"}}, {"game_id": "nba-w"}]
    life = acceptance.game_life(sim_games, st)
    assert life == {"paired": 2, "withdrawn": 1, "settled": 0, "listed": 6, "ended": 4, "resolved": 3, "finalized": 2, "unsettled": [G1, G2]}
    _settle_g1(st, T0)
    st.on_settlement(_settlement(G2, "KALSHI", "K2-BUF", "K2-BUF", 0, T0))  # G2: one market of four
    life = acceptance.game_life(sim_games, st)
    assert life["settled"] == 1 and life["unsettled"] == [G2]
    assert acceptance.settled_at(st.pairings, st.settlements) == {G1: T0}


def test_a_settled_position_the_simulator_no_longer_holds_is_not_drift() -> None:
    st = _stats()
    pairings = st.pairings
    fills = list(st.fills.values())
    held = expected_sim_positions(fills, pairings)
    # Kalshi nets a market's YES and NO; Polymarket holds each token apart (TOK-KC: token 1 of 0xcond, 600 shares)
    assert held == {("KALSHI", "K-BUF"): 1_000, ("POLYMARKET", "TOK-KC"): 600, ("KALSHI", "K2-KC"): -500}
    _settle_g1(st, T0)
    # the simulator paid G1's books out (Kalshi finalized, Polymarket redeemed at once): it holds only G2's leg
    venue = {("KALSHI", "K2-KC"): -500}
    paid = paid_books(st.settlements.values(), poly_redeemed=True)
    assert paid == {("KALSHI", "K-BUF"), ("KALSHI", "K-KC"), ("POLYMARKET", "0xcond")}
    assert drift(expected_sim_positions(fills, pairings, paid), venue) == {}
    assert drift(held, venue) == {"KALSHI:K-BUF": {"ours": 1_000, "venue": 0}, "POLYMARKET:TOK-KC": {"ours": 600, "venue": 0}}
    # a position the simulator paid without our record is a drift; winning shares left to redeem by hand stay held
    assert drift(expected_sim_positions(fills, pairings, {("POLYMARKET", "0xcond")}), venue) == {"KALSHI:K-BUF": {"ours": 1_000, "venue": 0}}
    manual = paid_books(st.settlements.values(), poly_redeemed=False)
    assert manual == {("KALSHI", "K-BUF"), ("KALSHI", "K-KC")}
    assert expected_sim_positions(fills, pairings, manual) == {("POLYMARKET", "TOK-KC"): 600, ("KALSHI", "K2-KC"): -500}


def test_the_view_shows_the_games_life_line() -> None:
    from demo.view import render

    line = "games listed 6   paired 6   ended 1   resolved 1   settled 1   realized P&L 1.935000 USD (settled games)"
    text = render(_stats(), elapsed_s=1, duplicates=0, life=line).splitlines()
    assert text[2] == line and render(_stats(), elapsed_s=1, duplicates=0).splitlines()[2] == ""
