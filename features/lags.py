"""Lag and window statistics over a (series x periods) array.

Every function returns, at position t, a statistic of values at positions <= t - lag + 1
only, so with lag >= 1 the value at the origin is the newest one used. Names spell out the
recipe (STYLE.md H5): `units_rollmean_lag1_w4` is the mean of the 4 periods ending at lag 1.
NaN marks "not observed" and is skipped, never counted as a zero.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = [
    "lag",
    "periods_since_last_positive",
    "rolling_mean",
    "rolling_std",
    "rolling_zero_share",
    "series_age",
]

FloatArray = npt.NDArray[np.float64]


def _check_lag(lag_: int) -> None:
    if lag_ < 1:
        raise ValueError(f"`lag` must be >= 1 so the period being forecast never feeds its own "
                         f"features; got {lag_}.")


def lag(values: FloatArray, *, lag: int) -> FloatArray:
    """Value `lag - 1` periods before each position (lag 1 = the value at the origin itself).

    Features are indexed by origin: the row for origin t forecasts t + 1 onwards, so the
    value at t is one period before the first target, as mlforecast's `lag1`.
    """
    _check_lag(lag)
    shift = lag - 1
    if shift == 0:
        return values.copy()
    out = np.full_like(values, np.nan)
    out[:, shift:] = values[:, :-shift]
    return out


def _window_sums(values: FloatArray, window: int, shift: int) -> tuple[FloatArray, FloatArray]:
    """Sum and count of non-NaN values in the `window` periods ending `shift` before t."""
    present = ~np.isnan(values)
    zeros = np.zeros((values.shape[0], 1))
    csum = np.concatenate([zeros, np.cumsum(np.where(present, values, 0.0), axis=1)], axis=1)
    ccnt = np.concatenate([zeros, np.cumsum(present, axis=1, dtype=np.float64)], axis=1)
    n = values.shape[1]
    hi = np.arange(n) + 1 - shift
    lo = np.maximum(hi - window, 0)
    hi = np.clip(hi, 0, n)
    return csum[:, hi] - csum[:, lo], ccnt[:, hi] - ccnt[:, lo]


def rolling_mean(values: FloatArray, *, lag: int, window: int) -> FloatArray:
    """Mean of the observed values in the `window` periods ending at `lag`; NaN if none."""
    _check_lag(lag)
    total, count = _window_sums(values, window, lag - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / count, np.nan)


def rolling_std(values: FloatArray, *, lag: int, window: int) -> FloatArray:
    """Sample standard deviation over the window (needs two observed values, else NaN)."""
    _check_lag(lag)
    total, count = _window_sums(values, window, lag - 1)
    total_sq, _ = _window_sums(values * values, window, lag - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / count
        var = (total_sq - count * mean * mean) / (count - 1)
    return np.where(count > 1, np.sqrt(np.maximum(var, 0.0)), np.nan)


def rolling_zero_share(values: FloatArray, *, lag: int, window: int) -> FloatArray:
    """Share of observed periods in the window with zero units (intermittency)."""
    _check_lag(lag)
    is_zero = np.where(np.isnan(values), np.nan, (values == 0).astype(np.float64))
    return rolling_mean(is_zero, lag=lag, window=window)


def periods_since_last_positive(values: FloatArray) -> FloatArray:
    """Periods since the last value > 0 at or before each position; NaN before the first one."""
    n = values.shape[1]
    idx = np.where(values > 0, np.arange(n), -1)
    last = np.maximum.accumulate(idx, axis=1)
    return np.where(last >= 0, np.arange(n) - last, np.nan).astype(np.float64)


def series_age(first: npt.NDArray[np.int64], n_periods: int) -> FloatArray:
    """Periods since each series' first report, counting the first as 1; NaN before it."""
    age = np.arange(n_periods)[None, :] - first[:, None] + 1
    return np.where(age >= 1, age, np.nan).astype(np.float64)
