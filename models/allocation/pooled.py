"""Pooled demand rate: a node's share of its sku's sales times the sku's recent level.

A node's own history is a noisy estimate of its demand (a few overdispersed units a week);
the sku's level pooled over all its nodes is much less noisy, and each node's share of the
sku moves slowly. Their product is the top-down rate per period; channelcast allocates on the
forecast's interval demand rescaled towards it (`pooled_factor`: the quantile shape stays the
forecast's, the mean moves `weight` of the way to the pooled one). On the generated channels
this cut the interval mean's error and raised channelcast's fill rate at every supply level
(BENCHMARKS.md, "Policy headroom against perfect foresight (issue 20)").

Periods whose sales were cut by a stock-out (`censored`) or not reported count neither in
the shares nor in the level: the level is the sku's uncensored sales over the recent periods
divided by the shares of the nodes they came from.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["LEVEL_PERIODS", "POOLED_WEIGHT", "SHARE_PERIODS", "pooled_factor", "pooled_rate"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

LEVEL_PERIODS = 2
"""Recent periods behind the sku's level."""
SHARE_PERIODS = 52
"""Periods behind each node's share of its sku (a year of weeks)."""
POOLED_WEIGHT = 0.5
"""How far channelcast moves the forecast's interval mean towards the pooled one."""


def pooled_rate(units: FloatArray, censored: BoolArray, group: IntArray, *,
                level_periods: int = LEVEL_PERIODS, share_periods: int = SHARE_PERIODS
                ) -> FloatArray:
    """Per series: the sku's recent level x the node's share of it, in units per period.

    Args:
        units: series x periods of recorded sales up to the cutoff (the last column is the
            latest known period; NaN where not reported).
        censored: same shape, True where the sales were cut by a stock-out.
        group: the sku number of each series.
        level_periods, share_periods: periods behind the level and the shares.
    """
    if level_periods < 1 or share_periods < 1:
        raise ValueError(f"`level_periods` and `share_periods` must be >= 1; got "
                         f"{level_periods} and {share_periods}.")
    seen = np.isfinite(units) & ~censored
    sales = np.where(seen, units, 0.0)
    n_skus = int(group.max(initial=-1)) + 1
    known = seen[:, -share_periods:].sum(axis=1)
    rate = np.divide(sales[:, -share_periods:].sum(axis=1), known,
                     out=np.zeros(len(group)), where=known > 0)
    total = np.bincount(group, weights=rate, minlength=n_skus)[group]
    share = np.divide(rate, total, out=np.zeros(len(group)), where=total > 0)
    recent = seen[:, -level_periods:]
    sold = np.bincount(group, weights=sales[:, -level_periods:].sum(axis=1), minlength=n_skus)
    covered = np.bincount(group, weights=(share[:, None] * recent).sum(axis=1),
                          minlength=n_skus)
    level = np.divide(sold, covered, out=np.zeros(n_skus), where=covered > 0)
    out: FloatArray = share * level[group]
    return out


def pooled_factor(mean: FloatArray, pooled_mean: FloatArray, *,
                  weight: float = POOLED_WEIGHT) -> FloatArray:
    """Per row: the factor that takes `mean` to (1 - weight) x mean + weight x pooled_mean
    (1 where `mean` is 0: a forecast of nothing has no shape to rescale)."""
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"`weight` must be in [0, 1]; got {weight}.")
    target = (1.0 - weight) * mean + weight * pooled_mean
    out: FloatArray = np.divide(target, mean, out=np.ones(len(mean)), where=mean > 0)
    return out
