"""The demo's live terminal view (pure rendering of DemoStats)."""

from __future__ import annotations

from core.units import format_price
from demo.stats import DemoStats, money_text, percentile


def _px(v: int | None) -> str:
    return format_price(v)[:6] if v is not None else "  -   "


def render(stats: DemoStats, *, elapsed_s: float, duplicates: int | None, width: int = 110, max_games: int = 12, life: str = "") -> str:
    """`life`: the line on games through their life (demo/run.py Demo.life_line), shown under the P&L."""
    lines = [f"arb demo  {elapsed_s:6.0f} s   ticks {stats.ticks}   signals {len(stats.signals)}   orders {len(stats.order_results)}   "
             f"fills {len(stats.fills)}   expired {stats.count('EXPIRED')}   rejected {stats.count('REJECTED')}   one-sided {stats.one_sided()}   unwinds {stats.count('UNWOUND')}   "
             f"unknown {stats.count('UNKNOWN')}   pending {stats.pending()}   "
             f"duplicates {'?' if duplicates is None else duplicates}",
             f"locked P&L {money_text(stats.pnl())} USD", *([life] if life else []), ""]
    if stats.count("UNKNOWN"):
        lines[2:2] = [f"ALERT: {stats.count('UNKNOWN')} signal(s) UNKNOWN: an order's state could not be established; check the venues "
                      "(`arb status`, `arb tail outcomes`)", ""]
    if stats.signals_late():
        lines[2:2] = ["most recent signals reached the executor after their deadline (EXPIRED): the pipeline is behind",
                      "(the machine is overloaded?); see the child logs in the working directory", ""]
    lat = stats.latencies_us()
    p50, p99 = percentile(lat, 0.5), percentile(lat, 0.99)
    lines.append("tick received -> order sent: " + (f"p50 {p50 / 1000:.1f} ms  p99 {p99 / 1000:.1f} ms  (n={len(lat)})" if p50 is not None and p99 is not None
                                                     else "no orders yet"))
    lines += ["", f"{'game':32} {'venue':10} {'market':26} {'bid':>7} {'ask':>7}  status"]
    games = sorted({g for g, _, _ in stats.best})[:max_games]
    for g in games:
        for (gid, venue, market), (bid, ask, status) in sorted(stats.best.items()):
            if gid == g:
                lines.append(f"{g:32.32} {venue:10} {market[-26:]:26} {_px(bid):>7} {_px(ask):>7}  {status}")
    if len({g for g, _, _ in stats.best}) > max_games:
        lines.append(f"... {len({g for g, _, _ in stats.best}) - max_games} more games")
    lines += ["", "recent:"] + [f"  {r}" for r in stats.recent]
    return "\n".join(line[:width] for line in lines)
