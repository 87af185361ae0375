"""The pooled demand rate in the replay: channelcast's interval means moved towards it.

At each replayed period the rate (`models.allocation.pooled.pooled_rate`) is computed from
the sales recorded before that period only (the forecasts' own cutoff), times each series'
protection interval. Whether it is used is decided by the product's gate
(`models.allocation.pooled.pooled_gate_on`, the one function `training.policy.served` uses)
on the same kind of evidence: the `CALIBRATION_WINDOWS` windows of `h` periods (the longest
protection interval, the product's horizon) just before the replayed week, the replayed
forecasts made at their cutoffs against the pooled rate alone, per period. When on, every
forecast step of the window, quantiles and mean, is scaled by the series' `pooled_factor`
(else left alone); the first `CALIBRATION_WINDOWS` x `h` replayed weeks have no evidence and
keep the forecasts.
Fair share by forecast keeps the model's forecasts.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from features.engineering.history import Panel
from models.allocation.pooled import (
    CALIBRATION_WINDOWS,
    LEVEL_PERIODS,
    POOLED_WEIGHT,
    SHARE_PERIODS,
    pooled_factor,
    pooled_gate_on,
    pooled_rate,
)

__all__ = ["pooled_scale"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def pooled_scale(panel: Panel, means: FloatArray, *, start: int, interval: IntArray,
                 group: IntArray, weight: float = POOLED_WEIGHT,
                 level_periods: int = LEVEL_PERIODS, share_periods: int = SHARE_PERIODS,
                 windows: int = CALIBRATION_WINDOWS) -> FloatArray:
    """Factor per window x series for the forecasts: window i (made for grid period
    `start` + i) moves its interval mean `weight` of the way to the pooled rate x `interval`
    when the product's gate is on for it (module doc), else 1 (`means`: window x series x
    step forecast means)."""
    n_windows, n, steps = means.shape
    h = min(int(interval.max(initial=1)), steps)  # the product's horizon
    inside = np.arange(steps)[None, :] < interval[:, None]  # steps in each interval
    model = (means * inside[None]).sum(axis=2)
    scale = np.ones((n_windows, n))
    for i in range(windows * h, n_windows):  # earlier weeks: no calibration windows yet
        gate = pooled_gate_on(panel.units, panel.censored, group,
                              cutoffs=[start + i - k * h for k in range(windows, 0, -1)],
                              horizon=h, model_error=_model_error(panel, means, start, i, h,
                                                                  windows),
                              level_periods=level_periods, share_periods=share_periods)
        if gate.used:
            rate = pooled_rate(panel.units[:, :start + i], panel.censored[:, :start + i],
                               group, level_periods=level_periods,
                               share_periods=share_periods)
            scale[i] = pooled_factor(model[i], rate * interval, weight=weight)
    return scale


def _model_error(panel: Panel, means: FloatArray, start: int, i: int, h: int, windows: int
                 ) -> float:
    """The replayed forecasts' total absolute per-period error over window i's calibration
    windows (the replayed windows `k` x `h` periods earlier, their first `h` steps)."""
    total = 0.0
    for k in range(1, windows + 1):
        t = start + i - k * h
        total += float(np.nansum(np.abs(means[i - k * h][:, :h] - panel.units[:, t:t + h])))
    return total
