"""Leg-risk policy: the excess is always handled on the leg that has it, matched by leg index."""

import pytest

from executor.orders import LegResult, OrderRequest, step_request
from executor.settlement import Settler
from schemas.records import Signal

# The policy reads the signal's deadline, and its outcome the signal's id and game; orders come from the legs below.
SIG = Signal(signal_id="sig", game_id="nfl-20261129-buf-kc", legs=[], size=1000, cost=0, edge=0, event_ts=0, deadline_ts=1_000_000,
             input_tick_ids=[], input_received_ts=[], detected_ts=0)
NOW_BEFORE, NOW_AFTER = 500_000, 2_000_000

# Every candidate combination of the detector: (venue, side) of leg 0 and leg 1.
COMBOS = {
    "kalshi_yes+poly_token": (("KALSHI", "YES"), ("POLYMARKET", "YES")),
    "kalshi_no+poly_token": (("KALSHI", "NO"), ("POLYMARKET", "YES")),
    "kalshi_yes+kalshi_yes": (("KALSHI", "YES"), ("KALSHI", "YES")),
    "kalshi_no+kalshi_no": (("KALSHI", "NO"), ("KALSHI", "NO")),
}


def _legs(combo: str, size: int = 1000) -> list[OrderRequest]:
    return [OrderRequest(f"sig:{i}:0", "sig", SIG.game_id, i, 0, venue, f"M{i}", f"B{i}", side, "BUY", [4500, 5200][i], size, SIG.deadline_ts)
            for i, (venue, side) in enumerate(COMBOS[combo])]


def _fill(req: OrderRequest, filled: int, price: int | None = None) -> LegResult:
    p = req.limit_price if price is None else price
    return LegResult("FILL" if filled else "CANCELLED", filled=filled, fill_cost=p * filled, fee=0)


@pytest.mark.parametrize("combo", COMBOS)
@pytest.mark.parametrize("short_leg", [0, 1])
def test_one_sided_fill_completes_the_short_leg_by_index(combo: str, short_leg: int) -> None:
    legs = _legs(combo)
    results = {legs[i].client_order_id: _fill(legs[i], 0 if i == short_leg else 1000) for i in (1, 0)}  # arrival order irrelevant
    steps = Settler().next_steps(SIG, legs, [], results, NOW_BEFORE)
    assert [(s.leg_index, s.action, s.size, s.limit_price, s.step) for s in steps] == [(short_leg, "BUY", 1000, legs[short_leg].limit_price, 1)]
    assert steps[0].client_order_id == f"sig:{short_leg}:1"
    assert (steps[0].venue, steps[0].side, steps[0].market) == (legs[short_leg].venue, legs[short_leg].side, legs[short_leg].market)


@pytest.mark.parametrize("combo", COMBOS)
@pytest.mark.parametrize("long_leg", [0, 1])
def test_after_the_deadline_the_excess_is_unwound_on_the_long_leg(combo: str, long_leg: int) -> None:
    legs = _legs(combo)
    results = {legs[i].client_order_id: _fill(legs[i], 1000 if i == long_leg else 400) for i in (0, 1)}
    steps = Settler(tick=100).next_steps(SIG, legs, [], results, NOW_AFTER)
    assert [(s.leg_index, s.action, s.size) for s in steps] == [(long_leg, "SELL", 600)]
    assert steps[0].limit_price == legs[long_leg].limit_price - 100  # one tick under the entry average
    # past the signal's deadline, the unwind has a deadline of its own (it must still be sent)
    assert steps[0].deadline_us == NOW_AFTER + Settler().unwind_ttl_us > legs[long_leg].deadline_us


def test_unwind_walks_down_to_the_max_loss_then_gives_up_as_unknown() -> None:
    legs = _legs("kalshi_yes+poly_token")
    st = Settler(tick=100, unwind_steps=10, max_unwind_loss=250)
    results = {legs[0].client_order_id: _fill(legs[0], 1000), legs[1].client_order_id: _fill(legs[1], 0)}
    steps: list[OrderRequest] = []
    prices = []
    for _ in range(12):
        nxt = st.next_steps(SIG, legs, steps, results, NOW_AFTER)
        if not nxt:
            break
        for s in nxt:
            prices.append(s.limit_price)
            results[s.client_order_id] = LegResult("CANCELLED")  # nobody buys
            steps.append(s)
    # floor: entry 4500 - 250 ceiled to the tick grid (4300): flooring it (4200) would lose more than the max loss (issue 26)
    assert prices[:3] == [4400, 4300, 4300] and min(prices) == 4300
    assert len(prices) == 10
    out = st.outcome(SIG, legs, steps, results, paper=False, ts=1)
    assert out.state == "UNKNOWN" and "imbalance" in out.reason


def test_completion_then_filled_is_completed_with_profit() -> None:
    legs = _legs("kalshi_no+poly_token")
    st = Settler()
    results = {legs[0].client_order_id: _fill(legs[0], 1000), legs[1].client_order_id: _fill(legs[1], 300)}
    (step,) = st.next_steps(SIG, legs, [], results, NOW_BEFORE)
    results[step.client_order_id] = _fill(step, 700)
    assert st.next_steps(SIG, legs, [step], results, NOW_BEFORE) == []
    out = st.outcome(SIG, legs, [step], results, paper=False, ts=1)
    assert out.state == "COMPLETED" and out.matched_size == 1000
    assert out.cost == (4500 + 5200) * 1000 and out.locked_profit == 10000 * 1000 - (4500 + 5200) * 1000


def test_polymarket_extra_shares_below_min_size_are_dust() -> None:
    legs = _legs("kalshi_yes+poly_token")
    st = Settler()
    # the Polymarket BUY matched at a better price: 10.37 shares for 10 contracts on Kalshi
    results = {legs[0].client_order_id: _fill(legs[0], 1000), legs[1].client_order_id: _fill(legs[1], 1037, 5000)}
    assert st.next_steps(SIG, legs, [], results, NOW_BEFORE) == []
    out = st.outcome(SIG, legs, [], results, paper=False, ts=1)
    assert out.state == "FILLED" and "dust" in out.reason


def test_kalshi_excess_is_never_dust_and_kalshi_steps_are_whole_contracts() -> None:
    legs = _legs("kalshi_yes+poly_token")
    st = Settler()
    results = {legs[0].client_order_id: _fill(legs[0], 1250), legs[1].client_order_id: _fill(legs[1], 1000)}
    # before the deadline: complete the Polymarket leg (any share size)
    (step,) = st.next_steps(SIG, legs, [], results, NOW_BEFORE)
    assert (step.leg_index, step.action, step.size) == (1, "BUY", 250)
    # after it: unwind on Kalshi in whole contracts only; the 0.5-contract remainder is reported, not hidden
    (step,) = st.next_steps(SIG, legs, [], results, NOW_AFTER)
    assert (step.leg_index, step.action, step.size) == (0, "SELL", 200)
    results[step.client_order_id] = _fill(step, 200, 4400)
    assert st.next_steps(SIG, legs, [step], results, NOW_AFTER) == []
    assert st.outcome(SIG, legs, [step], results, paper=False, ts=1).state == "UNKNOWN"


@pytest.mark.parametrize(("fills", "state"), [((1000, 1000), "FILLED"), ((400, 400), "PARTIAL_BALANCED"), ((0, 0), "NOT_FILLED")])
def test_balanced_outcomes(fills: tuple[int, int], state: str) -> None:
    legs = _legs("kalshi_yes+kalshi_yes")
    results = {leg.client_order_id: _fill(leg, f) for leg, f in zip(legs, fills, strict=True)}
    assert Settler().next_steps(SIG, legs, [], results, NOW_BEFORE) == []
    assert Settler().outcome(SIG, legs, [], results, paper=False, ts=1).state == state


@pytest.mark.parametrize("now", [NOW_BEFORE, NOW_AFTER])
def test_an_unknown_leg_does_not_freeze_the_known_ones(now: int) -> None:
    """Issue 24 defect 5: a filled sibling of an UNKNOWN leg is unwound (never left one-sided), and the
    UNKNOWN leg is never bought again (if it did fill, a second buy would double it)."""
    legs = _legs("kalshi_yes+poly_token")
    results = {legs[0].client_order_id: _fill(legs[0], 1000), legs[1].client_order_id: LegResult("UNKNOWN")}
    steps = Settler().next_steps(SIG, legs, [], results, now)
    assert [(s.leg_index, s.action, s.size) for s in steps] == [(0, "SELL", 1000)]
    results[steps[0].client_order_id] = LegResult("FILL", filled=1000, fill_cost=4400 * 1000)
    assert Settler().next_steps(SIG, legs, steps, results, now) == []
    out = Settler().outcome(SIG, legs, steps, results, paper=False, ts=1)
    assert out.state == "UNKNOWN" and "sig:1:0" in out.reason


def test_a_pending_leg_holds_every_decision_until_it_is_final() -> None:
    """A Polymarket `delayed` order (ACK) may still fill: no completion or unwind, outcome PENDING."""
    legs = _legs("kalshi_yes+poly_token")
    results = {legs[0].client_order_id: _fill(legs[0], 1000), legs[1].client_order_id: LegResult("ACK")}
    for now in (NOW_BEFORE, NOW_AFTER):
        assert Settler().next_steps(SIG, legs, [], results, now) == []
    assert Settler().outcome(SIG, legs, [], results, paper=False, ts=1).state == "PENDING"
    results[legs[1].client_order_id] = _fill(legs[1], 1000)
    assert Settler().outcome(SIG, legs, [], results, paper=False, ts=1).state == "FILLED"


def test_step_ids_are_deterministic() -> None:
    legs = _legs("kalshi_yes+poly_token")
    assert step_request(legs[1], 3, "SELL", 100, 100).client_order_id == step_request(legs[1], 3, "SELL", 100, 100).client_order_id


def test_unhedged_counts_the_known_excess_and_every_unknown_order() -> None:
    legs = _legs("kalshi_yes+poly_token")
    results = {legs[0].client_order_id: _fill(legs[0], 1000), legs[1].client_order_id: LegResult("UNKNOWN")}
    assert Settler().unhedged(legs, [], results) == {"KALSHI": 1000, "POLYMARKET": 1000}
    results = {legs[0].client_order_id: _fill(legs[0], 1000), legs[1].client_order_id: _fill(legs[1], 1000)}
    assert Settler().unhedged(legs, [], results) == {}


def test_an_unwind_step_that_never_left_does_not_use_up_the_ladder() -> None:
    """Seen in `arb bench chaos --scenario venue-ambiguity`: with the venue's breaker open, all unwind steps were
    refused locally within milliseconds and the filled leg stayed one-sided. A step that was not sent keeps the
    ladder where it was (same price next time); such steps are capped so the policy still ends."""
    legs = _legs("kalshi_yes+poly_token")
    st = Settler(tick=100, unwind_steps=2, max_unsent_steps=3)
    results = {legs[0].client_order_id: _fill(legs[0], 1000), legs[1].client_order_id: _fill(legs[1], 0)}
    steps: list[OrderRequest] = []
    prices = []
    for _ in range(10):
        nxt = st.next_steps(SIG, legs, steps, results, NOW_AFTER)
        if not nxt:
            break
        prices.append(nxt[0].limit_price)
        results[nxt[0].client_order_id] = LegResult("REJECT", reason="not sent: KALSHI circuit breaker open")
        steps += nxt
    assert prices == [4400, 4400, 4400]  # three tries at the first rung, then the cap
    sent = LegResult("CANCELLED", reason=None)  # a step that reached the venue and found no bid moves down a rung
    steps2: list[OrderRequest] = []
    results2 = {legs[0].client_order_id: _fill(legs[0], 1000), legs[1].client_order_id: _fill(legs[1], 0)}
    prices2 = []
    for _ in range(10):
        nxt = st.next_steps(SIG, legs, steps2, results2, NOW_AFTER)
        if not nxt:
            break
        prices2.append(nxt[0].limit_price)
        results2[nxt[0].client_order_id] = sent
        steps2 += nxt
    assert prices2 == [4400, 4300]


def test_a_leg_whose_unwind_sell_is_unknown_is_never_sold_again() -> None:
    """Review finding: an UNKNOWN sell counted as "nothing sold" and the next rung sold the same contracts again
    (four sells for ten contracts held); if the first had filled, the others opened a naked position."""
    legs = _legs("kalshi_yes+poly_token")
    results = {legs[0].client_order_id: _fill(legs[0], 1000), legs[1].client_order_id: _fill(legs[1], 0)}
    first = Settler().next_steps(SIG, legs, [], results, NOW_AFTER)
    assert [(s.leg_index, s.action) for s in first] == [(0, "SELL")]
    results[first[0].client_order_id] = LegResult("UNKNOWN", reason="lookups failed")
    assert Settler().next_steps(SIG, legs, first, results, NOW_AFTER) == []
    assert Settler().outcome(SIG, legs, first, results, paper=False, ts=1).state == "UNKNOWN"
    assert Settler().unhedged(legs, first, results) == {"KALSHI": 2000}  # the 10 held + the 10 that may be sold


def _three_legs(size: int = 1000) -> list[OrderRequest]:
    # A draw league's three-leg cover (issue 29 item 6): BUF YES + KC YES on Kalshi, the draw's Yes token on Polymarket.
    venues = [("KALSHI", "YES", 3000), ("KALSHI", "YES", 3000), ("POLYMARKET", "YES", 3000)]
    return [OrderRequest(f"sig:{i}:0", "sig", SIG.game_id, i, 0, venue, f"M{i}", f"B{i}", side, "BUY", price, size, SIG.deadline_ts)
            for i, (venue, side, price) in enumerate(venues)]


def test_three_legs_one_short_completes_that_leg_only() -> None:
    legs = _three_legs()
    results = {legs[0].client_order_id: _fill(legs[0], 1000), legs[1].client_order_id: _fill(legs[1], 0),
               legs[2].client_order_id: _fill(legs[2], 1000)}
    steps = Settler().next_steps(SIG, legs, [], results, NOW_BEFORE)
    assert [(s.leg_index, s.action, s.size, s.limit_price) for s in steps] == [(1, "BUY", 1000, 3000)]


def test_three_legs_unequal_after_the_deadline_unwind_each_long_leg_down_to_the_shortest() -> None:
    legs = _three_legs()
    results = {legs[0].client_order_id: _fill(legs[0], 1000), legs[1].client_order_id: _fill(legs[1], 300),
               legs[2].client_order_id: _fill(legs[2], 700)}
    st = Settler(tick=100)
    steps = st.next_steps(SIG, legs, [], results, NOW_AFTER)
    assert sorted((s.leg_index, s.action, s.size) for s in steps) == [(0, "SELL", 700), (2, "SELL", 400)]
    for s in steps:
        results[s.client_order_id] = LegResult("FILL", filled=s.size, fill_cost=s.limit_price * s.size, fee=0)
    assert st.next_steps(SIG, legs, steps, results, NOW_AFTER) == []
    out = st.outcome(SIG, legs, steps, results, paper=True, ts=NOW_AFTER)
    assert out.state == "UNWOUND" and out.matched_size == 300  # 3 contracts cover every outcome; nothing one-sided left
    assert st.unhedged(legs, steps, results) == {}
