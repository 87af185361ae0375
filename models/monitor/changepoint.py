"""Dating an alert's evidence: the maximum-likelihood start of a one-sided mean shift.

A detector keeps a run of periods that look shifted (below expectation, sell-in above
sell-through); the run often begins a few ordinary periods before the real change, which
happened to lean the same way. Over the run's periods k..t of a signed excess x_j (zero mean
before a change, unit scale), the likelihood of a shift starting at k is largest where
sum_{j=k..t} x_j / sqrt(n_k) is, n_k the counted periods from k to t (the CUSUM / GLR change
point with a known pre-change mean of 0). Only the date moves: whether and when an alert is
raised, and its score, stay the detector's.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from models.monitor.panel import FloatArray

__all__ = ["shift_start", "sum_from"]

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
_WIDTHS = (4, 16, 64)  # rows are scored in blocks of similar run widths (cheap short runs)


def shift_start(excess: FloatArray, run_first: IntArray, active: BoolArray) -> IntArray:
    """Per row and period t, the k in run_first..t maximising the sum of `excess` over
    k..t over sqrt(its count); ties go to the later k.

    Args:
        excess: (rows x periods) excess of each period, NaN where a period does not count
            (it is neither a candidate start nor in the count).
        run_first: (rows x periods) first period of the run ending at t.
        active: (rows x periods) where to date; elsewhere the result is `run_first`.

    Returns:
        (rows x periods) start periods; `run_first` where no period of the run counts.
    """
    start = run_first.astype(np.int64, copy=True)
    for t in range(excess.shape[1]):
        rows = np.flatnonzero(active[:, t])
        if rows.size == 0:
            continue
        width = t - run_first[rows, t] + 1
        low = 0
        for high in (*_WIDTHS, int(width.max())):
            part = rows[(width > low) & (width <= high)]
            if part.size:
                start[part, t] = _best_start(excess[part], run_first[part, t], t)
            low = max(low, high)
    return start


def _best_start(excess: FloatArray, first: IntArray, t: int) -> IntArray:
    """`shift_start` at period t for rows whose runs begin at `first` (all <= t)."""
    width = int((t - first).max()) + 1
    back = excess[:, t - width + 1: t + 1][:, ::-1]  # column d is period t - d
    counts = ~np.isnan(back) & (np.arange(width)[None, :] <= (t - first)[:, None])
    total = np.cumsum(np.where(counts, back, 0.0), axis=1)
    n = np.cumsum(counts, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        stat = np.where(counts, total / np.sqrt(n), -np.inf)
    best = np.argmax(stat, axis=1)  # the first maximum is the latest start
    return np.where(counts.any(axis=1), t - best, first).astype(np.int64)


def sum_from(values: FloatArray, start: IntArray) -> FloatArray:
    """Per row and period t, the sum of `values` (no NaN) over periods start[., t] .. t."""
    total = np.cumsum(values, axis=1)
    before = np.concatenate([np.zeros((values.shape[0], 1)), total], axis=1)
    out: FloatArray = total - np.take_along_axis(before, start, axis=1)
    return out
