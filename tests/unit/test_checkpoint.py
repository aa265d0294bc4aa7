"""Issue 24 defect 7: recovery reads from a checkpoint, not from the beginning of history."""

from __future__ import annotations

import pytest

from executor.checkpoint import format_checkpoint, parse_checkpoint, start_offsets
from executor.ledger import Ledger
from schemas.records import OrderEvent
from tests.factories import order_event_record, outcome_rec


def test_round_trip() -> None:
    assert parse_checkpoint(format_checkpoint(1_234_567, 89)) == (1_234_567, 89)


@pytest.mark.parametrize("metadata", [None, "", "someone else's", "arb-recovery:v1;orders=1", "arb-recovery:v1;orders=x;outcomes=2",
                                      "arb-recovery:v1;orders=-1;outcomes=2", "arb-recovery:v2;orders=1;outcomes=2"])
def test_anything_else_means_read_everything(metadata: str | None) -> None:
    assert parse_checkpoint(metadata) is None
    assert start_offsets(parse_checkpoint(metadata), (5, 5)) is None


def test_the_earlier_of_checkpoint_and_horizon() -> None:
    assert start_offsets((100, 50), (80, 60)) == (80, 50)
    assert start_offsets((100, 50), None) == (100, 50)


def _intent(sid: str) -> OrderEvent:
    return order_event_record(f"{sid}:0:0", "INTENT", signal_id=sid)


def test_the_checkpoint_stays_at_the_oldest_open_signal() -> None:
    ledger = Ledger()
    ledger.mark("a", (10, 4))
    ledger.apply(_intent("a"))
    ledger.mark("b", (12, 4))
    ledger.apply(_intent("b"))
    assert ledger.checkpoint((20, 9)) == (10, 4)
    assert ledger.checkpoint((20, 9), finishing="a") == (12, 4)  # a's terminal outcome commits now
    ledger.apply(outcome_rec("a", "PENDING"))
    assert ledger.checkpoint((20, 9)) == (10, 4)  # pending is still open
    ledger.apply(outcome_rec("a", "FILLED"))
    assert ledger.checkpoint((20, 9)) == (12, 4)
    ledger.apply(outcome_rec("b", "UNWOUND"))
    assert ledger.checkpoint((20, 9)) == (20, 9)
    ledger.mark("b", (30, 30))  # a decided signal is never marked again
    assert ledger.checkpoint((20, 9)) == (20, 9)
