"""Confluent Schema Registry framing with confluent-kafka's built-in mock:// registry."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from core import codec
from core.registry import subject
from schemas import latest
from tests.factories import tick


@pytest.fixture
def registry() -> Iterator[None]:
    codec.configure("mock://arb-test")
    yield
    codec.configure("")


def test_confluent_framing_round_trip_and_both_framings_decode(registry: None) -> None:
    t = tick("K-BUF", asks=[(4500, 1000)])
    framed = codec.encode("Tick", t)
    assert framed[0] == 0 and len(framed) > 5  # magic 0 + 4-byte schema id
    assert codec.decode(framed, "Tick") == t
    codec.configure("")
    ours = codec.encode("Tick", t)
    assert ours[:2] == codec.MAGIC
    codec.configure("mock://arb-test")
    assert codec.decode(ours, "Tick") == t  # readers accept both framings


def test_subject_name_strategy_is_record_name(registry: None) -> None:
    from core import codec as c

    codec.encode("Signal", {"signal_id": "s", "game_id": "g", "legs": [], "size": 0, "cost": 0, "edge": 0, "event_ts": 0, "deadline_ts": 0,
                            "input_tick_ids": [], "input_received_ts": [], "detected_ts": 0})
    subjects = c._registry.client.get_subjects()
    assert subject(latest("Signal")) == "arb.Signal" and "arb.Signal" in subjects
    assert not any(s.endswith("-value") for s in subjects)  # not the client's topic-name default


def test_confluent_record_without_registry_is_a_typed_error() -> None:
    with pytest.raises(codec.DecodeError) as exc:
        codec.decode(b"\x00\x00\x00\x00\x01abc", "Tick")
    assert exc.value.kind == "bad_magic"
