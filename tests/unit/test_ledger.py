import random

from hypothesis import given
from hypothesis import strategies as st

from executor.ledger import Ledger
from schemas.records import OrderEvent, Outcome
from tests.factories import order_event_record, outcome_rec


def _ev(coid: str, type_: str, sid: str = "s1", step: int = 0, leg: int = 0) -> OrderEvent:
    return order_event_record(coid, type_, signal_id=sid, step=step, leg_index=leg)


def _out(sid: str, state: str, ts: int = 0) -> Outcome:
    return outcome_rec(sid, state, ts=ts)


def test_first_terminal_outcome_wins_and_pending_is_not_terminal() -> None:
    lg = Ledger()
    lg.apply(_out("s1", "PENDING"))
    assert not lg.has_terminal_outcome("s1")
    lg.apply(_out("s1", "FILLED"))
    lg.apply(_out("s1", "UNWOUND"))
    assert lg.outcomes["s1"].state == "FILLED"


def test_intents_without_results_are_possibly_sent() -> None:
    lg = Ledger()
    lg.apply(_ev("s1:0:0", "INTENT"))
    lg.apply(_ev("s1:1:0", "INTENT", leg=1))
    lg.apply(_ev("s1:0:0", "FILL"))
    assert [e.client_order_id for e in lg.possibly_sent()] == ["s1:1:0"]
    assert list(lg.unfinished_signals()) == ["s1"]
    lg.apply(_out("s1", "UNKNOWN"))
    assert lg.unfinished_signals() == {}


def test_ack_is_superseded_by_final_result() -> None:
    lg = Ledger()
    lg.apply(_ev("c", "ACK"))
    lg.apply(_ev("c", "FILL"))
    lg.apply(_ev("c", "CANCELLED"))
    result = lg.result_for("c")
    assert result is not None and result.type == "FILL"


STREAM: list[OrderEvent | Outcome] = [_ev("a:0:0", "INTENT", "a"), _ev("a:1:0", "INTENT", "a", leg=1), _ev("a:0:0", "FILL", "a"),
                                      _out("a", "FILLED"), _ev("b:0:0", "INTENT", "b"), _out("c", "EXPIRED")]


def _fold(records: list[OrderEvent | Outcome]) -> tuple:
    lg = Ledger()
    for r in records:
        lg.apply(r)
    return (sorted((k, v.state) for k, v in lg.outcomes.items()), sorted(lg.intents), sorted((k, v.type) for k, v in lg.results.items()),
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
    ack = order_event_record("s:1:0", "ACK", signal_id="s", leg_index=1, venue_order_id="0xab")
    fill = order_event_record("s:0:0", "FILL", signal_id="s")
    ledger.apply(ack)
    ledger.apply(fill)
    ledger.apply(_out("s", "PENDING"))
    assert ledger.has_intents("s")
    unfinished = ledger.unfinished_signals()
    assert [e.client_order_id for e in unfinished["s"]] == ["s:0:0", "s:1:0"]
    assert [e.type for e in unfinished["s"]] == ["INTENT", "INTENT"]  # the order as its INTENT, from its result
    assert unfinished["s"][1].venue_order_id == "0xab"
    result = ledger.result_for("s:1:0")
    assert result is not None and result.type == "ACK"


def test_signals_decided_before_the_horizon_are_forgotten_and_open_ones_kept() -> None:
    """The live ledger holds what a recovery would read (the dedup horizon): memory does not grow with history."""
    from executor.ledger import Ledger

    ledger = Ledger()
    for sid, state, ts in (("old", "FILLED", 100), ("new", "FILLED", 900), ("open", "PENDING", 100)):
        ledger.apply(order_event_record(f"{sid}:0:0", "INTENT", signal_id=sid))
        ledger.apply(_out(sid, state, ts))
    assert ledger.prune(500) == 1
    assert not ledger.has_intents("old") and ledger.result_for("old:0:0") is None and not ledger.has_terminal_outcome("old")
    assert ledger.has_terminal_outcome("new") and ledger.has_intents("open") and "open" in ledger.unfinished_signals()
