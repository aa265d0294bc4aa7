"""Positions folded from fills: hand-computed numbers, idempotence, one-sided holdings, settlement."""

from __future__ import annotations

from typing import Any

from positions.fold import Book, locked_profit, position_record

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
    rec = position_record(k, 4700, 5)
    assert rec["unrealized_pnl"] == 4700 * 1000 - 4_500_000 and rec["key"] == "KALSHI:K-BUF:YES"


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
