"""Quantiles of every series from the reconciled error distribution.

The backtest's residual vectors (all series of one window and step together) are pushed
through the reconciliation: e~ = S G e, the error a reconciled forecast would have made. Each
series' spread is the root mean square of its e~; the shape is the empirical distribution of
e~ / spread pooled over the series of a level (and horizon step, when known). A quantile is
then mean + spread * Q_level,step(q): ordered in q at every level, centred on the reconciled
mean, and aggregates get their own spread (not a sum of bottom quantiles).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["ErrorQuantiles", "fit_error_quantiles"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
#: Probabilities at which each pooled distribution is stored (interpolated in between).
GRID = np.concatenate([[0.0], np.linspace(0.001, 0.999, 999), [1.0]])


@dataclass(frozen=True)
class ErrorQuantiles:
    """Spread per series and standardised error quantiles per (level, step).

    Attributes:
        spread: (n_all,) root mean square reconciled error per series.
        level_codes: (n_all,) index of each series' level in `table`.
        table: (n_levels, n_steps, len(GRID)) quantiles of error / spread.
    """

    spread: FloatArray
    level_codes: IntArray
    table: FloatArray

    def quantiles(self, means: FloatArray, levels: Sequence[float],
                  floor: float | None = 0.0) -> FloatArray:
        """(n_all, h, len(levels)) quantiles around `means` (n_all x h); below `floor` is cut."""
        probs = np.asarray(levels, dtype=np.float64)
        if probs.size == 0 or (probs <= 0).any() or (probs >= 1).any():
            raise ValueError(f"quantile `levels` must be in (0, 1); got {list(levels)}.")
        h = means.shape[1]
        steps = np.minimum(np.arange(h), self.table.shape[1] - 1)
        std = np.stack([np.stack([np.interp(probs, GRID, self.table[lv, s]) for s in steps])
                        for lv in range(self.table.shape[0])])  # levels x h x q
        out = means[:, :, None] + self.spread[:, None, None] * std[self.level_codes]
        if floor is not None:
            out = np.maximum(out, floor)
        return np.asarray(out)


def fit_error_quantiles(errors: FloatArray, level_codes: IntArray, n_levels: int,
                        steps: IntArray | None = None) -> ErrorQuantiles:
    """Fit from reconciled errors (n_all x m, NaN = unknown), each series' level code and the
    horizon step (1, 2, ...) of each of the m columns (None: all steps pooled)."""
    m = errors.shape[1]
    known = ~np.isnan(errors)
    count = known.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        spread = np.sqrt(np.nansum(errors**2, axis=1) / count)
    typical = np.nanmedian(spread[spread > 0]) if (spread > 0).any() else 1.0
    spread = np.where(np.isfinite(spread) & (spread > 0), spread, 1e-9 * typical)
    std = errors / spread[:, None]
    step_of = np.zeros(m, dtype=np.int64) if steps is None else np.asarray(steps) - 1
    n_steps = int(step_of.max()) + 1 if m else 1
    table = np.zeros((n_levels, n_steps, GRID.size))
    for lv in range(n_levels):
        rows = std[level_codes == lv]
        pooled = rows[~np.isnan(rows)]
        fallback = np.quantile(pooled, GRID) if pooled.size else np.zeros(GRID.size)
        for s in range(n_steps):
            values = rows[:, step_of == s]
            values = values[~np.isnan(values)]
            table[lv, s] = np.quantile(values, GRID) if values.size >= 20 else fallback
    return ErrorQuantiles(spread=spread, level_codes=np.asarray(level_codes, np.int64),
                          table=table)
