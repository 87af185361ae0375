"""The (series, periods) panel the local forecasters share: validation and array helpers.

`y` is a float array of shape (S, T), one row per series on a shared period grid. NaN means
"not observed" (before launch, after discontinuation, or a censored stock-out period); the last
column is the forecast origin.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["FloatArray", "as_panel", "recent_mask", "repeat_levels"]

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


def repeat_levels(level: FloatArray, horizon: int) -> FloatArray:
    """Broadcast one level per series (S,) or one value per season position (S, m) to (S, h).

    NaN becomes 0 and negative values are clipped to 0: a forecast is finite and non-negative.
    """
    level = level[:, None] if level.ndim == 1 else level
    cols = np.arange(horizon) % level.shape[1]
    out = level[:, cols]
    return np.clip(np.nan_to_num(out, nan=0.0), 0.0, None)


def recent_mask(obs: npt.NDArray[np.bool_], window: int | None) -> npt.NDArray[np.bool_]:
    """Mask of the last `window` observed cells of each row (all observed cells if None)."""
    if window is None:
        return obs
    rank_from_end = np.cumsum(obs[:, ::-1], axis=1)[:, ::-1]
    return obs & (rank_from_end <= window)
