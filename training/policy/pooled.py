"""The pooled demand rate in the replay: channelcast's interval means moved towards it.

At each replayed period the rate (`models.allocation.pooled.pooled_rate`) is computed from
the sales recorded before that period only (the forecasts' own cutoff), times each series'
protection interval. Whether it is used is decided by the product's gate
(`models.allocation.pooled.pooled_gate_on`, the one function `training.policy.served` uses)
on the same kind of evidence (`interval_evidence`): the replayed forecasts' interval sums, the
half-way means' and the recorded sales over the intervals of the windows before the replayed
week. By default those are every replayed window whose intervals are all over by then (the
replay's evidence grows week by week; the first weeks, before any interval is over, keep the
forecasts); `windows=k` takes the product's layout instead, the k windows `h` (the longest
interval) periods apart just before the week. When on, every forecast step of the window,
quantiles and mean, is scaled by the series' `pooled_factor` (else left alone).
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
    interval_evidence,
    pooled_factor,
    pooled_gate_on,
)

__all__ = ["evidence_windows", "pooled_scale"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def pooled_scale(panel: Panel, means: FloatArray, *, start: int, interval: IntArray,
                 group: IntArray, weight: float = POOLED_WEIGHT,
                 level_periods: int = LEVEL_PERIODS, share_periods: int = SHARE_PERIODS,
                 windows: int | None = None) -> FloatArray:
    """Factor per window x series for the forecasts: window i (made for grid period
    `start` + i) moves its interval mean `weight` of the way to the pooled rate x `interval`
    when the gate is on for it on the windows before it (`evidence_windows`), else 1
    (`means`: window x series x step forecast means; an interval longer than its steps counts
    as the steps, as for the product's horizon)."""
    n_windows = means.shape[0]
    evidence = interval_evidence(panel.units, panel.censored, group,
                                 cutoffs=[start + i for i in range(n_windows)], forecasts=means,
                                 periods=interval.astype(np.float64),
                                 level_periods=level_periods, share_periods=share_periods)
    # an interval longer than the forecasts counts as their steps (as in the evidence), so it
    # is over, and the product's windows are spaced, `steps` periods after the cutoff
    longest = min(int(interval.max(initial=1)), means.shape[2])
    scale = np.ones(means.shape[:2])
    for i in range(n_windows):
        past = evidence_windows(i, longest=longest, windows=windows)
        if past.size and pooled_gate_on(evidence.take(past), weight=weight).used:
            scale[i] = pooled_factor(evidence.model[i], evidence.pooled[i], weight=weight)
    return scale


def evidence_windows(i: int, *, longest: int, windows: int | None = None) -> IntArray:
    """The replayed windows behind week i's gate: every window whose intervals (at most
    `longest` periods) are over by week i (`windows` None), or the `windows` windows `longest`
    periods apart just before it (none before week `windows` x `longest`)."""
    if windows is None:
        return np.arange(max(i - longest + 1, 0), dtype=np.int64)
    if i < windows * longest:
        return np.zeros(0, np.int64)
    return np.arange(i - windows * longest, i, longest, dtype=np.int64)
