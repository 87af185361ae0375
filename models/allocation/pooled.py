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

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["CALIBRATION_WINDOWS", "LEVEL_PERIODS", "POOLED_WEIGHT", "NO_EVIDENCE",
           "SHARE_PERIODS", "PooledGate", "pooled_factor", "pooled_gate_on", "pooled_rate"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

LEVEL_PERIODS = 2
"""Recent periods behind the sku's level."""
SHARE_PERIODS = 52
"""Periods behind each node's share of its sku (a year of weeks)."""
POOLED_WEIGHT = 0.5
"""How far channelcast moves the forecast's interval mean towards the pooled one."""
CALIBRATION_WINDOWS = 3
"""Windows of evidence behind the gate (the served model's calibration windows)."""


@dataclass(frozen=True)
class PooledGate:
    """Whether channelcast's interval means are moved to the pooled rate (`pooled_gate_on`).

    Attributes:
        used: the pooled rate has erred less than the model on the calibration windows.
        model_error, pooled_error: their total absolute per-period errors there.
        windows: calibration windows compared (0: no evidence, the forecasts are kept).
    """

    used: bool
    model_error: float
    pooled_error: float
    windows: int


NO_EVIDENCE = PooledGate(used=False, model_error=np.nan, pooled_error=np.nan, windows=0)
"""The gate without calibration windows: the forecasts are kept."""


def pooled_gate_on(units: FloatArray, censored: BoolArray, group: IntArray, *,
                   cutoffs: Sequence[int], horizon: int, model_error: float,
                   rows: BoolArray | None = None, level_periods: int = LEVEL_PERIODS,
                   share_periods: int = SHARE_PERIODS) -> PooledGate:
    """The one pooled gate of the product and the replay: on when, over the calibration
    windows (`horizon` periods after each of `cutoffs`, a cutoff being the number of periods
    seen), the pooled rate alone has a smaller total absolute per-period error on `rows`
    (default all; unreported periods left out) than `model_error`, the model's there."""
    if not cutoffs or not np.isfinite(model_error):
        return NO_EVIDENCE
    keep = np.ones(len(group), bool) if rows is None else rows
    pooled = 0.0
    for t in cutoffs:
        rate = pooled_rate(units[:, :t], censored[:, :t], group,
                           level_periods=level_periods, share_periods=share_periods)
        pooled += float(np.nansum(np.abs(rate[keep, None] - units[keep, t:t + horizon])))
    return PooledGate(used=pooled < model_error, model_error=float(model_error),
                      pooled_error=pooled, windows=len(cutoffs))


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
