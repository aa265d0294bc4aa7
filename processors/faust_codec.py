"""The Avro single-object codec plugged into Faust as a serializer.

A record that cannot be decoded does not raise inside Faust (which would stop the stream): it becomes an
`Undecodable` value that the agent routes to the dead-letter topic with its original bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from faust.serializers import codecs

from core import codec


@dataclass(frozen=True)
class Undecodable:
    data: bytes
    error: codec.DecodeError


class AvroCodec(codecs.Codec):
    def __init__(self, type_name: str, **kwargs: Any) -> None:
        super().__init__(type_name=type_name, **kwargs)
        self.type_name = type_name

    def _dumps(self, obj: Any) -> bytes:
        return codec.encode(self.type_name, obj)

    def _loads(self, s: bytes) -> Any:
        try:
            return codec.decode(s, self.type_name)
        except codec.DecodeError as exc:
            return Undecodable(bytes(s), exc)


def register_codecs() -> None:
    for name in ("Tick",):
        codecs.register(f"arb-{name.lower()}", AvroCodec(name))
