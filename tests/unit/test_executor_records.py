"""The executor's records (executor/orders.py, executor/paper.py) are schemas.records dataclasses: these pin what goes
on the wire (the bytes the dict-built records had before issue 30) and the paper fill model on typed Ticks."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from core import codec
from core.fees import order_taker_fees
from executor.orders import LegResult, OrderRequest, fill_records, intent_event, outcome_record, result_event
from executor.paper import NO_FEE, PaperTransport, instrument_levels, paper_fill
from schemas.records import Fill, Leg, OrderEvent, Outcome, Signal, from_dict
from tests.factories import KALSHI_FEE, pairing_record, tick_record

REQ = OrderRequest(client_order_id="s1:1:2", signal_id="s1", game_id="nfl-20261129-buf-kc", leg_index=1, step=2, venue="POLYMARKET",
                   market="TOK-KC", book="0xcond", side="YES", action="SELL", limit_price=5_100, size=1_000, deadline_us=9_000_000,
                   signed_order='{"order": 1}', venue_order_id="0xhash")
SIGNAL = Signal(signal_id="s1", game_id="nfl-20261129-buf-kc", size=1_000, cost=9_000_000, edge=500_000, event_ts=1, deadline_ts=9_000_000,
                legs=[Leg(venue="KALSHI", market="K-BUF", book="K-BUF", side="YES", limit_price=4_000, size=1_000, expected_fee=1,
                          pays_on=["buf"])], input_tick_ids=["t1"], input_received_ts=[1], detected_ts=2)

# The dicts executor/orders.py built before its records were typed: every field, as written to Kafka.
INTENT: dict[str, Any] = {
    "client_order_id": "s1:1:2", "signal_id": "s1", "game_id": "nfl-20261129-buf-kc", "leg_index": 1, "step": 2, "type": "INTENT",
    "venue": "POLYMARKET", "market": "TOK-KC", "side": "YES", "action": "SELL", "limit_price": 5_100, "size": 1_000, "filled_size": 0,
    "fill_cost": 0, "fee": 0, "venue_order_id": "0xhash", "signed_order": '{"order": 1}', "reason": None, "paper": True,
    "intent_ts": 7, "sent_ts": None, "acked_ts": None, "deadline_ts": 9_000_000}
RESULT: dict[str, Any] = INTENT | {"type": "FILL", "filled_size": 600, "fill_cost": 3_066_000, "fee": 91, "venue_order_id": "0xhash",
                                   "signed_order": None, "reason": "partial", "sent_ts": 8, "acked_ts": 9}
FILLS: list[dict[str, Any]] = [
    {"fill_id": "s1:1:2#0", "client_order_id": "s1:1:2", "signal_id": "s1", "game_id": "nfl-20261129-buf-kc", "venue": "POLYMARKET",
     "market": "TOK-KC", "side": "YES", "action": "SELL", "price": 5_100, "size": 400, "fee": 60, "paper": True, "ts": 10},
    {"fill_id": "s1:1:2#1", "client_order_id": "s1:1:2", "signal_id": "s1", "game_id": "nfl-20261129-buf-kc", "venue": "POLYMARKET",
     "market": "TOK-KC", "side": "YES", "action": "SELL", "price": 5_130, "size": 200, "fee": 31, "paper": True, "ts": 10}]
OUTCOME: dict[str, Any] = {"signal_id": "s1", "game_id": "nfl-20261129-buf-kc", "state": "UNWOUND", "reason": "why", "matched_size": 600,
                           "cost": 5, "fees": 4, "locked_profit": -3, "paper": True, "ts": 11}


def _same_on_the_wire(record: OrderEvent | Fill | Outcome, expected: dict[str, Any]) -> None:
    assert codec.encode_record(record) == codec.encode(record.avro_name, expected)
    assert record == from_dict(type(record), expected)


def test_intent_result_fills_and_outcome_are_the_records_the_dicts_were() -> None:
    _same_on_the_wire(intent_event(REQ, now_us=7, paper=True), INTENT)
    res = LegResult("FILL", filled=600, fill_cost=3_066_000, fee=91, reason="partial", sent_ts=8, acked_ts=9,
                    trades=((5_100, 400), (5_130, 200)))
    _same_on_the_wire(result_event(REQ, res, intent_ts=7, paper=True), RESULT)
    fills = fill_records(REQ, res, paper=True, ts=10)
    assert len(fills) == len(FILLS)
    for f, expected in zip(fills, FILLS, strict=True):
        _same_on_the_wire(f, expected)
    _same_on_the_wire(outcome_record(SIGNAL, "UNWOUND", paper=True, ts=11, reason="why", matched=600, cost=5, fees=4, locked_profit=-3),
                      OUTCOME)


def test_a_result_names_the_venues_order_id_when_it_gave_one() -> None:
    res = LegResult("CANCELLED", venue_order_id="kalshi-42")
    assert result_event(REQ, res, intent_ts=7, paper=False).venue_order_id == "kalshi-42"
    assert result_event(REQ, LegResult("CANCELLED"), intent_ts=7, paper=False).venue_order_id == "0xhash"


def test_paper_fills_walk_the_instruments_levels_on_a_typed_tick() -> None:
    tick = tick_record("K-BUF", bids=[(4_000, 300), (3_900, 500)], asks=[(4_200, 200), (4_300, 1_000)])
    assert instrument_levels(tick, "YES", "BUY") == [(4_200, 200), (4_300, 1_000)]
    assert instrument_levels(tick, "NO", "BUY") == [(6_000, 300), (6_100, 500)]  # NO ask = 1 - YES bid
    buy_no = OrderRequest(client_order_id="s:0:0", signal_id="s", game_id="g", leg_index=0, step=0, venue="KALSHI", market="K-BUF",
                          book="K-BUF", side="NO", action="BUY", limit_price=6_050, size=1_000, deadline_us=1)
    res = paper_fill(tick, buy_no, from_dict(type(NO_FEE), KALSHI_FEE))
    assert (res.type, res.filled, res.fill_cost, res.trades) == ("FILL", 300, 6_000 * 300, ((6_000, 300),))
    assert res.fee == sum(order_taker_fees(KALSHI_FEE, [(6_000, 300)])) > 0
    stale = tick_record("K-BUF", asks=[(4_200, 200)], status="STALE")
    assert paper_fill(stale, buy_no, NO_FEE).type == paper_fill(None, buy_no, NO_FEE).type == "CANCELLED"


class _Ticks:
    def __init__(self) -> None:
        self.ticks = {"TOK-KC": tick_record("TOK-KC", venue="POLYMARKET", asks=[(5_000, 2_000)])}


class _Markets:
    def __init__(self) -> None:
        self.pairing = pairing_record()

    def get(self, game_id: str) -> object:
        return self.pairing if game_id == self.pairing.game_id else None


def test_paper_transport_prices_an_order_with_its_books_fee() -> None:
    """The book of the order's market on `markets` gives the fee (Polymarket sports, 0.03 here); an order of a game
    not on `markets` pays none."""
    paper = PaperTransport("POLYMARKET", _Ticks(), _Markets())
    req = OrderRequest(client_order_id="s:1:0", signal_id="s", game_id="nfl-20261129-buf-kc", leg_index=1, step=0, venue="POLYMARKET",
                       market="TOK-KC", book="0xcond", side="YES", action="BUY", limit_price=5_000, size=1_000, deadline_us=1)
    res = asyncio.run(paper.submit(req, 1.0))
    assert (res.type, res.filled, res.fee) == ("FILL", 1_000, 75_000)  # 10 shares x 0.03 x 0.5 x 0.5 = 0.075 USD
    assert res.sent_ts is not None and res.acked_ts is not None and res.acked_ts >= res.sent_ts
    assert asyncio.run(paper.submit(replace(req, game_id="nba-20261129-x-y"), 1.0)).fee == 0


def test_recovery_rebuilds_the_order_and_its_result_from_the_records() -> None:
    """A recovered INTENT is the order it was (Polymarket: the signed order and its hash, never signed again); a recorded
    result is the LegResult it was, so its fills are derived again with the same ids."""
    from executor.service import _recovered_signal, _request_from_intent, _result_from_event

    intent = intent_event(REQ, now_us=7, paper=False)
    again = _request_from_intent(intent, REQ.deadline_us)
    assert again == replace(REQ, book=REQ.market)  # the INTENT names the instrument, not its book
    res = LegResult("FILL", filled=600, fill_cost=3_066_000, fee=91, venue_order_id="0xhash", reason="partial", sent_ts=8, acked_ts=9)
    assert _result_from_event(result_event(REQ, res, intent_ts=7, paper=False)) == res
    signal = _recovered_signal("s1", REQ)
    assert (signal.signal_id, signal.game_id, signal.deadline_ts) == ("s1", REQ.game_id, REQ.deadline_us)


def test_a_kafka_exceptions_error_is_read_from_its_first_argument() -> None:
    from confluent_kafka import KafkaError, KafkaException

    from executor.txn import KafkaFailure, kafka_error

    err = KafkaError(KafkaError._TRANSPORT)
    assert kafka_error(KafkaException(err)) is err
    assert kafka_error(KafkaException("no KafkaError")) is None and kafka_error(KafkaException()) is None
    assert KafkaFailure is KafkaException  # what `except KafkaFailure` catches
