"""The Avro single-object codec plugged into Faust as a serializer.

A record that cannot be decoded does not raise inside Faust (which would throw into the agent and stop the
stream): it becomes an `Undecodable` value that the agent routes to the dead-letter topic with its original
bytes. That includes a schema registry that cannot answer (RegistryUnavailable: dead-lettered with that
kind, to be re-driven).

Faust deserializes on the worker's event loop, so the codec never asks the schema registry itself: a
Confluent-framed record whose schema id is not cached becomes `Pending`, and the agent decodes it in a
thread (`resolve`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from faust.serializers import codecs

from core import codec
from core.registry import RegistryUnavailable


@dataclass(frozen=True)
class Undecodable:
    data: bytes
    error: Exception  # codec.DecodeError or RegistryUnavailable


@dataclass(frozen=True)
class Pending:
    """A record whose decoding needs a schema registry lookup, left to `resolve` (off the event loop)."""

    data: bytes
    type_name: str


def _decode(data: bytes, type_name: str) -> Any:
    try:
        return codec.decode(data, type_name)
    except (codec.DecodeError, RegistryUnavailable) as exc:
        return Undecodable(bytes(data), exc)


async def resolve(value: Any) -> Any:
    """The decoded record, or Undecodable; a Pending value is decoded in a worker thread."""
    if isinstance(value, Pending):
        return await asyncio.to_thread(_decode, value.data, value.type_name)
    return value


class AvroCodec(codecs.Codec):
    def __init__(self, type_name: str, **kwargs: Any) -> None:
        super().__init__(type_name=type_name, **kwargs)
        self.type_name = type_name

    def _dumps(self, obj: Any) -> bytes:
        return codec.encode(self.type_name, obj)

    def _loads(self, s: bytes) -> Any:
        if codec.needs_registry(s):
            return Pending(bytes(s), self.type_name)
        return _decode(s, self.type_name)


def register_codecs() -> None:
    for name in ("Tick",):
        codecs.register(f"arb-{name.lower()}", AvroCodec(name))
