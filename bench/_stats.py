"""Percentile summaries shared by every benchmark (nearest-rank on sorted samples)."""

from __future__ import annotations

from collections.abc import Sequence


def percentile(sorted_samples: Sequence[float], q: float) -> float:
    if not sorted_samples:
        return float("nan")
    k = max(0, min(len(sorted_samples) - 1, int(round(q / 100 * len(sorted_samples) + 0.5)) - 1))
    return float(sorted_samples[k])


def summary(samples: Sequence[float], unit: str = "ms") -> dict[str, float | int]:
    s = sorted(samples)
    return {
        f"p50_{unit}": round(percentile(s, 50), 4),
        f"p90_{unit}": round(percentile(s, 90), 4),
        f"p99_{unit}": round(percentile(s, 99), 4),
        f"max_{unit}": round(s[-1], 4) if s else float("nan"),
        "n": len(s),
    }
