"""Pure fold of the pipeline's records into what the demo shows and reports.

Readers must be idempotent (design.md): a record can be read twice (a producer's retry, a replay), so
every record is deduplicated by its deterministic key and the first terminal Outcome per signal wins.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from core.units import format_price

HOPS = ("feed_lag", "tick_produce", "tick_to_signal", "signal_to_order_sent", "order_round_trip")  # microseconds each
WINDOW_US = 300_000_000  # 5 minutes
TERMINAL = {"FILLED", "PARTIAL_BALANCED", "COMPLETED", "UNWOUND", "NOT_FILLED", "EXPIRED", "REJECTED", "UNKNOWN"}


def percentile(sorted_values: list[int], q: float) -> int | None:
    """Nearest-rank percentile of an ascending list (None when empty)."""
    if not sorted_values:
        return None
    k = max(0, min(len(sorted_values) - 1, int(round(q * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


def distribution_ms(values_us: list[int]) -> dict[str, float | int | None]:
    """p50/p90/p99/max in milliseconds (display only) and n of a list of microsecond samples."""
    v = sorted(values_us)

    def ms(x: int | None) -> float | None:
        return None if x is None else round(x / 1000, 3)

    return {"p50_ms": ms(percentile(v, 0.5)), "p90_ms": ms(percentile(v, 0.9)), "p99_ms": ms(percentile(v, 0.99)),
            "max_ms": ms(v[-1] if v else None), "n": len(v)}


def money_text(micros: int) -> str:
    sign = "-" if micros < 0 else ""
    return f"{sign}{abs(micros) // 1_000_000}.{abs(micros) % 1_000_000:06d}"


@dataclass
class DemoStats:
    ticks: int = 0
    best: dict[tuple[str, str, str], tuple[int | None, int | None, str]] = field(default_factory=dict)  # (game, venue, market) -> bid, ask, status
    signals: dict[str, dict[str, Any]] = field(default_factory=dict)
    order_results: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # (coid, type) -> OrderEvent (non-INTENT)
    intents: set[str] = field(default_factory=set)
    fills: dict[str, dict[str, Any]] = field(default_factory=dict)
    outcomes: dict[str, dict[str, Any]] = field(default_factory=dict)
    recent: deque[str] = field(default_factory=lambda: deque(maxlen=8))
    conflicting_outcomes: set[str] = field(default_factory=set)
    pending_ids: set[str] = field(default_factory=set)
    hops: dict[str, deque[int]] = field(default_factory=lambda: {h: deque(maxlen=200_000) for h in HOPS})
    # every hop sample by the 5-minute window of its record's timestamp, so a long run's first and last
    # windows can be compared (does the pipeline slow down as the broker fills?)
    hop_windows: dict[int, dict[str, list[int]]] = field(default_factory=dict)
    # Games through their life: the latest pairing of every game discovery paired (kept after its tombstone: a
    # withdrawn game still settles), the games withdrawn, and the first Settlement record per "VENUE:market".
    pairings: dict[str, dict[str, Any]] = field(default_factory=dict)
    withdrawn: set[str] = field(default_factory=set)
    settlements: dict[str, dict[str, Any]] = field(default_factory=dict)

    def _hop(self, name: str, value_us: int, at_us: int) -> None:
        self.hops[name].append(value_us)
        self.hop_windows.setdefault(at_us // WINDOW_US, {}).setdefault(name, []).append(value_us)

    # --- folding ----------------------------------------------------------------------------------

    def on_tick(self, t: dict[str, Any]) -> None:
        self.ticks += 1
        if t.get("venue_ts"):
            self._hop("feed_lag", t["received_ts"] - t["venue_ts"], t["produced_ts"])
        self._hop("tick_produce", t["produced_ts"] - t["received_ts"], t["produced_ts"])
        bid = t["bids"][0]["price"] if t["bids"] else None
        ask = t["asks"][0]["price"] if t["asks"] else None
        self.best[(t["game_id"], t["venue"], t["market"])] = (bid, ask, t["status"])

    def on_signal(self, s: dict[str, Any]) -> None:
        if s["signal_id"] not in self.signals:
            self.signals[s["signal_id"]] = s
            self._hop("tick_to_signal", s["detected_ts"] - s["event_ts"], s["detected_ts"])
            legs = " + ".join(f"{leg['venue'][:1]}:{leg['side']}@{format_price(leg['limit_price'])}" for leg in s["legs"])
            self.recent.append(f"signal {s['game_id']} {legs} edge {money_text(s['edge'])}")

    def on_order(self, o: dict[str, Any]) -> None:
        if o["type"] == "INTENT":
            self.intents.add(o["client_order_id"])
            return
        key = (o["client_order_id"], o["type"])
        if key not in self.order_results:
            self.order_results[key] = o
            s = self.signals.get(o["signal_id"])
            if o["step"] == 0 and o.get("sent_ts") and s is not None:
                self._hop("signal_to_order_sent", o["sent_ts"] - s["detected_ts"], o["sent_ts"])
            if o.get("sent_ts") and o.get("acked_ts"):
                self._hop("order_round_trip", o["acked_ts"] - o["sent_ts"], o["sent_ts"])

    def on_fill(self, f: dict[str, Any]) -> None:
        self.fills.setdefault(f["fill_id"], f)

    def on_outcome(self, o: dict[str, Any]) -> None:
        if o["state"] == "PENDING":
            self.pending_ids.add(o["signal_id"])
        first = self.outcomes.get(o["signal_id"])
        if first is not None and o["state"] in TERMINAL and (first["state"], first["matched_size"]) != (o["state"], o["matched_size"]):
            self.conflicting_outcomes.add(o["signal_id"])  # two different terminal outcomes: must never happen
        if o["state"] in TERMINAL and o["signal_id"] not in self.outcomes:
            self.outcomes[o["signal_id"]] = o
            why = f" ({o['reason']})" if o.get("reason") and o["state"] in ("REJECTED", "EXPIRED", "UNKNOWN") else ""
            self.recent.append(f"outcome {o['game_id']} {o['state']}{why} matched {o['matched_size'] / 100:g} locked {money_text(o['locked_profit'])}")

    def on_pairing(self, game_id: str, p: dict[str, Any] | None) -> None:
        if p is None:
            self.withdrawn.add(game_id)
        else:
            self.pairings[game_id] = p
            self.withdrawn.discard(game_id)

    def on_settlement(self, rec: dict[str, Any]) -> None:
        self.settlements.setdefault(f"{rec['venue']}:{rec['market']}", rec)  # compacted, one final record per market

    # --- derived ----------------------------------------------------------------------------------

    def one_sided(self) -> int:
        """Signals whose original legs (step 0) did not fill the same size."""
        by_signal: dict[str, dict[int, int]] = {}
        for (_, _), o in self.order_results.items():
            if o["step"] == 0:
                legs = by_signal.setdefault(o["signal_id"], {})
                legs[o["leg_index"]] = max(legs.get(o["leg_index"], 0), o["filled_size"])
        return sum(1 for sid, legs in by_signal.items()
                   if len(legs) == len(self.signals.get(sid, {}).get("legs", legs)) and len(set(legs.values())) > 1)

    def pending(self) -> int:
        """Signals whose latest outcome is PENDING (a delayed order being followed up)."""
        return len(self.pending_ids - set(self.outcomes))

    def count(self, state: str) -> int:
        return sum(1 for o in self.outcomes.values() if o["state"] == state)

    def signals_late(self, last: int = 10) -> bool:
        """Whether most of the newest outcomes are EXPIRED: signals reach the executor after their deadline,
        a pipeline that has fallen behind (or a risk limit the executor enforces)."""
        newest = list(self.outcomes.values())[-last:]
        return len(newest) == last and 2 * sum(1 for o in newest if o["state"] == "EXPIRED") >= last

    def pnl(self) -> int:
        """Locked-in profit of the decided signals (1e-6 USD)."""
        return sum(o["locked_profit"] for o in self.outcomes.values())

    def latencies_us(self, since_us: int = 0) -> list[int]:
        """Tick received -> order sent, for every original leg sent to a venue from since_us on."""
        out = []
        for o in self.order_results.values():
            s = self.signals.get(o["signal_id"])
            if o["step"] == 0 and o.get("sent_ts") and s is not None and o["sent_ts"] >= since_us:
                out.append(o["sent_ts"] - s["event_ts"])
        return sorted(out)

    def reset_hops(self) -> None:
        """Forget the hop samples so far (a benchmark's warm-up)."""
        for samples in self.hops.values():
            samples.clear()
        self.hop_windows.clear()

    def hops_first_last(self) -> dict[str, Any] | None:
        """Hop p50s of the first and the last complete 5-minute windows and last/first per hop; None
        before two complete windows. The first and last windows (partly outside the run) are skipped."""
        windows = sorted(self.hop_windows)[1:-1]
        if len(windows) < 2:
            return None

        def p50s(w: int) -> dict[str, float | None]:
            return {h: None if not v else round((percentile(sorted(v), 0.5) or 0) / 1000, 3) for h, v in self.hop_windows[w].items()}

        first, last = p50s(windows[0]), p50s(windows[-1])
        ratio: dict[str, float] = {}
        for h, f in first.items():
            v = last.get(h)
            if f and v is not None:
                ratio[h] = round(v / f, 3)
        return {"window_s": WINDOW_US // 1_000_000, "windows": len(windows), "first_p50_ms": first, "last_p50_ms": last, "last_over_first": ratio}

    def summary(self, duplicates: int | None) -> dict[str, Any]:
        lat = self.latencies_us()

        def ms(v: int | None) -> float | None:
            return None if v is None else round(v / 1000, 3)  # display only, not money

        return {"ticks": self.ticks, "signals": len(self.signals), "orders": len(self.order_results), "fills": len(self.fills),
                "one_sided": self.one_sided(), "unwinds": self.count("UNWOUND"), "pnl": money_text(self.pnl()), "duplicates": duplicates,
                "latency_ms": {"p50": ms(percentile(lat, 0.5)), "p99": ms(percentile(lat, 0.99)), "n": len(lat)},
                "outcomes": self.outcome_counts(), "hops_p50_ms": {h: ms(percentile(sorted(v), 0.5)) for h, v in self.hops.items()},
                "hops_first_last_5min": self.hops_first_last()}

    def outcome_counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for o in self.outcomes.values():
            out[o["state"]] = out.get(o["state"], 0) + 1
        return out


def duplicate_orders(order_log: list[dict[str, Any]]) -> int:
    """Ground truth from the simulator's order log: accepted orders beyond the first per client identity.

    Kalshi orders carry our client_order_id. Polymarket orders carry none, but their salt is derived from
    it (core.ids.polymarket_salt), so two accepted orders with one salt are the same leg sent twice."""
    seen: dict[tuple[str, str], int] = {}
    for r in order_log:
        if r.get("kind") != "create" or not r.get("accepted"):
            continue
        if r["venue"] == "KALSHI":
            ident = r.get("client_order_id") or ""
        else:
            order = (r.get("request") or {}).get("order") or {}
            ident = str(order.get("salt", r.get("order_id", "")))
        if ident:
            seen[(r["venue"], ident)] = seen.get((r["venue"], ident), 0) + 1
    return sum(n - 1 for n in seen.values())
