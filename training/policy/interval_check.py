"""Calibration of protection-interval demand on backtest windows: the correlation, and the
coverage of the 80% and 95% intervals out of sample.

The forecasts at every replayed period (`PolicyForecasts`) are split in time: the first
`calibrate_share` of the periods choose the correlation of forecast errors across steps
(the one whose 80% and 95% intervals cover closest to 80% and 95%), the rest measure the
coverage that correlation gives (and, for reference, the two extremes: independent steps,
correlation 0, and comonotone steps, 1).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.demand_interval import interval_coverage
from training.policy.backtest import PolicyForecasts

__all__ = ["CORRELATIONS", "IntervalCheck", "check_intervals"]

CORRELATIONS = tuple(round(x, 2) for x in np.linspace(0.0, 1.0, 11))


@dataclass(frozen=True)
class IntervalCheck:
    """The chosen correlation and the coverage table (rows: split x correlation)."""

    correlation: float
    table: pd.DataFrame


def _coverage(f: PolicyForecasts, periods: Sequence[int], correlation: float) -> dict[str, float]:
    hits: dict[str, list[float]] = {}
    weights: list[int] = []
    for i in periods:
        actual = f.actual_interval(i)
        live = np.isfinite(actual) & (f.panel.first <= f.start + i - 1)
        if not live.any():
            continue
        d = f.demand_at(i, correlation=correlation).take(np.flatnonzero(live), with_keys=False)
        for name, value in interval_coverage(d, actual[live]).items():
            hits.setdefault(name, []).append(value)
        weights.append(int(live.sum()))
    return {k: float(np.average(v, weights=weights)) for k, v in hits.items()}


def check_intervals(f: PolicyForecasts, *, calibrate_share: float = 0.5,
                    correlations: Sequence[float] = CORRELATIONS) -> IntervalCheck:
    """Choose the correlation on the early periods, report coverage on the later ones.

    Series count from the period after their first sale (before it they have no history).
    """
    if not 0.0 < calibrate_share < 1.0:
        raise ValueError(f"`calibrate_share` must be in (0, 1); got {calibrate_share}.")
    n = f.means.shape[0]
    split = max(1, int(n * calibrate_share))
    early, late = range(split), range(split, n)
    scores = {}
    for rho in correlations:
        cov = _coverage(f, early, rho)
        scores[rho] = abs(cov["cover_80"] - 0.8) + abs(cov["cover_95"] - 0.95)
    best = min(scores, key=lambda r: scores[r])
    rows = []
    for rho in sorted({0.0, best, 1.0}):
        for name, periods in (("calibration", early), ("test", late)):
            rows.append({"split": name, "periods": len(periods), "correlation": rho,
                         **_coverage(f, periods, rho)})
    return IntervalCheck(correlation=best, table=pd.DataFrame(rows))
