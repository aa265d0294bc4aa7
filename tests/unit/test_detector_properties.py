"""Property: no signal is ever emitted whose profit after fees, recomputed independently from its legs
(limit price x size, one fill per leg at the limit, the fee module's formulas), is <= 0."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.fees import taker_fee
from core.units import ONE_DOLLAR
from processors.detector import detect_all
from processors.settings import DetectorSettings
from tests.factories import pairing, tick

MARKETS = [("K-BUF", "KALSHI"), ("K-KC", "KALSHI"), ("TOK-BUF", "POLYMARKET"), ("TOK-KC", "POLYMARKET")]
levels = st.lists(st.tuples(st.integers(1, 9999), st.integers(1, 10**6)), max_size=4)


@st.composite
def tick_stream(draw: st.DrawFn) -> list[dict]:
    out = []
    for i in range(draw(st.integers(1, 12))):
        market, venue = draw(st.sampled_from(MARKETS))
        out.append(tick(market, venue=venue, bids=draw(levels), asks=draw(levels), ts=1_000_000 + i * 1000, seq=i))
    return out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tick_stream(), st.booleans(), st.integers(0, 200))
def test_no_signal_is_unprofitable(ticks: list[dict], whole: bool, min_pc: int) -> None:
    p = pairing()
    fees = {inst["market"]: book["fee"] for book in p["books"] for inst in book["instruments"]}
    s = DetectorSettings(min_edge_money=1, min_edge_per_contract=min_pc, whole_contracts=whole, max_signal_size=10**7)
    for sig in detect_all(ticks, {p["game_id"]: p}, s):
        assert len({leg["size"] for leg in sig["legs"]}) == 1
        cost = sum(leg["limit_price"] * leg["size"] + taker_fee(fees[leg["market"]], leg["limit_price"], leg["size"]) for leg in sig["legs"])
        assert ONE_DOLLAR * sig["size"] - cost > 0, sig
        assert sig["edge"] <= ONE_DOLLAR * sig["size"] - cost  # the signal never overstates its edge
        books = [leg["book"] for leg in sig["legs"]]
        assert len(set(books)) == len(books)  # never two legs on one book
