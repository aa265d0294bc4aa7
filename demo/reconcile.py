"""Compare the positions implied by our `fills` with the simulator's ground truth (pure).

At settlement the simulator pays a position out and closes it (simulators/world.py Account.settle): Kalshi's
at `finalized`, Polymarket's (both tokens) at resolution when winning shares are redeemed at once (ARB_SIM_POLY_REDEEM=auto).
Discovery publishes a market's Settlement record only once the venue shows it final, so a book with a record
is one the simulator no longer holds: not a drift. A book the simulator paid without our record is one."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def paid_books(settlements: Iterable[Mapping[str, Any]], *, poly_redeemed: bool) -> set[tuple[str, str]]:
    """(venue, book) the simulator has paid out and closed, from Settlement records: every Kalshi ticker with one,
    and the condition id of a Polymarket token with one when the simulator redeems winning shares at once."""
    out: set[tuple[str, str]] = set()
    for rec in settlements:
        if rec["venue"] == "KALSHI":
            out.add(("KALSHI", str(rec["market"])))
        elif poly_redeemed:
            out.add(("POLYMARKET", str(rec["book"])))
    return out


def expected_sim_positions(fills: list[dict[str, Any]], pairings: Mapping[str, Mapping[str, Any]],
                           paid: set[tuple[str, str]] | None = None) -> dict[tuple[str, str], int]:
    """Quantity per (venue, instrument) as the simulator keeps it: Kalshi + YES / - NO per ticker (the venue nets a
    market's YES and NO), Polymarket the shares of each token (a condition's two tokens are held apart); none in a
    `paid` book (a Kalshi ticker, a Polymarket condition id). `pairings` must include the games withdrawn since
    (their tokens still name their books)."""
    token_book: dict[str, str] = {}
    for p in pairings.values():
        for b in p["books"]:
            if b["venue"] == "POLYMARKET":
                for inst in b["instruments"]:
                    token_book[inst["market"]] = b["market"]
    out: dict[tuple[str, str], int] = {}
    for f in fills:
        signed = f["size"] if f["action"] == "BUY" else -f["size"]
        if f["venue"] == "KALSHI":
            key, book, qty = ("KALSHI", f["market"]), f["market"], signed if f["side"] == "YES" else -signed
        else:
            key, book, qty = ("POLYMARKET", f["market"]), token_book.get(f["market"], f["market"]), signed
        if (f["venue"], book) not in (paid or set()):
            out[key] = out.get(key, 0) + qty
    return {k: v for k, v in out.items() if v != 0}


def sim_positions(accounts: dict[str, Any], kalshi_account: str, poly_account: str) -> dict[tuple[str, str], int]:
    """From the simulator admin `GET /accounts` answer (Kalshi per ticker, Polymarket per token)."""
    out: dict[tuple[str, str], int] = {}
    for venue, account in (("KALSHI", kalshi_account), ("POLYMARKET", poly_account.lower())):
        acct = (accounts.get(venue.lower()) or {}).get(account) or {}
        for book, pos in (acct.get("positions") or {}).items():
            if pos.get("qty"):
                out[(venue, book)] = int(pos["qty"])
    return out


def drift(ours: dict[tuple[str, str], int], theirs: dict[tuple[str, str], int]) -> dict[str, dict[str, int]]:
    return {f"{v}:{b}": {"ours": ours.get((v, b), 0), "venue": theirs.get((v, b), 0)}
            for v, b in sorted(set(ours) | set(theirs)) if ours.get((v, b), 0) != theirs.get((v, b), 0)}
