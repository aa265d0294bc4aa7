"""Consumer-group scaling (issue 8): two processor workers and two executors; one of each is stopped
mid-stream and another started. The simulator's order log shows no duplicate and every signal gets
exactly one outcome."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from core.config import load
from core.settings import KafkaSettings
from demo.run import Demo, DemoOptions
from demo.supervisor import arb_argv

pytestmark = pytest.mark.integration


def wait_for(pred, timeout_s: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not pred():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.2)


@pytest.mark.timeout(420)
def test_rebalance_processors_and_executors_mid_stream(tmp_path: Path) -> None:
    demo = Demo(DemoOptions(duration_s=0, json_out=True, games=8, seed=11, arb_rate_per_min=60, updates_per_s=20, workdir=tmp_path, positions=False),
                load(KafkaSettings, overrides={"topic_prefix": "scale."}))
    try:
        demo.start()
        demo.sup.start("process-2", arb_argv("process"), {**demo.venue_env, "ARB_FAUST_DATADIR": str(tmp_path / "faust-2")})
        demo.sup.start("execute-2", arb_argv("execute"), demo.venue_env)
        assert demo.collector is not None
        stats = demo.collector.stats

        def counts() -> tuple[int, int]:
            with demo.collector.lock:  # type: ignore[union-attr]
                return len(stats.outcomes), len(stats.order_results)

        wait_for(lambda: counts()[1] >= 2, 150)  # orders reached the venues with two of each in the groups
        demo.sup.stop({"process", "execute"})  # one of each leaves the groups ...
        demo.sup.start("process-3", arb_argv("process"), {**demo.venue_env, "ARB_FAUST_DATADIR": str(tmp_path / "faust-3")})
        demo.sup.start("execute-3", arb_argv("execute"), demo.venue_env)  # ... and another joins
        outcomes_before, orders_before = counts()
        # the stream goes on through both rebalances: new outcomes, and new orders at the venues
        wait_for(lambda: counts()[0] >= outcomes_before + 2 and counts()[1] >= orders_before + 2, 180)
        demo.drain(timeout_s=30)
        summary = demo.summary()
        with demo.collector.lock:
            missing = set(stats.signals) - set(stats.outcomes)
            conflicts = set(stats.conflicting_outcomes)
        assert summary["duplicates"] == 0, summary
        assert not missing and not conflicts, (missing, conflicts)
        assert summary["positions_match"] is True, summary
    finally:
        demo.shutdown()
