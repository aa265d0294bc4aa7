"""`arb execute`'s start-up banner: LIVE or PAPER, the venues it can trade, the limits in force in dollars and contracts;
and `arb process`'s flags (issue 28)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, cast

from cli.commands.execute import banner
from cli.main import build_parser
from core.settings import KafkaSettings
from executor.live_guard import Endpoint, classify
from executor.settings import ExecutorSettings
from processors.settings import DetectorSettings

KAFKA = replace(KafkaSettings(), topic_prefix="arb.", paper_prefix="paper.")
SETTINGS = replace(ExecutorSettings(), max_total_exposure=2_500_000_000, max_game_exposure=250_500_000, daily_loss_limit=75_000_000,
                   max_contracts_per_order=1_000, max_contracts_per_signal=2_550, max_orders_per_s=7)
DETECTOR = replace(DetectorSettings(), min_edge_money=20_000, min_edge_per_contract=75, delayed_extra_edge=200)
LIMITS = ("exposure at most $2,500.00 in all and $250.50 per game", "daily loss limit $75.00",
          "at most 10 contracts per order and 25.5 per signal", "7 orders/s", "min edge $0.02 per signal and $0.0075 per contract")


def targets(*urls: tuple[str, str]) -> list:
    return [classify(Endpoint(venue, "ARB_X_URL", url), ("localhost", "sim")) for venue, url in urls]


def test_paper() -> None:
    text = banner(paper=True, kafka=KAFKA, settings=SETTINGS, detector=DETECTOR,
                  targets=targets(("KALSHI", "https://api.elections.kalshi.com/trade-api/v2")))
    assert text.startswith("executor starting: PAPER: ") and "no venue contacted" in text
    assert "api.elections.kalshi.com" not in text  # paper mode builds no live client whatever is configured
    assert "group paper.arb.executor" in text and "records to paper.arb.{orders,outcomes,fills}" in text
    assert all(limit in text for limit in LIMITS), text


def test_live_names_each_real_venue_and_the_ones_without_credentials() -> None:
    text = banner(paper=False, kafka=KAFKA, settings=SETTINGS, detector=DETECTOR,
                  targets=targets(("KALSHI", "https://api.elections.kalshi.com/trade-api/v2")))
    assert text.startswith("executor starting: LIVE: KALSHI at api.elections.kalshi.com (Kalshi production)"), text
    assert "POLYMARKET: no credentials, its signals rejected" in text
    assert "group arb.executor" in text and "records to arb.{orders,outcomes,fills}" in text
    assert all(limit in text for limit in LIMITS), text


def test_simulators_only_is_not_called_plain_live() -> None:
    text = banner(paper=False, kafka=KAFKA, settings=SETTINGS, detector=DETECTOR,
                  targets=targets(("KALSHI", "http://127.0.0.1:8001/trade-api/v2"), ("POLYMARKET", "http://sim:8002")))
    assert text.startswith("executor starting: LIVE (simulators only): KALSHI at 127.0.0.1 (simulator), POLYMARKET at sim (simulator)"), text
    assert "no credentials" not in text


def test_one_real_venue_among_simulators_is_live() -> None:
    text = banner(paper=False, kafka=KAFKA, settings=SETTINGS, detector=DETECTOR,
                  targets=targets(("KALSHI", "http://127.0.0.1:8001/trade-api/v2"), ("POLYMARKET", "https://clob.polymarket.com")))
    assert text.startswith("executor starting: LIVE: "), text


def test_process_takes_the_short_flags_and_says_its_log_level_default() -> None:
    parser = build_parser()
    args = parser.parse_args(["process", "-l", "debug", "-b", "h:1", "--prefix", "p."])
    assert (args.loglevel, args.bootstrap, args.prefix) == ("debug", "h:1", "p.")
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    help_text = " ".join(cast(Any, sub).choices["process"].format_help().split())
    assert "-l {debug,info,warning,error}, --loglevel" in help_text and "default: $ARB_LOG_LEVEL, INFO" in help_text
    assert "-b BOOTSTRAP, --bootstrap" in help_text
