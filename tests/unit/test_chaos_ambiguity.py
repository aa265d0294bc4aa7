"""The pure folds that judge `arb bench chaos --scenario venue-ambiguity`, on small hand-made order logs, `orders`,
`fills` and `outcomes` records: each goal count sees what it is meant to see (a leg executed twice IS counted)."""

from __future__ import annotations

import random
from typing import Any

from bench.chaos_ambiguity import (
    compare_fills,
    draw_faults,
    executed_twice,
    fault_hits,
    first_intents,
    judge,
    one_sided_without_alert,
    order_hashes,
    outcome_views,
    pending_unresolved,
    reason_class,
    recorded_fills,
    thin_poly,
    unhedged,
    venue_executions,
    venue_nets,
)

S1, S2 = "s" + "1" * 32, "s" + "2" * 32
HASH = "0x" + "ab" * 32


def venue(venue: str, filled: int, *, coid: str = "", order_id: str = "", accepted: bool = True, side: str = "buy",
          size: int = 1000, account: str = "me", fault: str = "") -> dict[str, Any]:
    return {"venue": venue, "kind": "create", "accepted": accepted, "client_order_id": coid, "order_id": order_id, "filled": filled,
            "size": size, "side": side, "account": account, "fault": fault, "http_status": 200 if accepted else 401, "fills": []}


def event(coid: str, type_: str, venue: str = "KALSHI", action: str = "BUY", filled: int = 0, voi: str | None = None) -> dict[str, Any]:
    sid, leg, step = coid.rsplit(":", 2)
    return {"client_order_id": coid, "signal_id": sid, "leg_index": int(leg), "step": int(step), "type": type_, "venue": venue,
            "action": action, "filled_size": filled, "venue_order_id": voi}


def fill(coid: str, size: int, action: str = "BUY", venue: str = "KALSHI", i: int = 0) -> dict[str, Any]:
    return {"fill_id": f"{coid}#{i}", "client_order_id": coid, "signal_id": coid.rsplit(":", 2)[0], "venue": venue, "action": action,
            "size": size}


def outcome(sid: str, state: str, reason: str | None = None) -> dict[str, Any]:
    return {"signal_id": sid, "state": state, "reason": reason}


def cross_signal_events(sid: str = S1) -> list[dict[str, Any]]:
    """A Kalshi leg and a Polymarket leg (whose order id is the signed order's hash), both intents and results."""
    return [event(f"{sid}:0:0", "INTENT"), event(f"{sid}:1:0", "INTENT", "POLYMARKET", voi=HASH),
            event(f"{sid}:0:0", "FILL", filled=1000), event(f"{sid}:1:0", "FILL", "POLYMARKET", filled=1000, voi=HASH)]


def test_polymarket_orders_are_attributed_by_their_hash_and_internal_accounts_are_ignored() -> None:
    evs = cross_signal_events()
    log = [venue("KALSHI", 1000, coid=f"{S1}:0:0"), venue("POLYMARKET", 1000, order_id=HASH),
           venue("POLYMARKET", 500, order_id="0x" + "cd" * 32),  # no INTENT names it
           venue("KALSHI", 300, coid="bg-1", account="mm"),  # background liquidity
           venue("KALSHI", 0, coid=f"{S1}:0:0", accepted=False)]  # a 401: executed nothing
    ex = venue_executions(log, order_hashes(evs))
    assert sorted(ex.by_coid) == [f"{S1}:0:0", f"{S1}:1:0"]
    assert [r["order_id"] for r in ex.unattributed] == ["0x" + "cd" * 32]
    assert executed_twice(ex) == {}


def test_a_leg_executed_twice_is_counted() -> None:
    evs = cross_signal_events()
    log = [venue("KALSHI", 1000, coid=f"{S1}:0:0", fault="accept_then_5xx"),  # executed, answered 500 ...
           venue("KALSHI", 1000, coid=f"{S1}:0:0"),  # ... and re-sent: executed again
           venue("POLYMARKET", 1000, order_id=HASH)]
    summary, evidence = judge([S1], log, evs, [fill(f"{S1}:0:0", 1000), fill(f"{S1}:1:0", 1000, venue="POLYMARKET")],
                              [outcome(S1, "FILLED")])
    assert summary["legs_executed_twice"] == 1 and summary["duplicate_executions"] == 1
    assert list(evidence["legs_executed_twice"]) == [f"{S1}:0:0"]
    # the second execution's fill is not recorded either, and the Kalshi leg is now long 20 against 10
    assert summary["venue_fills_not_recorded"] == 1
    assert summary["one_sided_without_alert"] == 1


def test_fills_compare_per_order_by_size_both_ways() -> None:
    evs = cross_signal_events()
    intents = first_intents(evs)
    ex = venue_executions([venue("KALSHI", 1000, coid=f"{S1}:0:0"), venue("POLYMARKET", 1004, order_id=HASH)], order_hashes(evs))
    # Kalshi filled 10 but `fills` says 6; Polymarket's BUY got 10.04 shares at a better price and `fills` says 10.04
    recorded, conflicts = recorded_fills([fill(f"{S1}:0:0", 600), fill(f"{S1}:1:0", 1004, venue="POLYMARKET"),
                                          fill(f"{S1}:1:0", 1004, venue="POLYMARKET")])  # an identical copy folds
    assert conflicts == []
    not_recorded, not_at_venue = compare_fills(ex, recorded, intents)
    assert [(g.client_order_id, g.at_venue, g.recorded) for g in not_recorded] == [(f"{S1}:0:0", 1000, 600)]
    assert not_at_venue == []
    # a fill recorded for an order the venue never executed (it answered 401)
    ex2 = venue_executions([venue("KALSHI", 0, coid=f"{S1}:0:0", accepted=False)], {})
    not_recorded, not_at_venue = compare_fills(ex2, {f"{S1}:0:0": 1000}, intents)
    assert not_recorded == [] and [(g.client_order_id, g.venue, g.at_venue) for g in not_at_venue] == [(f"{S1}:0:0", "KALSHI", 0)]


def test_a_conflicting_copy_of_a_fill_is_reported_and_the_first_copy_counts() -> None:
    recorded, conflicts = recorded_fills([fill(f"{S1}:0:0", 400), fill(f"{S1}:0:0", 1000)])
    assert recorded == {f"{S1}:0:0": 400} and len(conflicts) == 1


def test_venue_nets_add_buys_and_subtract_unwinds_per_leg() -> None:
    evs = [*cross_signal_events(), event(f"{S1}:0:2", "INTENT", action="SELL"), event(f"{S1}:0:3", "INTENT", action="SELL")]
    log = [venue("KALSHI", 1000, coid=f"{S1}:0:0"), venue("POLYMARKET", 400, order_id=HASH),
           venue("KALSHI", 500, coid=f"{S1}:0:2", side="sell"), venue("KALSHI", 100, coid=f"{S1}:0:3", side="sell")]
    nets = venue_nets(venue_executions(log, order_hashes(evs)), first_intents(evs))
    assert nets == {S1: {0: ("KALSHI", 400), 1: ("POLYMARKET", 400)}}


def test_unhedged_keeps_polymarket_dust_only() -> None:
    assert not unhedged({0: ("KALSHI", 1000), 1: ("POLYMARKET", 1000)})
    assert not unhedged({0: ("KALSHI", 1000), 1: ("POLYMARKET", 1004)})  # a BUY matched at better prices: dust
    assert unhedged({0: ("KALSHI", 1004), 1: ("POLYMARKET", 1000)})  # Kalshi holds whole contracts: never dust
    assert unhedged({0: ("KALSHI", 1000), 1: ("POLYMARKET", 1500)})  # 5 shares can be sold: not dust
    assert unhedged({0: ("KALSHI", 1000), 1: ("KALSHI", 0)})
    assert not unhedged({0: ("KALSHI", 0), 1: ("POLYMARKET", 0)})


def test_one_sided_without_alert_spares_unknown_and_recorded_unwinds_only() -> None:
    one_sided = {0: ("KALSHI", 1000), 1: ("POLYMARKET", 0)}
    nets = {"a": one_sided, "b": one_sided, "c": one_sided, "d": one_sided, "e": one_sided,
            "f": {0: ("KALSHI", 1000), 1: ("POLYMARKET", 1000)}}
    outcomes = [outcome("a", "UNKNOWN", "imbalance left"),  # alerted
                outcome("b", "UNWOUND"),  # the unwind's SELL fill is on `fills`
                outcome("c", "UNWOUND"),  # no unwind recorded
                outcome("d", "NOT_FILLED"),  # silent one-sided position
                outcome("e", "PENDING"),  # not an alert
                outcome("f", "FILLED")]
    first, _ = outcome_views(outcomes)
    fills = [{"signal_id": "b", "action": "SELL"}, {"signal_id": "c", "action": "BUY"}]
    out = one_sided_without_alert(nets, first, fills, ["a", "b", "c", "d", "e", "f"])
    assert sorted(out) == ["c", "d", "e"]
    assert out["d"] == {"state": "NOT_FILLED", "venue_nets": {"0": ["KALSHI", 1000], "1": ["POLYMARKET", 0]}}
    assert out["e"]["state"] is None


def test_pending_unresolved_is_a_last_outcome_still_pending() -> None:
    outcomes = [outcome("a", "PENDING"), outcome("a", "FILLED"),  # resolved
                outcome("b", "PENDING"),  # never resolved
                outcome("c", "FILLED")]
    first, last = outcome_views(outcomes)
    assert pending_unresolved(last, ["a", "b", "c", "d"]) == ["b"]
    assert {s: o["state"] for s, o in first.items()} == {"a": "FILLED", "c": "FILLED"}


def test_judge_counts_nothing_on_a_clean_run_and_quotes_each_unknown_reason() -> None:
    evs = [*cross_signal_events(S1), event(f"{S2}:0:0", "INTENT"), event(f"{S2}:0:0", "UNKNOWN"),
           event(f"{S2}:1:0", "INTENT", "POLYMARKET", voi=HASH.replace("ab", "ef")),
           event(f"{S2}:1:0", "CANCELLED", "POLYMARKET", voi=HASH.replace("ab", "ef"))]
    log = [venue("KALSHI", 1000, coid=f"{S1}:0:0", fault="accept_then_timeout"), venue("POLYMARKET", 1000, order_id=HASH, fault="accept_then_5xx"),
           venue("KALSHI", 1000, coid=f"{S2}:0:0", fault="accept_then_5xx")]  # executed, the executor could not tell: alerted
    fills = [fill(f"{S1}:0:0", 1000), fill(f"{S1}:1:0", 1000, venue="POLYMARKET")]
    outcomes = [outcome(S1, "PENDING"), outcome(S1, "FILLED"), outcome(S2, "UNKNOWN", f"order state unknown: {S2}:0:0; known net per leg [0, 0]")]
    summary, evidence = judge([S1, S2], log, evs, fills, outcomes)
    goal = ("legs_executed_twice", "recorded_fills_not_at_venue", "one_sided_without_alert", "pending_unresolved")
    assert {k: summary[k] for k in goal} == dict.fromkeys(goal, 0)
    assert summary["venue_fills_not_recorded"] == 1  # S2's Kalshi fill: the executor never learned it
    assert summary["unknown_outcomes"] == 1 and summary["unknown_outcome_reasons"][0]["signal_id"] == S2
    assert summary["unknown_outcomes_by_cause"] == {"order state unknown: #; known net per leg [#, #]": 1}
    assert summary["outcomes"] == {"FILLED": 1, "UNKNOWN": 1} and summary["signals_without_outcome"] == 0
    assert summary["unhedged_at_venue"] == 1 and evidence["one_sided_without_alert"] == {}


def test_records_of_other_signals_do_not_count() -> None:
    evs = cross_signal_events(S2)
    log = [venue("KALSHI", 1000, coid=f"{S2}:0:0"), venue("KALSHI", 1000, coid=f"{S2}:0:0")]
    summary, _ = judge([S1], log, evs, [], [outcome(S1, "EXPIRED")])
    assert summary["legs_executed_twice"] == 0 and summary["venue_orders_accepted"] == 0


def test_reason_class_blanks_ids_and_numbers() -> None:
    assert reason_class(f"order state unknown: {S1}:1:0; lookups failed until deadline + grace: 0x{'ab' * 32} 503") == \
        "order state unknown: #; lookups failed until deadline + grace: # #"


def test_fault_draws_keep_lookup_lag_below_the_grace_and_delay_on_polymarket_only() -> None:
    rng = random.Random(5)
    draws = [(v, draw_faults(rng, v, lookup_grace_ms=3000)) for _ in range(300) for v in ("kalshi", "polymarket")]
    assert all(f.get("lookup_lag_ms", 0) < 3000 for _, f in draws)
    assert not any("delay_s" in f or "reject_in_200" in f for v, f in draws if v == "kalshi")
    assert any(f == {} for _, f in draws) and any("accept_then_timeout" in f for _, f in draws)


def test_thin_polymarket_books_in_token_zero_terms() -> None:
    rng = random.Random(1)
    for _ in range(50):
        bids0, asks0 = thin_poly(rng, 0)
        bids1, asks1 = thin_poly(random.Random(rng.random()), 1)
        # token 0 bought at 0.50: its asks are at or below the limit; never a crossed book
        assert all(p <= 5000 for p, _ in asks0) and max(p for p, _ in bids0) < min(p for p, _ in asks0)
        # token 1 bought at 0.50 = token 0 sold at 0.50: token-0 bids at or above 0.50
        assert all(p >= 5000 for p, _ in bids1) and max(p for p, _ in bids1) < min(p for p, _ in asks1)


def test_fault_hits_name_what_each_order_request_met() -> None:
    late = venue("POLYMARKET", 1000, order_id=HASH)
    late.update(received_us=1_000_000, fills=[{"ts_us": 2_500_000}])
    lagged = venue("KALSHI", 1000, coid=f"{S1}:0:0", fault="accept_then_timeout")
    lagged["visible_us"] = 5
    log = [late, lagged, venue("KALSHI", 0, coid=f"{S1}:1:0", accepted=False, fault="401"),
           venue("KALSHI", 0, coid=f"{S1}:1:0", accepted=False), venue("KALSHI", 1000, coid=f"{S1}:1:0"),
           venue("KALSHI", 1000, coid="bg", account="mm", fault="accept_then_5xx")]
    assert fault_hits(log) == {"polymarket": {"matched late (delayed)": 1},
                               "kalshi": {"accept_then_timeout": 1, "lookup_lag": 1, "401": 1, "refused 401": 1}}


def test_a_second_terminal_outcome_is_counted_with_its_records() -> None:
    # seen in a run: recovery settled a signal, then its redelivery was consumed and EXPIRED was written as well
    outcomes = [outcome(S1, "PENDING"), outcome(S1, "UNWOUND"), outcome(S1, "EXPIRED"), outcome(S2, "FILLED")]
    summary, evidence = judge([S1, S2], [], [], [], outcomes)
    assert summary["signals_with_two_outcomes"] == 1 and [o["state"] for o in evidence["signals_with_two_outcomes"][S1]] == ["UNWOUND", "EXPIRED"]
    assert summary["outcomes"] == {"FILLED": 1, "UNWOUND": 1}  # the first terminal outcome is the one that counts
