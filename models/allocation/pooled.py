"""Pooled demand rate: a node's share of its sku's sales times the sku's recent level.

A node's own history is a noisy estimate of its demand (a few overdispersed units a week);
the sku's level pooled over all its nodes is much less noisy, and each node's share of the
sku moves slowly. Their product is the top-down rate per period; channelcast allocates on the
forecast's interval demand rescaled towards it (`pooled_factor`: the quantile shape stays the
forecast's, the mean moves `weight` of the way to the pooled one). On the generated channels
this cut the interval mean's error and raised channelcast's fill rate at every supply level
(BENCHMARKS.md, "Policy headroom against perfect foresight (issue 20)").

The gate (`pooled_gate_on`) judges the move on what channelcast uses it for, splitting each
sku's supply over its nodes: the half-way means' and the forecasts' shares of each sku's
recorded sales over the protection intervals. Judged on the interval sums themselves, the
recent sku level (2 periods, noisier than a good model's level) hid the better split from
the gate once the forecasts were good (LightGBM on the generated channels).

Periods whose sales were cut by a stock-out (`censored`) or not reported count neither in
the shares nor in the level: the level is the sku's uncensored sales over the recent periods
divided by the shares of the nodes they came from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["CALIBRATION_WINDOWS", "LEVEL_PERIODS", "NO_EVIDENCE", "POOLED_WEIGHT",
           "SHARE_PERIODS", "IntervalEvidence", "PooledGate", "interval_evidence",
           "interval_weights", "pooled_factor", "pooled_gate_on", "pooled_rate", "split_error"]

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
"""Windows of evidence behind the product's gate (the served model's calibration windows)."""


@dataclass(frozen=True)
class PooledGate:
    """Whether channelcast's interval means are moved to the pooled rate (`pooled_gate_on`).

    Attributes:
        used: the half-way means have split the skus' sales over their nodes better than
            the forecasts on the evidence.
        model_error, pooled_error: the forecasts' and the half-way means' total absolute
            split errors there (`split_error`).
        windows: windows of evidence (0: none, the forecasts are kept).
        intervals: (window, series) intervals compared (recorded, no stock-out in them).
    """

    used: bool
    model_error: float
    pooled_error: float
    windows: int
    intervals: int = 0


NO_EVIDENCE = PooledGate(used=False, model_error=np.nan, pooled_error=np.nan, windows=0)
"""The gate without evidence: the forecasts are kept."""


@dataclass(frozen=True)
class IntervalEvidence:
    """Per window x series, over each series' protection interval after the window's cutoff:
    the forecasts' sum (`model`), the pooled rate's (`pooled`) and the recorded sales
    (`actual`, NaN where a period of it was cut by a stock-out, not reported, or not yet
    over); `group`: each series' sku number; see `interval_evidence`."""

    model: FloatArray
    pooled: FloatArray
    actual: FloatArray
    group: IntArray

    def take(self, windows: IntArray | slice) -> IntervalEvidence:
        """The evidence of some windows only."""
        return IntervalEvidence(self.model[windows], self.pooled[windows], self.actual[windows],
                                self.group)


def interval_evidence(units: FloatArray, censored: BoolArray, group: IntArray, *,
                      cutoffs: Sequence[int], forecasts: FloatArray, periods: FloatArray,
                      level_periods: int = LEVEL_PERIODS, share_periods: int = SHARE_PERIODS
                      ) -> IntervalEvidence:
    """The gate's evidence from the sales panel and the forecasts made at `cutoffs`.

    Args:
        units, censored, group: the panel (series x periods) and each series' sku number,
            as for `pooled_rate`.
        cutoffs: periods seen by each window's forecasts.
        forecasts: window x series x step mean forecasts made at `cutoffs`.
        periods: each series' protection interval in periods (a fractional last period counts
            in part; NaN: left out).
    """
    weights = interval_weights(periods, forecasts.shape[2])
    model = (forecasts * weights[None]).sum(axis=2)
    pooled = np.zeros_like(model)
    actual = np.full_like(model, np.nan)
    bad = censored | ~np.isfinite(units)
    sales = np.where(bad, 0.0, units)
    steps = weights.shape[1]
    for w, t in enumerate(cutoffs):
        rate = pooled_rate(units[:, :t], censored[:, :t], group,
                           level_periods=level_periods, share_periods=share_periods)
        pooled[w] = rate * np.nansum(weights, axis=1)
        seen = max(0, min(steps, units.shape[1] - t))  # periods of it in the data
        inside = weights[:, :seen] > 0
        over = inside.sum(axis=1) == (weights > 0).sum(axis=1)  # in the data by its end
        clean = over & inside.any(axis=1) & ~(bad[:, t:t + seen] & inside).any(axis=1)
        actual[w] = np.where(clean, (sales[:, t:t + seen] * weights[:, :seen]).sum(axis=1),
                             np.nan)
    return IntervalEvidence(model, pooled, actual, np.asarray(group, dtype=np.int64))


def interval_weights(periods: FloatArray, steps: int) -> FloatArray:
    """series x steps: how much of each step lies in the series' first `periods` periods
    (1, then the fractional part, then 0; all 0 where `periods` is NaN)."""
    k = np.arange(steps, dtype=np.float64)[None, :]
    out: FloatArray = np.clip(np.nan_to_num(periods, nan=0.0)[:, None] - k, 0.0, 1.0)
    return out


def pooled_gate_on(evidence: IntervalEvidence, *, weight: float = POOLED_WEIGHT) -> PooledGate:
    """The one pooled gate of the product and the replay: on when the half-way means
    ((1 - weight) x forecast + weight x pooled) split each sku's recorded sales over its
    nodes better than the forecasts (`split_error`, summed over every (window, series)
    interval of `evidence` with recorded sales; module doc)."""
    ok = np.isfinite(evidence.actual) & np.isfinite(evidence.model)
    if not ok.any():
        return NO_EVIDENCE
    blend = (1.0 - weight) * evidence.model + weight * evidence.pooled
    model_error, pooled_error = _split_errors((evidence.model, blend), evidence.actual,
                                              evidence.group, ok)
    return PooledGate(used=pooled_error < model_error, model_error=model_error,
                      pooled_error=pooled_error, windows=int(ok.any(axis=1).sum()),
                      intervals=int(ok.sum()))


def split_error(means: FloatArray, actual: FloatArray, group: IntArray, ok: BoolArray) -> float:
    """Summed absolute error of the split `means` (window x series) give each (window, sku)'s
    recorded sales over its `ok` series: |share of the sku's means x the sku's recorded total
    - recorded|; a sku whose means are all 0 there is split evenly."""
    return _split_errors((means,), actual, group, ok)[0]


def _split_errors(candidates: tuple[FloatArray, ...], actual: FloatArray, group: IntArray,
                  ok: BoolArray) -> list[float]:
    """`split_error` of each of `candidates`, the (window, sku) cells and their recorded
    totals computed once."""
    n_skus = int(group.max(initial=-1)) + 1
    cell = (np.arange(actual.shape[0])[:, None] * n_skus + group[None, :])[ok]
    size = actual.shape[0] * n_skus
    recorded = actual[ok]
    count = np.bincount(cell, minlength=size)[cell]
    total = np.bincount(cell, weights=recorded, minlength=size)[cell]
    out = []
    for means in candidates:
        mean = np.maximum(means[ok], 0.0)
        mean_total = np.bincount(cell, weights=mean, minlength=size)[cell]
        share = np.divide(mean, mean_total, out=1.0 / count, where=mean_total > 0)
        out.append(float(np.abs(share * total - recorded).sum()))
    return out


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
