"""Compare the positions implied by our `fills` with the simulator's ground truth (pure)."""

from __future__ import annotations

from typing import Any


def expected_sim_positions(fills: list[dict[str, Any]], pairings: dict[str, dict[str, Any]]) -> dict[tuple[str, str], int]:
    """Signed primary-instrument quantity per (venue, book) as the simulator keeps it:
    Kalshi + YES / - NO per ticker; Polymarket + token 0 / - token 1 per condition id."""
    token_book: dict[str, tuple[str, int]] = {}
    for p in pairings.values():
        for b in p["books"]:
            if b["venue"] == "POLYMARKET":
                for i, inst in enumerate(b["instruments"]):
                    token_book[inst["market"]] = (b["market"], i)
    out: dict[tuple[str, str], int] = {}
    for f in fills:
        signed = f["size"] if f["action"] == "BUY" else -f["size"]
        if f["venue"] == "KALSHI":
            key, qty = ("KALSHI", f["market"]), signed if f["side"] == "YES" else -signed
        else:
            book, index = token_book.get(f["market"], (f"token:{f['market']}", 0))
            key, qty = ("POLYMARKET", book), signed if index == 0 else -signed
        out[key] = out.get(key, 0) + qty
    return {k: v for k, v in out.items() if v != 0}


def sim_positions(accounts: dict[str, Any], kalshi_account: str, poly_account: str) -> dict[tuple[str, str], int]:
    """From the simulator admin `GET /accounts` answer."""
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
