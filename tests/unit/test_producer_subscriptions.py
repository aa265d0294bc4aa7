"""`arb produce` subscribes each feed to the instruments of its venue in the MarketPairing records on `markets`
(producers/service.py `venue_markets`), and follows changes: a new pairing adds its markets, a withdrawn one
removes them."""

from __future__ import annotations

from typing import Any

from producers.handoff import Handoff
from producers.service import venue_markets
from tests.factories import pairing_record
from tests.unit.test_supervise import FakeMarkets, IdleFeed, _service

GAME = "nfl-20261129-buf-kc"
OTHER = "nfl-20261129-mia-nyj"


def test_each_venue_subscribes_to_its_instruments_markets() -> None:
    two_way = {GAME: pairing_record(GAME)}
    assert venue_markets(two_way, "KALSHI") == {"K-BUF": GAME, "K-KC": GAME}  # a Kalshi ticker's YES and NO: one market
    assert venue_markets(two_way, "POLYMARKET") == {"TOK-BUF": GAME, "TOK-KC": GAME}
    draw = pairing_record("epl-20261129-ars-che", draw=True, poly=False, poly_draw=True)
    three_way = {draw.game_id: draw}
    assert venue_markets(three_way, "KALSHI") == {m: draw.game_id for m in ("K-BUF", "K-KC", "K-DRAW")}
    assert venue_markets(three_way, "POLYMARKET") == {f"TOK-{c}-{yn}": draw.game_id for c in ("BUF", "KC", "DRAW") for yn in ("YES", "NO")}
    assert venue_markets({}, "KALSHI") == {}


async def test_subscriptions_follow_the_pairings_on_markets() -> None:
    markets = FakeMarkets()
    kalshi, poly = IdleFeed(), IdleFeed()
    handoff: Handoff[dict[str, Any]] = Handoff()
    service = _service({"KALSHI": kalshi, "POLYMARKET": poly}, handoff, markets)
    markets.pairings[GAME] = pairing_record(GAME)
    await service._resubscribe()
    assert kalshi.markets == {"K-BUF": GAME, "K-KC": GAME} and poly.markets == {"TOK-BUF": GAME, "TOK-KC": GAME}
    del markets.pairings[GAME]
    markets.pairings[OTHER] = pairing_record(OTHER, poly=False)
    await service._resubscribe()
    assert kalshi.markets == {"K-BUF": OTHER, "K-KC": OTHER} and poly.markets == {}
