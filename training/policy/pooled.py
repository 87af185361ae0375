"""The pooled demand rate in the replay: channelcast's interval means moved towards it.

At each replayed period the rate (`models.allocation.pooled.pooled_rate`) is computed from
the sales recorded before that period only (the forecasts' own cutoff), times each series'
protection interval; every forecast step of the window, quantiles and mean, is scaled by the
series' `pooled_factor`. Fair share by forecast keeps the model's forecasts.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from features.engineering.history import Panel
from models.allocation.pooled import (
    LEVEL_PERIODS,
    POOLED_WEIGHT,
    SHARE_PERIODS,
    pooled_factor,
    pooled_rate,
)

__all__ = ["pooled_scale"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def pooled_scale(panel: Panel, means: FloatArray, *, start: int, interval: IntArray,
                 group: IntArray, weight: float = POOLED_WEIGHT,
                 level_periods: int = LEVEL_PERIODS, share_periods: int = SHARE_PERIODS
                 ) -> FloatArray:
    """Factor per window x series for the forecasts: window i (made for grid period
    `start` + i) moves its interval mean `weight` of the way to the pooled rate x `interval`
    (`means`: window x series x step forecast means)."""
    windows, _, horizon = means.shape
    inside = np.arange(horizon)[None, :] < interval[:, None]  # steps in each interval
    scale = np.ones((windows, len(group)))
    for i in range(windows):
        cut = start + i
        rate = pooled_rate(panel.units[:, :cut], panel.censored[:, :cut], group,
                           level_periods=level_periods, share_periods=share_periods)
        mean = (means[i] * inside).sum(axis=1)
        scale[i] = pooled_factor(mean, rate * interval, weight=weight)
    return scale
