"""The demo's view says when signals reach the executor too late (the pipeline behind)."""

from __future__ import annotations

from demo.stats import DemoStats
from demo.view import render


def _outcome(i: int, state: str) -> dict[str, object]:
    return {"signal_id": f"s{i}", "game_id": "g", "state": state, "matched_size": 0, "locked_profit": 0}


def test_expired_outcomes_are_counted_and_a_late_majority_is_flagged() -> None:
    stats = DemoStats()
    for i in range(10):
        stats.on_outcome(_outcome(i, "FILLED"))
    text = render(stats, elapsed_s=10, duplicates=0)
    assert "expired 0" in text and "after their deadline" not in text
    for i in range(10, 15):
        stats.on_outcome(_outcome(i, "EXPIRED"))
    assert stats.count("EXPIRED") == 5
    assert stats.signals_late()  # 5 of the newest 10
    text = render(stats, elapsed_s=20, duplicates=0)
    assert "expired 5" in text and "after their deadline" in text
    for i in range(15, 21):
        stats.on_outcome(_outcome(i, "FILLED"))
    assert not stats.signals_late()  # 4 of the newest 10


def test_rejections_are_counted_and_show_their_reason() -> None:
    stats = DemoStats()
    stats.on_outcome({**_outcome(1, "REJECTED"), "reason": "per-game exposure limit (50.00 USD)"})
    stats.on_outcome({**_outcome(2, "FILLED"), "reason": None})
    text = render(stats, elapsed_s=5, duplicates=0)
    assert "rejected 1" in text
    assert "REJECTED (per-game exposure limit (50.00 USD))" in text
    assert "FILLED matched" in text
