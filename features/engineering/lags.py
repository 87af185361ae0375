"""Lag and window statistics over a (series x periods) array.

Every function returns, at position t, a statistic of values at positions <= t - lag + 1
only, so with lag >= 1 the value at the origin is the newest one used. Names spell out the
recipe: `units_rollmean_lag1_w4` is the mean of the 4 periods ending at lag 1.
NaN marks "not observed" and is skipped, never counted as a zero.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt

__all__ = [
    "lag",
    "periods_since_last_positive",
    "rolling_mean",
    "rolling_stats",
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


class _Cumulative:
    """Running sums of one array, from which any window ending at any lag is two slices.

    With P a cumulative sum padded by `pad` leading zeros, the window of length w ending
    `shift` periods before t is P[t + pad - shift] - P[t + pad - shift - w]. Computing P
    once serves every window, so five window lengths cost one pass, not five.
    """

    def __init__(self, values: FloatArray, *, max_reach: int) -> None:
        present = ~np.isnan(values)
        self.n = values.shape[1]
        self.pad = max_reach + 1
        clean = np.where(present, values, 0.0)
        self.sum = self._cumsum(clean)
        self.count = self._cumsum(present)
        self._values = clean
        self._present = present
        self._sq: FloatArray | None = None
        self._zero: FloatArray | None = None

    def _cumsum(self, values: npt.NDArray[np.float64] | npt.NDArray[np.bool_]) -> FloatArray:
        out = np.zeros((values.shape[0], self.n + self.pad))
        np.cumsum(values, axis=1, out=out[:, self.pad:])
        return out

    def window(self, cum: FloatArray, *, window: int, shift: int) -> FloatArray:
        if window + shift + 1 > self.pad:
            raise ValueError(f"`window` + `lag` must be <= {self.pad}; got {window + shift + 1}.")
        hi = self.pad - shift
        lo = hi - window
        return cum[:, hi:hi + self.n] - cum[:, lo:lo + self.n]

    @property
    def squares(self) -> FloatArray:
        if self._sq is None:
            self._sq = self._cumsum(self._values * self._values)
        return self._sq

    @property
    def zeros(self) -> FloatArray:
        if self._zero is None:
            self._zero = self._cumsum(self._present & (self._values == 0))
        return self._zero


def _mean(c: _Cumulative, window: int, shift: int) -> FloatArray:
    total = c.window(c.sum, window=window, shift=shift)
    count = c.window(c.count, window=window, shift=shift)
    with np.errstate(invalid="ignore", divide="ignore"):
        total /= count  # an empty window is 0 / 0 = NaN, as wanted
    return total


def _std(c: _Cumulative, window: int, shift: int) -> FloatArray:
    total = c.window(c.sum, window=window, shift=shift)
    count = c.window(c.count, window=window, shift=shift)
    var = c.window(c.squares, window=window, shift=shift)
    with np.errstate(invalid="ignore", divide="ignore"):
        total *= total
        total /= count
        var -= total
        count -= 1
        var /= count
    np.maximum(var, 0.0, out=var)  # rounding can leave -1e-12 for a constant window
    np.sqrt(var, out=var)
    var[count < 1] = np.nan
    return var


def _zero_share(c: _Cumulative, window: int, shift: int) -> FloatArray:
    zeros = c.window(c.zeros, window=window, shift=shift)
    count = c.window(c.count, window=window, shift=shift)
    with np.errstate(invalid="ignore", divide="ignore"):
        zeros /= count
    return zeros


_STATS = {"mean": _mean, "std": _std, "zeroshare": _zero_share}


def rolling_stats(values: FloatArray, *, lag: int, windows: tuple[int, ...],
                  stats: tuple[str, ...] = ("mean", "std", "zeroshare")
                  ) -> Iterator[tuple[str, int, FloatArray]]:
    """Yield (stat, window, array) for every stat and window, sharing one set of running sums.

    Stats: `mean` and `std` (sample, needs 2 values) of the observed values, `zeroshare`
    (share of observed periods with 0). NaN is skipped; a window with nothing observed is NaN.
    Arrays are yielded one at a time so a caller can keep only what it needs.
    """
    _check_lag(lag)
    unknown = set(stats) - set(_STATS)
    if unknown:
        raise ValueError(f"`stats` must be among {sorted(_STATS)}; got {sorted(unknown)}.")
    cum = _Cumulative(values, max_reach=max(windows) + lag - 1)
    for w in windows:
        for stat in stats:
            yield stat, w, _STATS[stat](cum, w, lag - 1)


def rolling_mean(values: FloatArray, *, lag: int, window: int) -> FloatArray:
    """Mean of the observed values in the `window` periods ending at `lag`; NaN if none."""
    return next(rolling_stats(values, lag=lag, windows=(window,), stats=("mean",)))[2]


def rolling_std(values: FloatArray, *, lag: int, window: int) -> FloatArray:
    """Sample standard deviation over the window (needs two observed values, else NaN)."""
    return next(rolling_stats(values, lag=lag, windows=(window,), stats=("std",)))[2]


def rolling_zero_share(values: FloatArray, *, lag: int, window: int) -> FloatArray:
    """Share of observed periods in the window with zero units (intermittency)."""
    return next(rolling_stats(values, lag=lag, windows=(window,), stats=("zeroshare",)))[2]


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
