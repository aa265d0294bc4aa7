"""Hard limits the executor enforces by itself, whatever a signal claims (issue 26). Pure.

A signal is checked against the executor's own view of the game (its pairing on `markets`) and of each
market's live tick, never against the numbers the signal carries:
- every leg is an instrument of the game's pairing, and the legs (by the pairing's `pays_on`) cover every
  outcome: otherwise the payout of 1 USD per contract the edge assumes does not exist;
- contracts per order (each leg) and per signal (all legs together) are capped;
- limit prices are strictly inside (0, 1) USD and on the market's live tick;
- each leg's fee is at least the fee module's (core/fees.py `taker_fee`, the pairing's FeeParams), the
  signal's cost and edge equal what its legs add up to, and the edge recomputed with the executor's own
  fees clears the detector's minimums (processors/settings.py DetectorSettings: the same settings, the same
  rule as processors/detector.py `size_cover`: `min_edge_money` on the edge, `min_edge_per_contract` (plus
  `delayed_extra_edge` on a delayed Polymarket book) after the per-fill rounding bound `multi_fill_margin`).
The recomputation charges each leg as one fill at its limit; the detector charges the larger of that and
its per-chunk fees, so every signal the detector emits passes.

`worst_case_cost` is what each venue's balance must cover (executor/balances.py), and `unwind_price` keeps
every unwind step of the leg-risk policy within the configured maximum loss per contract.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from core.fees import multi_fill_margin, taker_fee
from core.units import ONE_DOLLAR, format_money, format_price, format_size
from schemas.records import BookRef, Instrument, Leg, MarketPairing, Signal
from venues.polymarket.constants import TICK_SIZES as POLY_TICK_SIZES


@dataclass(frozen=True)
class Limits:
    max_contracts_per_order: int  # 1e-2 contracts
    max_contracts_per_signal: int  # 1e-2 contracts, all legs together
    min_edge_money: int  # 1e-6 USD
    min_edge_per_contract: int  # 1e-4 USD
    delayed_extra_edge: int = 0  # 1e-4 USD per contract, with a delayed Polymarket book
    fills_per_leg: int = 1


@dataclass(frozen=True)
class Checked:
    """A rejection reason, or None with each venue's worst-case cost (1e-6 USD) of the signal."""

    reason: str | None
    venue_cost: Mapping[str, int]


LiveTick = Callable[[str], "int | None"]  # Tick.market -> tick_size of its latest Tick (None/0: unknown)
Found = tuple[BookRef, Instrument]  # the pairing's book and instrument a leg names


def _reject(reason: str) -> Checked:
    return Checked(reason, {})


def find_leg(pairing: MarketPairing, leg: Leg) -> Found | None:
    """The pairing's (book, instrument) that a leg names by venue, book, market and side."""
    for book in pairing.books:
        if book.venue != leg.venue or book.market != leg.book:
            continue
        for inst in book.instruments:
            if inst.market == leg.market and inst.side == leg.side:
                return book, inst
    return None


def tick_of(book: BookRef, market: str, live_tick: LiveTick | None) -> int:
    """The tick an order on `market` must be on (1e-4 USD). Polymarket: the latest Tick's (the feed follows
    `tick_size_change`) when it is a valid one, as executor/polymarket_transport.py signs with; else, and on
    Kalshi (its WS carries no tick: venues/kalshi/book.py), discovery's: the coarsest step of the market's
    `price_ranges` (producers/discovery/kalshi_source.py `tick_size`)."""
    if book.venue == "POLYMARKET" and live_tick is not None:
        live = live_tick(market)
        if live is not None and live in POLY_TICK_SIZES:
            return live
    return book.tick_size


def leg_fee(book: BookRef, price: int, size: int) -> int:
    """The fee module's taker fee of one leg filled in one fill at its limit (1e-6 USD)."""
    return taker_fee(book.fee, price, size)


def check_signal(signal: Signal, pairing: MarketPairing | None, limits: Limits, live_tick: LiveTick | None = None) -> Checked:
    legs = list(signal.legs)
    if not legs:
        return _reject("no legs")
    if pairing is None:
        return _reject(f"unknown game {signal.game_id}: not on `markets`, its legs cannot be checked")
    size = signal.size
    if size <= 0:
        return _reject(f"size {format_size(size)} is not positive")
    found: list[Found] = []
    for i, leg in enumerate(legs):
        hit = find_leg(pairing, leg)
        if hit is None:
            return _reject(f"leg {i}: {leg.venue} {leg.market} {leg.side} is not an instrument of game {signal.game_id}")
        found.append(hit)
        if leg.size != size:
            return _reject(f"leg {i}: size {format_size(leg.size)} differs from the signal's {format_size(size)}")
    if len({(b.venue, b.market) for b, _ in found}) < len(found):
        return _reject("two legs on one book")
    outcomes = set(pairing.outcomes)
    covered: set[str] = set().union(*(set(inst.pays_on) for _, inst in found))
    if not outcomes <= covered:
        return _reject(f"legs do not cover every outcome (missing {', '.join(sorted(outcomes - covered))}): no sure payout")
    if size > limits.max_contracts_per_order:
        return _reject(f"size {format_size(size)} contracts per order over the cap {format_size(limits.max_contracts_per_order)}")
    total = size * len(legs)
    if total > limits.max_contracts_per_signal:
        return _reject(f"{format_size(total)} contracts in the signal over the cap {format_size(limits.max_contracts_per_signal)}")
    for i, (leg, (book, _)) in enumerate(zip(legs, found, strict=True)):
        price = leg.limit_price
        if not 0 < price < ONE_DOLLAR:
            return _reject(f"leg {i}: limit price {format_price(price)} is not strictly inside (0, 1)")
        tick = tick_of(book, leg.market, live_tick)
        if tick <= 0:
            return _reject(f"leg {i}: tick of {leg.market} unknown")
        if price % tick:
            return _reject(f"leg {i}: limit price {format_price(price)} is off the market's tick {format_price(tick)}")
    fees = [leg_fee(book, leg.limit_price, size) for leg, (book, _) in zip(legs, found, strict=True)]
    for i, (leg, fee) in enumerate(zip(legs, fees, strict=True)):
        if leg.expected_fee < fee:
            return _reject(f"leg {i}: expected fee {format_money(leg.expected_fee)} USD below the fee module's {format_money(fee)} USD")
    notional = sum(leg.limit_price for leg in legs) * size
    claimed = notional + sum(leg.expected_fee for leg in legs)
    if signal.cost != claimed:
        return _reject(f"cost {format_money(signal.cost)} USD does not match its legs ({format_money(claimed)} USD)")
    if signal.edge != ONE_DOLLAR * size - claimed:
        return _reject(f"edge {format_money(signal.edge)} USD does not match its legs ({format_money(ONE_DOLLAR * size - claimed)} USD)")
    edge = ONE_DOLLAR * size - notional - sum(fees)
    if edge < limits.min_edge_money or edge <= 0:
        return _reject(f"recomputed edge {format_money(edge)} USD below the minimum {format_money(limits.min_edge_money)} USD")
    margin = sum(multi_fill_margin(book.fee, size, limits.fills_per_leg) for book, _ in found)
    per_contract = limits.min_edge_per_contract + (limits.delayed_extra_edge if any(b.seconds_delay > 0 for b, _ in found) else 0)
    if edge - margin < per_contract * size:
        return _reject(f"recomputed edge {format_money(edge - margin)} USD after per-fill rounding below {format_price(per_contract)} "
                       f"USD per contract")
    return Checked(None, worst_case_cost(legs, found, size, limits.fills_per_leg))


def worst_case_cost(legs: list[Leg], found: list[Found], size: int, fills_per_leg: int) -> dict[str, int]:
    """Per venue, the most its legs can take from the balance: every contract at the limit, plus the larger of
    the claimed and the recomputed fee, plus the per-fill rounding bound (1e-6 USD)."""
    out: dict[str, int] = {}
    for leg, (book, _) in zip(legs, found, strict=True):
        price = leg.limit_price
        fee = max(leg.expected_fee, leg_fee(book, price, size)) + multi_fill_margin(book.fee, size, fills_per_leg)
        out[leg.venue] = out.get(leg.venue, 0) + price * size + fee
    return out


def unwind_price(entry: int, step: int, tick: int, max_loss: int) -> int:
    """Limit of unwind step `step` (1, 2, ...) selling what was bought at `entry` (all 1e-4 USD): `step` ticks
    below the entry, on the tick, never below entry - max_loss (ceiled to the tick, so the rounding cannot
    cross it), and strictly inside (0, 1): at least one tick, at most 1 USD - one tick (only an entry within a
    tick of 1 USD with a max loss under a tick has no price on the grid within the bound)."""
    ladder = (entry - step * tick) // tick * tick
    floor = -(-(entry - max_loss) // tick) * tick
    return min(ONE_DOLLAR - tick, max(tick, ladder, floor))
