"""Property: no signal is ever emitted whose profit after fees, recomputed independently from its legs
(limit price x size, one fill per leg at the limit, the venues' published fee rules written out here in
Decimal arithmetic rather than taken from core/fees.py), is <= 0.

Kalshi: trade fee = ceil_6dp(0.07 x multiplier x C x P x (1 - P)); the balance change -(C x P) - trade fee is
floored to the member's precision ($0.01 non-direct, $0.0001 direct) and the difference is a rounding fee
(https://docs.kalshi.com/getting_started/fee_rounding). Polymarket: C x rate x (P(1 - P))^exponent rounded to
$0.00001, rate and exponent per market (CLOB `fd`); an immediate BUY's amounts must fit 2 / 4 decimals.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from unittest import mock

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core import fees
from core.units import ONE_DOLLAR
from processors.detector import detect_all
from processors.settings import DetectorSettings
from tests.factories import pairing, tick
from venues.polymarket import amounts

MARKETS = [("K-BUF", "KALSHI"), ("K-KC", "KALSHI"), ("TOK-BUF", "POLYMARKET"), ("TOK-KC", "POLYMARKET")]
levels = st.lists(st.tuples(st.integers(1, 9999), st.integers(1, 10**6)), max_size=4)
MEMBERS = {"non_direct": Decimal("0.01"), "direct": Decimal("0.0001")}
USD = Decimal("0.000001")


def kalshi_fee(price: int, size: int, multiplier_ppm: int, precision: Decimal) -> Decimal:
    p, c, m = Decimal(price) / 10_000, Decimal(size) / 100, Decimal(multiplier_ppm) / 1_000_000
    trade = (Decimal("0.07") * m * c * p * (1 - p)).quantize(USD, rounding=ROUND_CEILING)
    change = -(c * p) - trade
    aligned = (change / precision).to_integral_value(rounding=ROUND_FLOOR) * precision
    return trade + (change - aligned)


def polymarket_fee(price: int, size: int, rate_ppm: int, exponent: int) -> Decimal:
    p, c, r = Decimal(price) / 10_000, Decimal(size) / 100, Decimal(rate_ppm) / 1_000_000
    return (c * r * (p * (1 - p)) ** exponent).quantize(Decimal("0.00001"), rounding=ROUND_HALF_UP)


def real_fee(fee: dict, price: int, size: int, member: str) -> Decimal:
    if fee["model"] == "KALSHI_QUADRATIC":
        return kalshi_fee(price, size, fee["multiplier_ppm"], MEMBERS[member])
    if fee["model"] == "POLYMARKET_POWER":
        return polymarket_fee(price, size, fee["rate_ppm"], fee["exponent"])
    return Decimal(0)


@st.composite
def tick_stream(draw: st.DrawFn) -> list[dict]:
    out = []
    for i in range(draw(st.integers(1, 12))):
        market, venue = draw(st.sampled_from(MARKETS))
        out.append(tick(market, venue=venue, bids=draw(levels), asks=draw(levels), ts=1_000_000 + i * 1000, seq=i))
    return out


fee_params = st.tuples(st.sampled_from([0, 500_000, 1_000_000, 1_500_000]),  # Kalshi multiplier (0: a fee waiver)
                       st.sampled_from([0, 30_000, 50_000, 70_000]), st.sampled_from([1, 2]))  # Polymarket fd.r, fd.e


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tick_stream(), st.booleans(), st.integers(0, 200), st.sampled_from(sorted(MEMBERS)), fee_params)
def test_no_signal_is_unprofitable(ticks: list[dict], whole: bool, min_pc: int, member: str, fp: tuple[int, int, int]) -> None:
    mult, rate, exponent = fp
    p = pairing(kalshi_fee={**fees_of("KALSHI_QUADRATIC"), "multiplier_ppm": mult},
                poly_fee={**fees_of("POLYMARKET_POWER"), "rate_ppm": rate, "exponent": exponent})
    fee_of = {inst["market"]: book["fee"] for book in p["books"] for inst in book["instruments"]}
    venue_of = {inst["market"]: book["venue"] for book in p["books"] for inst in book["instruments"]}
    s = DetectorSettings(min_edge_money=1, min_edge_per_contract=min_pc, whole_contracts=whole, max_signal_size=10**7)
    with mock.patch.object(fees, "configured_precision", lambda: fees.member_precision(member)):
        signals = detect_all(ticks, {p["game_id"]: p}, s)
    for sig in signals:
        assert len({leg["size"] for leg in sig["legs"]}) == 1
        cost = sum(Decimal(leg["limit_price"] * leg["size"]) * USD + real_fee(fee_of[leg["market"]], leg["limit_price"], leg["size"], member)
                   for leg in sig["legs"])
        profit = Decimal(ONE_DOLLAR * sig["size"]) * USD - cost
        assert profit > 0, sig
        assert Decimal(sig["edge"]) * USD <= profit  # the signal never overstates its edge
        books = [leg["book"] for leg in sig["legs"]]
        assert len(set(books)) == len(books)  # never two legs on one book
        for leg in sig["legs"]:
            if venue_of[leg["market"]] == "POLYMARKET":
                assert amounts.fak_ok("BUY", leg["limit_price"], leg["size"])  # an immediate order the venue accepts


def fees_of(model: str) -> dict:
    return {"model": model, "rate_ppm": 70_000 if model == "KALSHI_QUADRATIC" else 30_000, "multiplier_ppm": 1_000_000, "exponent": 1}
