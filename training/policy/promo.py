"""Planned promotions in channelcast's protection interval: the forecasts' promotion lift.

The fast forecasters (seasonal naive, moving average, Croston, TSB) do not know that a
promotion is planned; on promoted periods their forecasts fall short by about half (realised
/ forecast ~ 2 on the generated data, where promotions lift demand 1.3-3x). channelcast reads
the plan (the history's `promo` column, known ahead as a plan is) and scales each forecast
step of a promoted period, all its quantiles and its mean, by its sku's lift: the ratio
recorded sales / forecast on promoted steps over the same ratio on the other steps, measured
on the replay's past windows only (steps whose period had ended by the cutoff; periods whose
sales were cut by a stock-out left out), the sku's own
ratio shrunk toward all skus' (half-way once the sku has the average promoted volume).
A forecaster that already knows the plan (LightGBM) then gets a lift near 1. Without a
`promo` column nothing changes.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from features.engineering.history import Panel

__all__ = ["promo_lift", "promo_scale"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def promo_lift(panel: Panel, means: FloatArray, *, start: int, group: IntArray) -> FloatArray:
    """Per replayed period x sku: the lift of promoted periods known at its cutoff (1 where
    nothing is known yet); `means`: window x series x step forecast means, window i made
    for grid period `start` + i."""
    promo = np.nan_to_num(panel.promo, nan=0.0) > 0
    sales = np.nan_to_num(panel.units, nan=0.0)
    seen = ~panel.censored & ~np.isnan(panel.units)  # demand known: not cut by stock
    windows, _, horizon = means.shape
    end = panel.n_periods
    n_skus = int(group.max(initial=-1)) + 1
    # realised and forecast units per (period the step ends in, sku, promoted), summed
    actual = np.zeros((windows + horizon, n_skus, 2))
    fcast = np.zeros_like(actual)
    for j in range(windows):
        for h in range(horizon):
            t = start + j + h
            if t < end:
                cell = group * 2 + promo[:, t]
                actual[j + h] += np.bincount(cell, weights=sales[:, t] * seen[:, t],
                                             minlength=2 * n_skus).reshape(n_skus, 2)
                fcast[j + h] += np.bincount(cell, weights=means[j, :, h] * seen[:, t],
                                            minlength=2 * n_skus).reshape(n_skus, 2)
    # known at replayed period i: steps ending in periods < start + i, i.e. j + h <= i - 1
    known_a = np.concatenate([np.zeros((1, n_skus, 2)), np.cumsum(actual, axis=0)])[:windows]
    known_f = np.concatenate([np.zeros((1, n_skus, 2)), np.cumsum(fcast, axis=0)])[:windows]
    return _shrunk_lift(known_a, known_f)


def _shrunk_lift(a: FloatArray, f: FloatArray) -> FloatArray:
    """Lift per period x sku from cumulative realised `a` and forecast `f` (period x sku x
    [other, promoted]): each sku's ratio shrunk toward the pooled one, promoted / other."""
    with np.errstate(divide="ignore", invalid="ignore"):
        pooled = np.where(f.sum(axis=1) > 0, a.sum(axis=1) / f.sum(axis=1), 1.0)
        skus = max(a.shape[1], 1)
        weight = f.sum(axis=1, keepdims=True) / skus  # the average sku's volume so far
        ratio = (a + weight * pooled[:, None, :]) / (f + weight)
        ratio = np.where(np.isfinite(ratio) & (f + weight > 0), ratio, 1.0)
        lift = ratio[:, :, 1] / np.where(ratio[:, :, 0] > 0, ratio[:, :, 0], 1.0)
    return np.where(np.isfinite(lift) & (lift > 0), lift, 1.0)


def promo_scale(panel: Panel, means: FloatArray, *, start: int, group: IntArray
                ) -> FloatArray | None:
    """Factor per window x series x step for the forecasts (`promo_lift` on promoted periods,
    1 elsewhere); None when the history plans no promotion."""
    promo = np.nan_to_num(panel.promo, nan=0.0) > 0
    if not promo.any():
        return None
    lift = promo_lift(panel, means, start=start, group=group)
    windows, _, horizon = means.shape
    end = panel.n_periods
    t = start + np.arange(windows)[:, None] + np.arange(horizon)[None, :]  # window x step
    planned = np.where((t < end)[:, None, :],
                       promo[:, np.minimum(t, end - 1)].transpose(1, 0, 2), False)
    scale: FloatArray = np.where(planned, lift[:, group][:, :, None], 1.0)
    return scale
