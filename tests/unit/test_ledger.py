import random

from hypothesis import given
from hypothesis import strategies as st

from executor.ledger import Ledger


def _ev(coid: str, type_: str, sid: str = "s1", step: int = 0, leg: int = 0) -> dict:
    return {"client_order_id": coid, "signal_id": sid, "type": type_, "step": step, "leg_index": leg}


def _out(sid: str, state: str) -> dict:
    return {"signal_id": sid, "state": state}


def test_first_terminal_outcome_wins_and_pending_is_not_terminal() -> None:
    lg = Ledger()
    lg.apply("Outcome", _out("s1", "PENDING"))
    assert not lg.has_terminal_outcome("s1")
    lg.apply("Outcome", _out("s1", "FILLED"))
    lg.apply("Outcome", _out("s1", "UNWOUND"))
    assert lg.outcomes["s1"]["state"] == "FILLED"


def test_intents_without_results_are_possibly_sent() -> None:
    lg = Ledger()
    lg.apply("OrderEvent", _ev("s1:0:0", "INTENT"))
    lg.apply("OrderEvent", _ev("s1:1:0", "INTENT", leg=1))
    lg.apply("OrderEvent", _ev("s1:0:0", "FILL"))
    assert [e["client_order_id"] for e in lg.possibly_sent()] == ["s1:1:0"]
    assert list(lg.unfinished_signals()) == ["s1"]
    lg.apply("Outcome", _out("s1", "UNKNOWN"))
    assert lg.unfinished_signals() == {}


def test_ack_is_superseded_by_final_result() -> None:
    lg = Ledger()
    lg.apply("OrderEvent", _ev("c", "ACK"))
    lg.apply("OrderEvent", _ev("c", "FILL"))
    lg.apply("OrderEvent", _ev("c", "CANCELLED"))
    assert lg.result_for("c")["type"] == "FILL"


STREAM = [("OrderEvent", _ev("a:0:0", "INTENT", "a")), ("OrderEvent", _ev("a:1:0", "INTENT", "a", leg=1)),
          ("OrderEvent", _ev("a:0:0", "FILL", "a")), ("Outcome", _out("a", "FILLED")),
          ("OrderEvent", _ev("b:0:0", "INTENT", "b")), ("Outcome", _out("c", "EXPIRED"))]


def _fold(records: list) -> tuple:
    lg = Ledger()
    for t, r in records:
        lg.apply(t, r)
    return (sorted((k, v["state"]) for k, v in lg.outcomes.items()), sorted(lg.intents), sorted((k, v["type"]) for k, v in lg.results.items()),
            sorted(lg.unfinished_signals()))


@given(st.lists(st.integers(0, len(STREAM) - 1), max_size=12), st.randoms())
def test_duplicates_and_repeats_change_nothing(extra: list[int], rnd: random.Random) -> None:
    """Repeating any record any number of times (a retried write, a replay) gives the same fold."""
    records = list(STREAM)
    for i in extra:
        records.insert(rnd.randint(0, len(records)), STREAM[i])
    assert _fold(records) == _fold(STREAM)


def test_an_order_known_only_by_its_result_is_still_known() -> None:
    """Compaction keeps one record per client_order_id on `orders`: the result, not the INTENT. A signal whose
    INTENTs were compacted away is still unfinished (here: a pending leg) and recovery still finds its orders."""
    from executor.ledger import Ledger

    ledger = Ledger()
    ack = {"client_order_id": "s:1:0", "signal_id": "s", "type": "ACK", "step": 0, "leg_index": 1, "venue_order_id": "0xab"}
    fill = {"client_order_id": "s:0:0", "signal_id": "s", "type": "FILL", "step": 0, "leg_index": 0}
    ledger.apply("OrderEvent", ack)
    ledger.apply("OrderEvent", fill)
    ledger.apply("Outcome", {"signal_id": "s", "state": "PENDING"})
    assert ledger.has_intents("s")
    unfinished = ledger.unfinished_signals()
    assert [e["client_order_id"] for e in unfinished["s"]] == ["s:0:0", "s:1:0"]
    assert ledger.result_for("s:1:0")["type"] == "ACK"  # type: ignore[index]


def test_signals_decided_before_the_horizon_are_forgotten_and_open_ones_kept() -> None:
    """The live ledger holds what a recovery would read (the dedup horizon): memory does not grow with history."""
    from executor.ledger import Ledger

    ledger = Ledger()
    for sid, state, ts in (("old", "FILLED", 100), ("new", "FILLED", 900), ("open", "PENDING", 100)):
        ledger.apply("OrderEvent", {"client_order_id": f"{sid}:0:0", "signal_id": sid, "type": "INTENT", "step": 0, "leg_index": 0})
        ledger.apply("Outcome", {"signal_id": sid, "state": state, "ts": ts})
    assert ledger.prune(500) == 1
    assert not ledger.has_intents("old") and ledger.result_for("old:0:0") is None and not ledger.has_terminal_outcome("old")
    assert ledger.has_terminal_outcome("new") and ledger.has_intents("open") and "open" in ledger.unfinished_signals()
