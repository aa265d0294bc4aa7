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
from typing import cast

from faust.serializers import codecs
from faust.types.codecs import CodecT

from core import codec
from core.registry import RegistryUnavailable
from schemas.records import BY_NAME, AvroRecord, TopLevel


@dataclass(frozen=True)
class Undecodable:
    data: bytes
    error: Exception  # codec.DecodeError or RegistryUnavailable


@dataclass(frozen=True)
class Pending:
    """A record whose decoding needs a schema registry lookup, left to `resolve` (off the event loop)."""

    data: bytes
    type_name: str


def _decode(data: bytes, record: type[TopLevel]) -> TopLevel | Undecodable:
    try:
        return codec.decode_record(data, record)
    except (codec.DecodeError, RegistryUnavailable) as exc:
        return Undecodable(bytes(data), exc)


async def resolve(value: object) -> object:
    """The decoded record, or Undecodable; a Pending value is decoded in a worker thread."""
    if isinstance(value, Pending):
        return await asyncio.to_thread(_decode, value.data, BY_NAME[value.type_name])
    return value


class AvroCodec(codecs.Codec):
    """Decodes into the typed record of `type_name` (schemas/records.py); encodes such a record (or its dict)."""

    def __init__(self, type_name: str, children: tuple[CodecT, ...] | None = None) -> None:
        super().__init__(children, type_name=type_name)  # Codec.clone passes `children`
        self.type_name = type_name
        self.record = BY_NAME[type_name]

    def _dumps(self, obj: object) -> bytes:
        if isinstance(obj, AvroRecord):
            return codec.encode_record(obj)
        # A dict as fastavro writes it, as this codec always took (fastavro rejects anything else: EncodeError).
        return codec.encode(self.type_name, cast("dict[str, object]", obj))

    def _loads(self, s: bytes) -> object:
        if codec.needs_registry(s):
            return Pending(bytes(s), self.type_name)
        return _decode(s, self.record)


def register_codecs() -> None:
    for name in ("Tick",):
        codecs.register(f"arb-{name.lower()}", AvroCodec(name))
