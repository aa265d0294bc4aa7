"""The lean Faust monitor keeps what Faust's own stall check reads."""

from __future__ import annotations

from typing import Any, cast

from faust.types import TP

from processors.quiet_worker import LeanMonitor


def test_stream_inbound_time_is_kept_for_fausts_stall_check() -> None:
    # Faust's verify_event_path reports a partition whose highwater is ahead of its position as "Stream has
    # not started processing" (ERROR) unless the monitor has an inbound time for it.
    monitor = LeanMonitor()
    tp = TP("arb.ticks", 3)
    assert tp not in monitor.stream_inbound_time
    monitor.on_stream_event_in(tp, 17, cast(Any, None), cast(Any, None))
    first = monitor.stream_inbound_time[tp]
    monitor.on_stream_event_in(tp, 18, cast(Any, None), cast(Any, None))
    assert monitor.stream_inbound_time[tp] >= first
    assert set(monitor.stream_inbound_time) == {tp}
