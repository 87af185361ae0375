"""Baseline point forecasts, batched over the series of a (series, periods) panel.

Input convention (`models.panel`), shared by `models.intermittent` and `models.classify`:
`y` is a float array of shape (S, T), one row per series on a shared period grid. NaN means
"not observed" (before launch, after discontinuation, or a censored stock-out period); the last
column is the forecast origin. Every forecaster returns a finite, non-negative (S, horizon) array
with a row for every series: rows without any observation forecast 0, and negative values
(returns) are clipped to 0 in the forecast.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from models.checks import positive_int
from models.panel import FloatArray, as_panel, recent_mask, repeat_levels

__all__ = [
    "as_panel",
    "moving_average",
    "naive",
    "seasonal_moving_average",
    "seasonal_naive",
]


def _last_observed(y: FloatArray) -> FloatArray:
    """Last non-NaN value along the last axis; NaN where a row has none."""
    obs = ~np.isnan(y)
    last = y.shape[-1] - 1 - np.argmax(obs[..., ::-1], axis=-1)
    vals = np.take_along_axis(y, last[..., None], axis=-1)[..., 0]
    return np.where(obs.any(axis=-1), vals, np.nan)


def _cycles(y: FloatArray, season: int) -> FloatArray:
    """Reshape (S, T) to (S, C, season) so that the origin sits at position season - 1."""
    n_series, n_periods = y.shape
    n_cycles = -(-n_periods // season)
    padded = np.full((n_series, n_cycles * season), np.nan)
    padded[:, n_cycles * season - n_periods:] = y
    return padded.reshape(n_series, n_cycles, season)


def naive(y: npt.ArrayLike, *, horizon: int) -> FloatArray:
    """Repeat the last observed value of each series (0 if the series has none)."""
    horizon = positive_int("horizon", horizon)
    return repeat_levels(_last_observed(as_panel(y)), horizon)


def moving_average(y: npt.ArrayLike, *, horizon: int, window: int) -> FloatArray:
    """Mean of the last `window` observed (non-NaN) values of each series.

    Series with fewer than `window` observations use all they have; none gives 0.
    """
    horizon = positive_int("horizon", horizon)
    window = positive_int("window", window)
    panel = as_panel(y)
    keep = recent_mask(~np.isnan(panel), window)
    total = np.where(keep, panel, 0.0).sum(axis=1)
    count = keep.sum(axis=1)
    level = np.divide(total, count, out=np.zeros_like(total), where=count > 0)
    return repeat_levels(level, horizon)


def seasonal_naive(y: npt.ArrayLike, *, horizon: int, season: int) -> FloatArray:
    """Value of the same season position in the last cycle before the origin.

    A NaN cell falls back to the most recent observed value of that season position, then to
    the last observed value of the series, then to 0.
    """
    horizon = positive_int("horizon", horizon)
    season = positive_int("season", season)
    panel = as_panel(y)
    by_position = _last_observed(np.swapaxes(_cycles(panel, season), 1, 2))
    fallback = _last_observed(panel)[:, None]
    return repeat_levels(np.where(np.isnan(by_position), fallback, by_position), horizon)


def seasonal_moving_average(
    y: npt.ArrayLike, *, horizon: int, season: int, n_seasons: int
) -> FloatArray:
    """Mean of the same season position over the last `n_seasons` cycles (observed cells only).

    E.g. `season=52, n_seasons=2` forecasts each week as the mean of that week over the last two
    years. Positions never observed in those cycles fall back to the last observed value, then 0.
    """
    horizon = positive_int("horizon", horizon)
    season = positive_int("season", season)
    n_seasons = positive_int("n_seasons", n_seasons)
    panel = as_panel(y)
    recent = _cycles(panel, season)[:, -n_seasons:, :]
    obs = ~np.isnan(recent)
    total = np.where(obs, recent, 0.0).sum(axis=1)
    count = obs.sum(axis=1)
    by_position = np.divide(total, count, out=np.full_like(total, np.nan), where=count > 0)
    fallback = _last_observed(panel)[:, None]
    return repeat_levels(np.where(np.isnan(by_position), fallback, by_position), horizon)
