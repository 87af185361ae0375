"""The pooled demand rate in the replay: channelcast's interval means moved towards it.

At each replayed period the rate (`models.allocation.pooled.pooled_rate`) is computed from
the sales recorded before that period only (the forecasts' own cutoff), times each series'
protection interval. It is used only where it has helped so far: over the intervals already
over by the cutoff (recorded sales, intervals with a stock-out left out), when the absolute
error of the blended means ((1 - weight) x forecast + weight x pooled) is below the
forecasts', every forecast step of the window, quantiles and mean, is scaled by the series'
`pooled_factor` (else left alone). On the generated channels the blend is the better one
(seasonality is mild, series are small and noisy); on walmart the forecasts alone are
(strong yearly seasonality, large series).
Fair share by forecast keeps the model's forecasts.
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
    when the blended means of the intervals over by then erred less (module doc), else 1
    (`means`: window x series x step forecast means)."""
    windows, n, horizon = means.shape
    inside = np.arange(horizon)[None, :] < interval[:, None]  # steps in each interval
    model = (means * inside[None]).sum(axis=2)
    pooled = np.vstack([pooled_rate(panel.units[:, :start + i], panel.censored[:, :start + i],
                                    group, level_periods=level_periods,
                                    share_periods=share_periods) * interval
                        for i in range(windows)]) if windows else np.zeros((0, n))
    actual, ends = _recorded_intervals(panel, start, windows, interval)
    model_err, pooled_err = np.zeros(windows + 1), np.zeros(windows + 1)
    for j in range(windows):  # errors of window j, known once its last interval is over
        ok = np.isfinite(actual[j])
        over = min(int(ends[j].max(initial=0)) - start, windows)
        model_err[over] += np.abs(model[j] - actual[j])[ok].sum()
        blend = (1.0 - weight) * model[j] + weight * pooled[j]
        pooled_err[over] += np.abs(blend - actual[j])[ok].sum()
    better = np.cumsum(pooled_err)[:windows] < np.cumsum(model_err)[:windows]
    scale = np.ones((windows, n))
    for i in np.flatnonzero(better):
        scale[i] = pooled_factor(model[i], pooled[i], weight=weight)
    return scale


def _recorded_intervals(panel: Panel, start: int, windows: int, interval: IntArray
                        ) -> tuple[FloatArray, IntArray]:
    """Recorded sales over each window's interval per series (NaN where a period in it is
    censored, unreported or past the data) and the grid period each interval ends at."""
    bad = panel.censored | ~np.isfinite(panel.units)
    sales = np.where(bad, 0.0, panel.units)
    cum = np.concatenate([np.zeros((panel.n_series, 1)), np.cumsum(sales, axis=1)], axis=1)
    cum_bad = np.concatenate([np.zeros((panel.n_series, 1)), np.cumsum(bad, axis=1)], axis=1)
    t = start + np.arange(windows)[:, None]
    end = t + interval[None, :]
    rows = np.arange(panel.n_series)[None, :]
    stop = np.minimum(end, panel.n_periods)
    total = cum[rows, stop] - cum[rows, t]
    clean = (cum_bad[rows, stop] - cum_bad[rows, t] == 0) & (end <= panel.n_periods)
    return np.where(clean, total, np.nan), end
