"""Baseline point forecasts, batched over the series of a (series, periods) panel.

Input convention shared by `models.baselines`, `models.intermittent` and `models.classify`:
`y` is a float array of shape (S, T), one row per series on a shared period grid. NaN means
"not observed" (before launch, after discontinuation, or a censored stock-out period); the last
column is the forecast origin. Every forecaster returns a finite, non-negative (S, horizon) array
with a row for every series: rows without any observation forecast 0, and negative values
(returns) are clipped to 0 in the forecast.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import numpy.typing as npt

__all__ = [
    "as_panel",
    "moving_average",
    "naive",
    "seasonal_moving_average",
    "seasonal_naive",
]

FloatArray = npt.NDArray[np.float64]


def as_panel(y: npt.ArrayLike) -> FloatArray:
    """Validate `y` against the panel convention and return it as float64 (no copy if possible).

    Raises:
        ValueError: if `y` is not 2-D, has no period column, or contains +/-inf.
    """
    arr = np.asarray(y, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"`y` must be a 2-D (series, periods) array; got shape {arr.shape}.")
    if arr.shape[1] == 0:
        raise ValueError(f"`y` must have at least one period column; got shape {arr.shape}. "
                         "Blank unobserved periods with NaN instead of dropping them.")
    if np.isinf(arr).any():
        raise ValueError("`y` contains infinite values; use NaN for unobserved periods.")
    return arr


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ValueError(f"`{name}` must be a positive integer; got {value!r}.")
    return int(value)


def _unit_interval(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not 0.0 < float(value) <= 1.0:
        raise ValueError(f"`{name}` must be a float in (0, 1]; got {value!r}.")
    return float(value)


def _repeat(level: FloatArray, horizon: int) -> FloatArray:
    """Broadcast one level per series (S,) or one value per season position (S, m) to (S, h)."""
    level = level[:, None] if level.ndim == 1 else level
    cols = np.arange(horizon) % level.shape[1]
    out = level[:, cols]
    return np.clip(np.nan_to_num(out, nan=0.0), 0.0, None)


def _last_observed(y: FloatArray) -> FloatArray:
    """Last non-NaN value along the last axis; NaN where a row has none."""
    obs = ~np.isnan(y)
    last = y.shape[-1] - 1 - np.argmax(obs[..., ::-1], axis=-1)
    vals = np.take_along_axis(y, last[..., None], axis=-1)[..., 0]
    return np.where(obs.any(axis=-1), vals, np.nan)


def _recent_mask(obs: npt.NDArray[np.bool_], window: int | None) -> npt.NDArray[np.bool_]:
    """Mask of the last `window` observed cells of each row (all observed cells if None)."""
    if window is None:
        return obs
    rank_from_end = np.cumsum(obs[:, ::-1], axis=1)[:, ::-1]
    return obs & (rank_from_end <= window)


def _cycles(y: FloatArray, season: int) -> FloatArray:
    """Reshape (S, T) to (S, C, season) so that the origin sits at position season - 1."""
    n_series, n_periods = y.shape
    n_cycles = -(-n_periods // season)
    padded = np.full((n_series, n_cycles * season), np.nan)
    padded[:, n_cycles * season - n_periods:] = y
    return padded.reshape(n_series, n_cycles, season)


def naive(y: npt.ArrayLike, *, horizon: int) -> FloatArray:
    """Repeat the last observed value of each series (0 if the series has none)."""
    horizon = _positive_int("horizon", horizon)
    return _repeat(_last_observed(as_panel(y)), horizon)


def moving_average(y: npt.ArrayLike, *, horizon: int, window: int) -> FloatArray:
    """Mean of the last `window` observed (non-NaN) values of each series.

    Series with fewer than `window` observations use all they have; none gives 0.
    """
    horizon = _positive_int("horizon", horizon)
    window = _positive_int("window", window)
    panel = as_panel(y)
    keep = _recent_mask(~np.isnan(panel), window)
    total = np.where(keep, panel, 0.0).sum(axis=1)
    count = keep.sum(axis=1)
    level = np.divide(total, count, out=np.zeros_like(total), where=count > 0)
    return _repeat(level, horizon)


def seasonal_naive(y: npt.ArrayLike, *, horizon: int, season: int) -> FloatArray:
    """Value of the same season position in the last cycle before the origin.

    A NaN cell falls back to the most recent observed value of that season position, then to
    the last observed value of the series, then to 0.
    """
    horizon = _positive_int("horizon", horizon)
    season = _positive_int("season", season)
    panel = as_panel(y)
    by_position = _last_observed(np.swapaxes(_cycles(panel, season), 1, 2))
    fallback = _last_observed(panel)[:, None]
    return _repeat(np.where(np.isnan(by_position), fallback, by_position), horizon)


def seasonal_moving_average(
    y: npt.ArrayLike, *, horizon: int, season: int, n_seasons: int
) -> FloatArray:
    """Mean of the same season position over the last `n_seasons` cycles (observed cells only).

    E.g. `season=52, n_seasons=2` forecasts each week as the mean of that week over the last two
    years. Positions never observed in those cycles fall back to the last observed value, then 0.
    """
    horizon = _positive_int("horizon", horizon)
    season = _positive_int("season", season)
    n_seasons = _positive_int("n_seasons", n_seasons)
    panel = as_panel(y)
    recent = _cycles(panel, season)[:, -n_seasons:, :]
    obs = ~np.isnan(recent)
    total = np.where(obs, recent, 0.0).sum(axis=1)
    count = obs.sum(axis=1)
    by_position = np.divide(total, count, out=np.full_like(total, np.nan), where=count > 0)
    fallback = _last_observed(panel)[:, None]
    return _repeat(np.where(np.isnan(by_position), fallback, by_position), horizon)
