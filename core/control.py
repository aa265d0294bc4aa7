"""The `control` topic (one partition, compacted): kill switch, breaker states, limits.

Writers: `arb kill` / `arb resume` (operators) and the executor (breaker state). Readers fold by name,
last value wins. The executor checks the kill switch before every signal, so a kill is honoured within
one signal of the record reaching the reader.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

from core import codec
from core.kafka import make_producer
from core.settings import KafkaSettings
from core.state_reader import follow
from core.topics import topic_name
from core.units import now_us

log = logging.getLogger(__name__)

KILL_SWITCH = "kill_switch"


def control_record(name: str, kind: str, active: bool, *, reason: str | None, source: str, value: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "kind": kind, "active": active, "reason": reason, "value": json.dumps(value) if value is not None else None,
            "source": source, "ts": now_us()}


def publish(settings: KafkaSettings, record: dict[str, Any], timeout_s: float = 10.0) -> None:
    producer = make_producer(settings)
    errors: list[str] = []
    producer.produce(topic_name("control", settings), key=record["name"], value=codec.encode("Control", record),
                     on_delivery=lambda err, msg: errors.append(str(err)) if err else None)
    if producer.flush(timeout_s) != 0 or errors:
        raise RuntimeError(f"control record not delivered: {errors or 'timeout'}")


class ControlState:
    """Background reader of `control`; `kill_switch()` is safe to call from any thread."""

    def __init__(self, settings: KafkaSettings) -> None:
        self.settings = settings
        self.records: dict[str, dict[str, Any]] = {}
        self._stop = threading.Event()
        self._loaded = threading.Event()
        self._thread: threading.Thread | None = None

    def kill_switch(self) -> dict[str, Any] | None:
        rec = self.records.get(KILL_SWITCH)
        return rec if rec is not None and rec["active"] else None

    def apply(self, value: bytes | None) -> None:
        if value is None:
            return
        try:
            rec = codec.decode(value, "Control")
        except codec.DecodeError as exc:
            log.error("undecodable control record: %s", exc)
            return
        self.records[rec["name"]] = rec

    def start(self, wait_s: float = 10.0) -> ControlState:
        self._thread = threading.Thread(target=self._run, name="control-reader", daemon=True)
        self._thread.start()
        self._loaded.wait(wait_s)
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        follow(self.settings, topic_name("control", self.settings), lambda msg: self.apply(msg.value()), self._loaded, self._stop)
