"""core/kafka.py: each kind of consumer gets its fetch wait from its own setting."""

from __future__ import annotations

from core.config import load
from core.kafka import consumer_config
from core.settings import KafkaSettings


def test_each_wait_kind_reads_its_setting() -> None:
    s = load(KafkaSettings, env={"ARB_FETCH_WAIT_MS": "3", "ARB_FOLLOW_FETCH_WAIT_MS": "40", "ARB_COLD_FETCH_WAIT_MS": "300"})
    waits = {kind: consumer_config(s, None, wait=kind)["fetch.wait.max.ms"] for kind in ("short", "follow", "cold")}
    assert waits == {"short": 3, "follow": 40, "cold": 300}
    assert consumer_config(s, None)["fetch.wait.max.ms"] == 3  # unnamed: a reader that waits for an end


def test_defaults_keep_end_readers_prompt_and_followers_cheap() -> None:
    s = load(KafkaSettings, env={})
    # An end is seen only when a fetch at the end comes back empty: 2 ms. A follower's fetch returns when a record
    # arrives, so its wait sets only how often it fetches while idle.
    assert (s.fetch_wait_ms, s.follow_fetch_wait_ms, s.cold_fetch_wait_ms) == (2, 25, 250)
