"""The `control` topic (one partition, compacted): kill switch, breaker states, limits.

Writers: `arb kill` / `arb resume` (operators) and the executor (breaker state). Readers fold by name,
last value wins. The executor checks the kill switch before every signal, so a kill is honoured within
one signal of the record reaching the reader.

No record stops the reader thread. A record it cannot read (key not UTF-8, value undecodable, registry
unreachable) is dead-lettered, and since it may have been a kill, the reader reports itself unhealthy
(`healthy`, `error`) until a readable record (or a tombstone) with the same key supersedes it. It is
unhealthy too before the topic is loaded and after the thread stopped. What a consumer of the state does
when it is unhealthy (the executor: stop trading) is up to that consumer.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping

from confluent_kafka import Message, Producer

from core import codec, metrics
from core.dlq import decode_key
from core.kafka import make_producer
from core.registry import RegistryUnavailable
from core.settings import KafkaSettings
from core.state_reader import TopicReader
from core.topics import topic_name
from core.units import now_us
from schemas.records import Control, ControlKind

log = logging.getLogger(__name__)

KILL_SWITCH = "kill_switch"


def control_record(name: str, kind: ControlKind, active: bool, *, reason: str | None, source: str,
                   value: Mapping[str, object] | None = None) -> Control:
    """A Control record written now; `value` (details) goes on the wire as a JSON object."""
    return Control(name=name, kind=kind, active=active, reason=reason, value=json.dumps(value) if value is not None else None,
                   source=source, ts=now_us())


def publish(settings: KafkaSettings, record: Control, timeout_s: float = 10.0) -> None:
    producer = make_producer(settings)
    errors: list[str] = []
    producer.produce(topic_name("control", settings), key=record.name, value=codec.encode_record(record),
                     on_delivery=lambda err, msg: errors.append(str(err)) if err else None)
    if producer.flush(timeout_s) != 0 or errors:
        raise RuntimeError(f"control record not delivered: {errors or 'timeout'}")


class ControlState(TopicReader):
    """Background reader of `control`; `kill_switch()` is safe to call from any thread."""

    reader = "control"

    def __init__(self, settings: KafkaSettings, *, dlq_producer: Producer | None = None) -> None:
        super().__init__(settings, topic_name("control", settings), dlq_producer=dlq_producer)
        self.records: dict[str, Control] = {}  # name -> its latest record
        self.unreadable: dict[bytes | None, str] = {}  # raw key -> why its latest record could not be read

    def kill_switch(self) -> Control | None:
        """The kill switch's record while it is engaged, else None."""
        rec = self.records.get(KILL_SWITCH)
        return rec if rec is not None and rec.active else None

    @property
    def consequence(self) -> str:
        return "kill switch changes are no longer seen"

    @property
    def error(self) -> str | None:
        """Why the state cannot be trusted now, or None: not started / not loaded yet, the reader stopped, or a
        record that could not be read still stands (it may have been a kill)."""
        reader_error = super().error
        if reader_error is not None:
            return reader_error
        if self.unreadable:
            last = next(reversed(self.unreadable.values()))
            return f"{len(self.unreadable)} undecodable control record(s) stand (dead-lettered); last: {last}"
        return None

    @property
    def healthy(self) -> bool:
        return self.error is None

    def apply(self, value: bytes | None) -> None:
        """Fold one value (offline use); an undecodable one is logged and skipped."""
        if value is None:
            return
        try:
            rec = codec.decode_record(value, Control)
        except (codec.DecodeError, RegistryUnavailable) as exc:
            log.error("undecodable control record: %s", exc)
            return
        self.records[rec.name] = rec

    def _on_record(self, msg: Message) -> None:
        raw_key = msg.key()
        value = msg.value()
        if value is None:  # a tombstone: nothing to fold, but it supersedes an unreadable record of its key
            self.unreadable.pop(raw_key, None)
            return
        decode_key(raw_key)
        rec = codec.decode_record(value, Control)
        self.records[rec.name] = rec
        metrics.KILL_SWITCH.set(1 if self.kill_switch() else 0)  # alerts.yml: ArbKillSwitchEngaged
        self.unreadable.pop(raw_key, None)

    def _on_error(self, msg: Message, exc: Exception) -> None:
        raw_key = msg.key()
        self.unreadable.pop(raw_key, None)
        self.unreadable[raw_key] = f"offset {msg.offset()}: {exc}"  # (re)inserted last: `error` shows the newest
        metrics.STATE_READER_ERRORS.labels("control").inc()
        log.error("control: record at offset %s not applied (%s); dead-lettered; the control state is unhealthy until it is "
                  "superseded", msg.offset(), exc)
        self._dlq.send(msg, exc)
