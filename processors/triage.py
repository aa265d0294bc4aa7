"""Which `ticks` records the agent can process, and the dead letter of one it cannot.

A record the agent cannot read (a key that is not UTF-8, a value that does not decode, a schema registry that
cannot answer) goes to the dead-letter topic with its bytes; the agent goes on. Keys reach the agent as raw
bytes: Faust's own key decoding raised KeyDecodeError into the agent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from faust.types import Message

from core import codec
from core.dlq import dead_letter, decode_key
from processors.faust_codec import Undecodable, resolve
from schemas.records import DeadLetter, Tick, from_dict


class TickEvent(Protocol):
    """What the agent reads of a Faust event of `ticks` (Faust types events as EventT[Any]): the message, and the
    value the codec made of it (processors/faust_codec.py: a Tick, Undecodable or Pending)."""

    @property
    def message(self) -> Message: ...

    @property
    def value(self) -> object: ...


async def triage(event: TickEvent) -> tuple[Tick | None, Exception | None]:
    """(the Tick, None) for a record the agent can process, else (None, why it goes to the dead-letter topic)."""
    key = event.message.key
    if key is not None:
        try:
            decode_key(key)
        except codec.DecodeError as exc:
            return None, exc
    value = await resolve(event.value)  # a registry lookup, if one is needed, runs in a thread
    if isinstance(value, Undecodable):
        return None, value.error
    if not isinstance(value, Tick):
        return None, codec.DecodeError("corrupt", f"not a Tick: {type(value).__name__}")
    return value, None


def dead_letter_record(event: TickEvent, error: Exception) -> DeadLetter:
    """The DeadLetter of a `ticks` record, with its original key and value bytes."""
    msg = event.message
    value = event.value
    raw = value.data if isinstance(value, Undecodable) else msg.value
    record: Mapping[str, object] = dead_letter(msg.topic, msg.partition, msg.offset, msg.key, raw, error, "processor")  # a dict
    return from_dict(DeadLetter, record)
