"""Quantiles from out-of-sample residuals: split-conformal by horizon step, scaled per series.

Every model gives a mean; its quantiles come from what its own errors looked like on earlier
backtest windows: r = (y - mean) / scale, pooled per horizon step and series class, and
q_tau = max(0, mean + scale * Q_tau(r)). The scale makes residuals of a 5-unit dealer and a
5,000-unit distributor comparable: the series' mean absolute one-period change over its
recent history (the MASE denominator), falling back to its mean level, then to 1.

Why this method (measured in BENCHMARKS.md): LightGBM's own quantile objective needs one
model per quantile and was not calibrated out of sample; Gaussian ETS intervals assume
normal errors that count data does not have; unscaled conformal intervals (mlforecast's)
are far too narrow for large series and too wide for small ones.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

__all__ = ["ConformalQuantiles", "forecast_level", "quantile_level", "quantile_name",
           "series_scale", "weighted_quantile"]

FloatArray = npt.NDArray[np.float64]
MIN_POOL = 50


def quantile_name(q: float) -> str:
    """Column name of quantile q: 0.1 -> "q0.1", 0.05 -> "q0.05"."""
    if not 0.0 < q < 1.0:
        raise ValueError(f"quantiles must be in (0, 1); got {q}.")
    return f"q{float(q):g}"


def quantile_level(q: float) -> float:
    """The level its column name stands for: 0.1 -> 0.1; a level the name would round
    (0.1000000001 -> "q0.1", 0.99999999999999 -> "q1") is refused.

    Levels carry at most 6 significant digits, so distinct levels get distinct columns and a
    column's name is its level. Float noise (0.30000000000000004) is read as the level named.

    Raises:
        ValueError: q is not in (0, 1), or has more than 6 significant digits.
    """
    name = quantile_name(q)
    named = float(name[1:])
    if not math.isclose(q, named, rel_tol=1e-12, abs_tol=0.0):
        raise ValueError(f"quantile level {q!r} has more than 6 significant digits: its column "
                         f"would be {name!r}, the column of {named:g}; send at most 6 "
                         "significant digits, e.g. 0.05 or 0.975.")
    if not 0.0 < named < 1.0:
        raise ValueError(f"quantile level {q!r} rounds to {named:g} at 6 significant digits; "
                         "send a level in (0, 1), e.g. 0.99.")
    return named


def series_scale(y: FloatArray, *, window: int = 52) -> FloatArray:
    """Per-series error scale from the history `y` (S x T, NaN = not observed).

    Mean |y_t - y_{t-1}| over the last `window` observed changes; where that is 0 or
    undefined, the mean observed level; where that is 0 too, 1.
    """
    recent = y[:, -(window + 1):]
    diffs = np.abs(np.diff(recent, axis=1))
    with np.errstate(invalid="ignore"):
        n = np.sum(~np.isnan(diffs), axis=1)
        mad = np.where(n > 0, np.nansum(diffs, axis=1) / np.maximum(n, 1), np.nan)
        m = np.sum(~np.isnan(recent), axis=1)
        level = np.where(m > 0, np.nansum(recent, axis=1) / np.maximum(m, 1), np.nan)
    scale = np.where(mad > 0, mad, level)
    return np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)


@dataclass
class ConformalQuantiles:
    """Pooled scaled residuals per (horizon step, group); call `add` then `predict`.

    Groups with fewer than `MIN_POOL` residuals at a step borrow the pool of all groups.
    `weighted`: each residual weighs as much as its series' mean forecast over the window
    (the level of the forecast it came from), so the quantiles fit the series that carry the
    volume, as the scaled pinball loss of the evaluation protocol weights them; `weights`
    holds them beside `pools`. Unweighted by default.
    """

    horizon: int
    pools: dict[tuple[int, str], list[FloatArray]] = field(default_factory=dict)
    weighted: bool = False
    weights: dict[tuple[int, str], list[FloatArray]] = field(default_factory=dict)

    def add(self, *, mean: FloatArray, actual: FloatArray, scale: FloatArray,
            groups: npt.NDArray[np.str_], steps: Iterable[int] | None = None) -> None:
        """Add one window's residuals: mean/actual are S x h, scale and groups per series.

        `steps` (0-based horizon steps) adds only those steps' residuals: a backtest whose
        cutoffs are closer than the horizon adds step k once its target period is past.
        """
        r = (actual - mean) / scale[:, None]
        level = forecast_level(mean) if self.weighted else None
        width = min(self.horizon, r.shape[1])
        for k in (range(width) if steps is None else sorted({int(s) for s in steps})):
            if not 0 <= k < width:
                continue
            ok = ~np.isnan(r[:, k])
            for g in [*np.unique(groups[ok]), "*"]:
                sel = ok & (groups == g) if g != "*" else ok
                self.pools.setdefault((k, str(g)), []).append(r[sel, k])
                if level is not None:
                    self.weights.setdefault((k, str(g)), []).append(level[sel])

    @property
    def empty(self) -> bool:
        return not self.pools

    def residual_quantiles(self, qs: Sequence[float], *, step: int, group: str) -> FloatArray:
        """Quantiles of the residuals of (`step`, `group`); a small group borrows the pool
        of all groups, and a step with no residuals yet borrows the nearest step that has
        some (the shorter on a tie). With cutoffs closer than the horizon the long steps of
        the first windows are not known yet; a shorter step's spread is the closest guess."""
        key = (step, group)
        if self._values(*key).size < MIN_POOL:
            key = (step, "*")
        if self._values(*key).size == 0:
            near = sorted(range(self.horizon), key=lambda s: (abs(s - step), s > step))
            key = next(((s, "*") for s in near if self._values(s, "*").size), key)
        values = self._values(*key)
        if values.size == 0:
            return np.zeros(len(qs))
        if self.weighted:
            return weighted_quantile(values, np.concatenate(self.weights[key]), qs)
        return np.quantile(values, qs)

    def _values(self, step: int, group: str) -> FloatArray:
        pool = self.pools.get((step, group), [])
        return np.concatenate(pool) if pool else np.empty(0)

    def predict(self, *, mean: FloatArray, scale: FloatArray, groups: npt.NDArray[np.str_],
                quantiles: Sequence[float]) -> dict[float, FloatArray]:
        """Quantile forecasts {q: S x h}, non-negative and non-crossing."""
        if self.empty:
            raise RuntimeError("no residuals yet: `add` at least one earlier window first.")
        qs = sorted(float(q) for q in quantiles)
        out = {q: np.empty_like(mean) for q in qs}
        for k in range(mean.shape[1]):
            step = min(k, self.horizon - 1)
            for g in np.unique(groups):
                sel = groups == g
                rq = self.residual_quantiles(qs, step=step, group=str(g))
                for q, r in zip(qs, rq, strict=True):
                    out[q][sel, k] = mean[sel, k] + scale[sel] * r
        for q in qs:
            np.clip(out[q], 0.0, None, out=out[q])
        return out


def forecast_level(mean: FloatArray) -> FloatArray:
    """Per series, the mean of its forecast row (0 where none is finite): a residual's weight."""
    finite = np.isfinite(mean)
    n = finite.sum(axis=1)
    total = np.where(finite, mean, 0.0).sum(axis=1)
    return np.where(n > 0, total / np.maximum(n, 1), 0.0)


def weighted_quantile(values: FloatArray, weights: FloatArray, qs: Sequence[float]
                      ) -> FloatArray:
    """Quantiles `qs` of `values` where each weighs `weights` (>= 0): the weighted empirical
    distribution with each value at the middle of its weight, linearly interpolated. With
    all weights 0 (or not finite) every value weighs the same."""
    w = np.where(np.isfinite(weights) & (weights > 0), weights, 0.0)
    if w.sum() <= 0:
        return np.quantile(values, qs)
    order = np.argsort(values, kind="stable")
    v, w = values[order], w[order]
    position = (np.cumsum(w) - 0.5 * w) / w.sum()
    return np.interp(qs, position, v)
