"""Continuous reconciliation in the positions role (issue 26): `arb positions serve` compares the positions folded
from `fills` with both simulators' own positions endpoints (Kalshi GET /portfolio/positions, Polymarket's Data
API GET /positions) and raises an alert -- arb_reconcile_drift_instruments and an active `alert:reconcile` record
on `control` -- for a drift seen in two consecutive checks, clears it when the drift is gone, engages the kill
switch when told to, and never judges a venue it cannot read.

Ground truth is the simulator's accounts: an order placed directly at the simulator (never recorded on `fills`) is
the drift. Real Kafka, both simulators on 127.0.0.1."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import secrets
import signal
import sys
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from prometheus_client import REGISTRY

from core import codec
from core.config import Secret
from core.control import KILL_SWITCH, ControlState
from core.kafka import make_producer
from core.settings import KafkaSettings
from core.topics import topic_name
from core.units import now_us
from executor.recovery_reader import read_partition
from positions.reconciler import DRIFT_ALERT, UNREADABLE_ALERT
from positions.service import PositionsService
from positions.settings import PositionsSettings
from positions.venue_positions import VenuePositions
from schemas.records import Control, to_dict
from simulators.engine import BookSide, TimeInForce
from simulators.runner import Simulator
from simulators.settings import SimSettings
from tests.conftest import REPO
from tests.kafka_helpers import eventually
from venues.kalshi.settings import KalshiSettings
from venues.polymarket.eip712 import address_of
from venues.polymarket.settings import PolymarketSettings

pytestmark = pytest.mark.integration
HOUR = 3600.0  # an interval no test waits for: checks are started with reconcile_now()


@pytest.fixture
async def sim(tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    key = secrets.token_bytes(32)
    settings = SimSettings(games=1, updates_per_s=0, arb_rate_per_min=0, autostart=False, kalshi_tier="unlimited", poly_address=address_of(key),
                           poly_api_key="reconcile-key", poly_secret=Secret(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()),
                           poly_passphrase=Secret("pp-reconcile"))
    async with Simulator(settings) as s:
        pem = tmp_path / "kalshi.pem"
        assert s.kalshi_private_key is not None
        pem.write_bytes(s.kalshi_private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        pem.chmod(0o400)
        game = next(iter(s.world.games.values()))
        pm = game.poly_markets[0]
        ticker = game.kalshi_markets[game.away]
        s.world.set_book("KALSHI", ticker, bids=[(4300, 100_000)], asks=[(4500, 100_000)])
        s.world.set_book("POLYMARKET", pm.condition_id, bids=[(5000, 100_000)], asks=[(5600, 100_000)])
        yield {"sim": s, "pem": str(pem), "address": address_of(key).lower(), "game": game, "ticker": ticker, "cond": pm.condition_id,
               "token": pm.token_ids[0]}


def _venues(rig: dict[str, Any], *, kalshi_url: str | None = None) -> VenuePositions:
    s = rig["sim"]
    kalshi = KalshiSettings(rest_url=kalshi_url or s.kalshi_url, key_id=s.settings.kalshi_key_id, private_key_file=rig["pem"], tier="unlimited")
    return VenuePositions(kalshi, PolymarketSettings(data_api_url=s.gamma_url, funder=rig["address"]), timeout_s=5)


def _buy_at_venue(rig: dict[str, Any], venue: str, size: int) -> None:
    """An order placed directly at the simulator, as the executor (or a person) would: it fills against the book."""
    w = rig["sim"].world
    if venue == "KALSHI":
        r = w.place("KALSHI", rig["ticker"], rig["sim"].settings.kalshi_key_id, BookSide.BUY, 4500, size, TimeInForce.IOC)
    else:
        r = w.place("POLYMARKET", rig["cond"], rig["address"], BookSide.BUY, 5600, size, TimeInForce.IOC)
    assert r.remaining == 0


def _record_fill(kafka: KafkaSettings, rig: dict[str, Any], fid: str, venue: str, size: int) -> None:
    """The Fill the executor records for such an order."""
    market, price = (rig["ticker"], 4500) if venue == "KALSHI" else (rig["token"], 5600)
    fill = {"fill_id": fid, "client_order_id": fid, "signal_id": "s", "game_id": rig["game"].game_id, "venue": venue, "market": market, "side": "YES",
            "action": "BUY", "price": price, "size": size, "fee": 0, "paper": False, "ts": now_us()}
    p = make_producer(kafka)
    p.produce(topic_name("fills", kafka), key=rig["game"].game_id.encode(), value=codec.encode("Fill", fill))
    assert p.flush(10) == 0


class Serve:
    """PositionsService.run on a thread of its own, as `arb positions serve` runs it."""

    def __init__(self, kafka: KafkaSettings, venues: VenuePositions, *, interval_s: float, kill: bool = False) -> None:
        settings = PositionsSettings(reconcile_s=interval_s, reconcile_confirm=2, reconcile_kill=kill)
        self.service = PositionsService(kafka, settings, day_tz="America/New_York", venues=venues)
        assert self.service.reconciler is not None
        self.reconciler = self.service.reconciler
        self.thread = threading.Thread(target=self.service.run, daemon=True)

    async def __aenter__(self) -> Serve:
        self.thread.start()
        return self

    async def __aexit__(self, *_: Any) -> None:
        self.service.stop()  # the simulators run on this event loop: never block it while the role stops
        await asyncio.to_thread(self.thread.join, 30)
        assert not self.thread.is_alive()

    async def check(self) -> Any:
        """One check, started now; its verdict (after `fills` was folded up to the venues' snapshot). A check that
        could not be made (the topics were just created: a partition may have no leader yet) is started again."""
        r = self.reconciler
        for _ in range(5):
            n, failed = r.checks, r.failed
            r.reconcile_now()
            await eventually(lambda: r.checks > n or r.failed > failed, 30)  # noqa: B023 (awaited in this iteration)
            if r.checks > n:
                return r.verdict
        raise AssertionError("no check could be made")


async def _control(kafka: KafkaSettings) -> ControlState:
    """A reader of `control`; the topics were just created, so a first attempt may meet a partition without its
    leader yet (NOT_LEADER_FOR_PARTITION): tried again then, a bounded number of times."""
    for _ in range(10):
        control = await asyncio.to_thread(ControlState(kafka).start)
        if control.loaded:
            return control
        control.stop()
        await asyncio.sleep(0.5)
    raise AssertionError("control topic not readable")


def _drift_metric() -> float | None:
    return REGISTRY.get_sample_value("arb_reconcile_drift_instruments")


def _active(control: ControlState, name: str) -> bool:
    rec = control.records.get(name)
    return rec is not None and rec.active


def _control_history(kafka: KafkaSettings, name: str) -> list[dict[str, Any]]:
    recs, bad = read_partition(kafka, [topic_name("control", kafka)], 0, stall_s=15)
    assert bad == 0
    return [to_dict(r) for r in recs if isinstance(r, Control) and r.name == name]


async def test_a_drift_raises_the_alert_and_its_end_clears_it(topics: KafkaSettings, sim: dict[str, Any]) -> None:
    # consistent state: what each venue holds is on `fills`
    for venue in ("KALSHI", "POLYMARKET"):
        _buy_at_venue(sim, venue, 1000)
        _record_fill(topics, sim, f"ok-{venue}", venue, 1000)
    control = await _control(topics)
    try:
        async with Serve(topics, _venues(sim), interval_s=0.5) as serve:
            await eventually(lambda: serve.reconciler.checks >= 3, 60)
            v = serve.reconciler.verdict
            assert v is not None and v.drift == [] and v.unconfirmed == [] and v.unreadable == {}, v
            assert _drift_metric() == 0
            await eventually(lambda: DRIFT_ALERT in control.records, 15)  # the first check states "no drift"
            assert not _active(control, DRIFT_ALERT)

            _buy_at_venue(sim, "POLYMARKET", 700)  # at the venue, never recorded on `fills`
            await eventually(lambda: _active(control, DRIFT_ALERT), 30)
            value = json.loads(control.records[DRIFT_ALERT].value or "")
            assert value["drift"] == [{"venue": "POLYMARKET", "market": sim["token"], "ours": 1000, "venue_reports": 1700}], value
            assert control.records[DRIFT_ALERT].kind == "ALERT" and control.records[DRIFT_ALERT].source == "positions"
            assert _drift_metric() == 1
            assert control.kill_switch() is None  # ARB_POSITIONS_RECONCILE_KILL is off

            _record_fill(topics, sim, "late", "POLYMARKET", 700)  # the drift goes away
            await eventually(lambda: not _active(control, DRIFT_ALERT), 30)
            assert _drift_metric() == 0
            assert serve.service.status()["reconcile"] == "ok"
    finally:
        control.stop()


async def test_the_kill_setting_engages_the_kill_switch(topics: KafkaSettings, sim: dict[str, Any]) -> None:
    _buy_at_venue(sim, "KALSHI", 500)  # never recorded on `fills`
    control = await _control(topics)
    try:
        async with Serve(topics, _venues(sim), interval_s=0.5, kill=True):
            await eventually(lambda: control.kill_switch() is not None, 30)
            kill = control.records[KILL_SWITCH]
            assert kill.kind == "KILL_SWITCH" and kill.source == "positions" and sim["ticker"] in (kill.reason or ""), kill
            assert _active(control, DRIFT_ALERT)
    finally:
        control.stop()


async def test_a_drift_seen_in_one_check_only_raises_no_alert(topics: KafkaSettings, sim: dict[str, Any]) -> None:
    """A fill the venue reports before its record reaches `fills`: one check sees it, the next does not."""
    async with Serve(topics, _venues(sim), interval_s=HOUR) as serve:
        first = await serve.check()
        assert first.drift == [] and first.unconfirmed == []
        _buy_at_venue(sim, "KALSHI", 300)
        seen = await serve.check()
        assert [(d["market"], d["ours"], d["venue_reports"]) for d in seen.unconfirmed] == [(sim["ticker"], 0, 300)] and seen.drift == []
        assert _drift_metric() == 0
        _record_fill(topics, sim, "in-flight", "KALSHI", 300)  # ... and its record lands
        after = await serve.check()  # compares only once `fills` is folded up to the venues' snapshot
        assert after.drift == [] and after.unconfirmed == [], after
        assert _drift_metric() == 0
    history = _control_history(topics, DRIFT_ALERT)
    assert history and not any(r["active"] for r in history), history


async def test_a_venue_that_cannot_be_read_is_not_judged(topics: KafkaSettings, sim: dict[str, Any]) -> None:
    """Kalshi unreachable: its holding on `fills` (which the venue does not have) is neither a drift nor "no drift";
    after two failed checks in a row it is an alert of its own. Polymarket is still reconciled."""
    _record_fill(topics, sim, "k-only", "KALSHI", 400)
    _buy_at_venue(sim, "POLYMARKET", 200)
    async with Serve(topics, _venues(sim, kalshi_url="http://127.0.0.1:9/trade-api/v2"), interval_s=HOUR) as serve:
        one = await serve.check()
        assert one.unreadable == {} and [d["venue"] for d in one.unconfirmed] == ["POLYMARKET"]
        two = await serve.check()
        assert list(two.unreadable) == ["KALSHI"] and [d["venue"] for d in two.drift] == ["POLYMARKET"], two
        assert serve.service.status()["reconcile"] == "drift=1,unreadable=KALSHI"
    history = _control_history(topics, UNREADABLE_ALERT)
    assert history and history[-1]["active"] and "KALSHI" in json.loads(history[-1]["value"])["venues"]


async def test_serve_says_what_it_reconciles_and_logs_a_status_line(topics: KafkaSettings, sim: dict[str, Any]) -> None:
    """`arb positions serve` with only Polymarket's account configured: it says at start that Kalshi is not compared,
    reconciles Polymarket, and logs `status: positions ...` lines (fills folded, holdings, games, last result)."""
    _buy_at_venue(sim, "POLYMARKET", 1000)
    _record_fill(topics, sim, "p1", "POLYMARKET", 1000)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ARB_KALSHI_", "ARB_POLY_"))}
    env |= {"ARB_BOOTSTRAP": topics.bootstrap, "ARB_TOPIC_PREFIX": topics.topic_prefix, "ARB_PARTITIONS": str(topics.partitions),
            "ARB_LOG_FORMAT": "json", "ARB_STATUS_INTERVAL_S": "0.5", "ARB_POSITIONS_RECONCILE_S": "0.5", "ARB_EXEC_DAY_TZ": "America/New_York",
            "ARB_POLY_FUNDER": sim["address"], "ARB_POLY_DATA_API_URL": sim["sim"].gamma_url}
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "cli", "positions", "serve", cwd=REPO, env=env,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    lines: list[dict[str, Any]] = []
    try:
        async def until_reconciled() -> None:
            assert proc.stdout is not None
            while not any(str(x.get("msg", "")).startswith("status: positions") and "reconcile=ok" in x["msg"] for x in lines):
                raw = await proc.stdout.readline()
                assert raw, f"serve ended: {lines}"
                with contextlib.suppress(ValueError):
                    lines.append(json.loads(raw))

        try:
            await asyncio.wait_for(until_reconciled(), 60)
        except TimeoutError:
            raise AssertionError(f"no status line with reconcile=ok within 60 s: {lines[-15:]}") from None
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 30)
    messages = [str(x.get("msg")) for x in lines]
    assert any("KALSHI positions are not read" in m for m in messages), messages
    assert any(m.startswith("reconciliation every 0.5s against POLYMARKET") for m in messages), messages
    status = next(m for m in messages if m.startswith("status: positions") and "reconcile=ok" in m)
    assert all(f in status for f in ("fills=1", "holdings=1", "games=1", "settled_games=0")), status
