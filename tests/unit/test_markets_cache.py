"""Issue 27: the state readers (`markets`, `control`) never die on a record. An undecodable key or value goes to the
dead-letter topic and the reader thread carries on; `control` reports itself unhealthy while a record it could not
read stands (it may have been a kill). Offline: the Kafka consumer and producer are fakes."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from confluent_kafka import KafkaError

from core import codec, control, markets_cache, metrics, state_reader
from core.control import ControlState, control_record
from core.markets_cache import MarketsCache
from core.settings import KafkaSettings
from core.topics import topic_name
from schemas.records import AvroRecord, Control, MarketPairing
from tests.factories import pairing, pairing_record

SETTINGS = KafkaSettings(bootstrap="127.0.0.1:1")
MARKETS = topic_name("markets", SETTINGS)
CONTROL = topic_name("control", SETTINGS)


class Msg:
    def __init__(self, topic: str, offset: int, key: bytes | None, value: bytes | None) -> None:
        self._topic, self._offset, self._key, self._value = topic, offset, key, value

    def topic(self) -> str:
        return self._topic

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return self._offset

    def key(self) -> bytes | None:
        return self._key

    def value(self) -> bytes | None:
        return self._value

    def error(self) -> None:
        return None


class Eof(Msg):
    def __init__(self) -> None:
        super().__init__("", 0, None, None)

    def error(self) -> Any:  # type: ignore[override]
        return KafkaError(KafkaError._PARTITION_EOF)


class FakeConsumer:
    """Hands out the given records, then the end of the partition, then nothing (the reader is then caught up)."""

    def __init__(self, records: list[Msg]) -> None:
        self.records: list[Msg] = [*records, Eof()]

    def assign(self, tps: Any) -> None:
        pass

    def get_watermark_offsets(self, tp: Any, timeout: float = 0) -> tuple[int, int]:
        return 0, 0  # with no position reported (below), caught up at the EOF, as the real reader is at its end


    def position(self, tps: Any) -> Any:
        return tps

    def poll(self, timeout: float) -> Msg | None:
        if self.records:
            return self.records.pop(0)
        time.sleep(0.005)
        return None

    def close(self) -> None:
        pass


class FakeProducer:
    def __init__(self) -> None:
        self.produced: list[tuple[str, Any, bytes]] = []

    def produce(self, topic: str, key: Any = None, value: bytes = b"", **kw: Any) -> None:
        self.produced.append((topic, key, value))

    def poll(self, timeout: float = 0) -> int:
        return 0

    def flush(self, timeout: float = 0) -> int:
        return 0


@pytest.fixture
def consumer_of(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[list[Msg]], None]]:
    batches: list[list[Msg]] = []

    def make(settings: Any, group: Any, **kw: Any) -> FakeConsumer:
        return FakeConsumer(batches.pop(0) if batches else [])

    monkeypatch.setattr(state_reader, "make_consumer", make)
    yield batches.append


def _until(cond: Callable[[], bool], timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.01)


def _dead_letters(producer: FakeProducer) -> list[dict[str, Any]]:
    assert all(t == topic_name("dlq", SETTINGS) for t, _, _ in producer.produced)
    return [codec.decode(v, "DeadLetter") for _, _, v in producer.produced]


def _pairing_bytes(game_id: str) -> bytes:
    return codec.encode("MarketPairing", pairing(game_id))


def test_markets_reader_dead_letters_a_non_utf8_key_and_carries_on(consumer_of: Callable[[list[Msg]], None]) -> None:
    """Before: `key.decode()` raised UnicodeDecodeError out of the reader thread, which died for good: no pairing
    change was seen again by that role."""
    consumer_of([Msg(MARKETS, 0, b"\xff\xfe", _pairing_bytes("g1")), Msg(MARKETS, 1, b"g2", _pairing_bytes("g2"))])
    dlq = FakeProducer()
    cache = MarketsCache(SETTINGS, dlq_producer=dlq).start(wait_s=5)
    try:
        _until(lambda: "g2" in cache.pairings)
        assert cache.healthy and cache.failure is None
        [dead] = _dead_letters(dlq)
        assert (dead["source_topic"], dead["offset"], dead["key"], dead["error_kind"], dead["component"]) == \
            (MARKETS, 0, b"\xff\xfe", "bad_key", "markets-reader")
        assert dead["value"] == _pairing_bytes("g1")
        assert cache.bad_records == 1
    finally:
        cache.stop()


def test_markets_reader_dead_letters_undecodable_values(consumer_of: Callable[[list[Msg]], None]) -> None:
    consumer_of([Msg(MARKETS, 0, b"g1", b"garbage!!!!!"), Msg(MARKETS, 1, None, _pairing_bytes("g3")),
                 Msg(MARKETS, 2, b"g2", _pairing_bytes("g2"))])
    dlq = FakeProducer()
    before = metrics.DEAD_LETTERS.labels("markets-reader")._value.get()
    cache = MarketsCache(SETTINGS, dlq_producer=dlq).start(wait_s=5)
    try:
        _until(lambda: "g2" in cache.pairings)
        kinds = [d["error_kind"] for d in _dead_letters(dlq)]
        assert kinds == ["bad_magic", "missing_key"]
        assert metrics.DEAD_LETTERS.labels("markets-reader")._value.get() == before + 2
    finally:
        cache.stop()


def test_markets_reader_survives_a_registry_outage(consumer_of: Callable[[list[Msg]], None],
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from core.registry import RegistryUnavailable

    real = codec.decode_record
    calls = {"n": 0}

    def flaky(data: bytes, cls: type[AvroRecord]) -> AvroRecord:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RegistryUnavailable("registry down")
        return real(data, cls)

    monkeypatch.setattr(markets_cache.codec, "decode_record", flaky)
    consumer_of([Msg(MARKETS, 0, b"g1", _pairing_bytes("g1")), Msg(MARKETS, 1, b"g2", _pairing_bytes("g2"))])
    dlq = FakeProducer()
    cache = MarketsCache(SETTINGS, dlq_producer=dlq).start(wait_s=5)
    try:
        _until(lambda: "g2" in cache.pairings)
        assert [d["error_kind"] for d in _dead_letters(dlq)] == ["RegistryUnavailable"]
        assert cache.healthy
        assert cache.get("g2") == pairing_record("g2") and isinstance(cache.get("g2"), MarketPairing)
    finally:
        cache.stop()


def test_follow_survives_an_on_record_bug(consumer_of: Callable[[list[Msg]], None]) -> None:
    consumer_of([Msg(MARKETS, 0, b"a", b"1"), Msg(MARKETS, 1, b"b", b"2")])
    seen: list[bytes | None] = []
    errors: list[Exception] = []

    def on_record(msg: Any) -> None:
        if msg.key() == b"a":
            raise KeyError("bug")
        seen.append(msg.key())

    caught_up, stop = threading.Event(), threading.Event()
    t = threading.Thread(target=state_reader.follow, args=(SETTINGS, MARKETS, on_record, caught_up, stop),
                         kwargs={"on_error": lambda msg, exc: errors.append(exc)}, daemon=True)
    t.start()
    try:
        _until(lambda: seen == [b"b"])
        assert t.is_alive() and isinstance(errors[0], KeyError)
    finally:
        stop.set()
        t.join(5)


def test_a_markets_reader_that_dies_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*a: Any, **k: Any) -> Any:
        raise RuntimeError("cannot create consumer")

    monkeypatch.setattr(state_reader, "make_consumer", broken)
    cache = MarketsCache(SETTINGS, dlq_producer=FakeProducer()).start(wait_s=5)
    _until(lambda: cache.failure is not None)
    assert not cache.healthy
    cache.stop()


def _control_bytes(name: str, active: bool) -> bytes:
    return codec.encode_record(control_record(name, "KILL_SWITCH", active, reason="t", source="test"))


def test_control_reader_dead_letters_and_reports_unhealthy_until_the_record_is_superseded(
        consumer_of: Callable[[list[Msg]], None]) -> None:
    """Before: ControlState's thread had no exception handling (a RegistryUnavailable, or a non-UTF-8 key once keys
    are read, killed it) and an undecodable record was only logged: `arb kill` could be silently lost."""
    consumer_of([Msg(CONTROL, 0, b"kill_switch", b"\xc3\x01garbage-garbage"),
                 Msg(CONTROL, 1, b"\xff", _control_bytes("other", False))])
    dlq = FakeProducer()
    state = ControlState(SETTINGS, dlq_producer=dlq).start(wait_s=5)
    try:
        _until(lambda: len(dlq.produced) == 2)
        assert [d["error_kind"] for d in _dead_letters(dlq)] == ["unknown_fingerprint", "bad_key"]
        assert state.loaded and not state.healthy
        assert state.error is not None and "2 undecodable" in state.error
        assert state._thread is not None and state._thread.is_alive()
    finally:
        state.stop()


def test_control_reader_is_healthy_again_once_the_bad_records_are_replaced(consumer_of: Callable[[list[Msg]], None]) -> None:
    consumer_of([Msg(CONTROL, 0, b"kill_switch", b"\xc3\x01garbage-garbage"),
                 Msg(CONTROL, 1, b"kill_switch", _control_bytes("kill_switch", True))])
    state = ControlState(SETTINGS, dlq_producer=FakeProducer()).start(wait_s=5)
    try:
        _until(lambda: state.kill_switch() is not None)
        assert state.healthy and state.error is None
        kill = state.kill_switch()
        assert isinstance(kill, Control) and (kill.name, kill.active, kill.reason) == ("kill_switch", True, "t")
    finally:
        state.stop()


def test_control_reader_that_dies_is_unhealthy(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*a: Any, **k: Any) -> Any:
        raise RuntimeError("cannot create consumer")

    monkeypatch.setattr(state_reader, "make_consumer", broken)
    state = ControlState(SETTINGS, dlq_producer=FakeProducer()).start(wait_s=5)
    _until(lambda: state._thread is not None and not state._thread.is_alive())
    assert not state.healthy and state.error is not None and "stopped" in state.error
    state.stop()


def test_control_reader_survives_a_registry_outage(consumer_of: Callable[[list[Msg]], None], monkeypatch: pytest.MonkeyPatch) -> None:
    from core.registry import RegistryUnavailable

    def down(data: bytes, cls: type[AvroRecord]) -> AvroRecord:
        raise RegistryUnavailable("registry down")

    monkeypatch.setattr(control.codec, "decode_record", down)
    consumer_of([Msg(CONTROL, 0, b"kill_switch", _control_bytes("kill_switch", True)), Msg(CONTROL, 1, b"x", None)])
    state = ControlState(SETTINGS, dlq_producer=FakeProducer()).start(wait_s=5)
    try:
        _until(lambda: state.loaded)
        time.sleep(0.1)
        assert state._thread is not None and state._thread.is_alive()
        assert not state.healthy  # it could not read what may be a kill
    finally:
        state.stop()


def test_listeners_hear_a_changed_pairing_once_and_not_a_repeated_one() -> None:
    """Compaction leaves several values of a key until the cleaner runs: the same pairing read again is no change."""
    cache = MarketsCache(SETTINGS)
    heard: list[tuple[str, MarketPairing | None]] = []
    cache.listeners.append(lambda g, p: heard.append((g, p)))
    cache.apply("g1", _pairing_bytes("g1"))
    cache.apply("g1", _pairing_bytes("g1"))  # the same record again
    moved = codec.encode("MarketPairing", {**pairing("g1"), "start_ts": 1_800_000_000_000_000})
    cache.apply("g1", moved)
    cache.apply("g1", None)
    cache.apply("g1", None)  # a tombstone of a game already gone: no change either
    assert [(g, None if p is None else p.start_ts) for g, p in heard] == [("g1", None), ("g1", 1_800_000_000_000_000), ("g1", None)]
    assert [p is None for _, p in heard] == [False, False, True] and cache.get("g1") is None


def test_a_control_record_goes_on_the_wire_as_the_schemas_dict_did(monkeypatch: pytest.MonkeyPatch) -> None:
    """The typed record encodes to the same bytes as the dict written before records were typed (issue 30)."""
    monkeypatch.setattr(control, "now_us", lambda: 1_796_000_000_000_000)
    rec = control_record("breaker:KALSHI", "BREAKER", True, reason="breaker open", source="executor", value={"state": "open", "failures": 5})
    as_dict = {"name": "breaker:KALSHI", "kind": "BREAKER", "active": True, "reason": "breaker open",
               "value": '{"state": "open", "failures": 5}', "source": "executor", "ts": 1_796_000_000_000_000}
    assert codec.encode_record(rec) == codec.encode("Control", as_dict)
    assert codec.decode_record(codec.encode_record(rec), Control) == rec
