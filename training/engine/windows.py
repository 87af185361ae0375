"""Backtest windows: the rolling-origin cutoffs of the evaluation protocol and
every model's forecasts at one of them."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from models.ets import ETSFit

__all__ = ["WindowForecasts", "cutoffs"]

FloatArray = npt.NDArray[np.float64]


def _check_positive(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"`{name}` must be a positive integer; got {value!r}.")


def cutoffs(dates: pd.DatetimeIndex, *, horizon: int, windows: int,
            step: int) -> list[pd.Timestamp]:
    """The last `windows` forecast origins, `step` periods apart, oldest first.

    The last origin lies `horizon` periods before the end of the grid, so its forecasts
    cover the grid's last `horizon` periods. Each origin is the last period a model may see.

    Args:
        dates: the period grid (every period, duplicates and order do not matter).
        horizon: periods forecast from each origin.
        windows: number of origins.
        step: periods between consecutive origins.

    Returns:
        The origins as timestamps on the grid, oldest first.

    Example:
        >>> grid = pd.date_range("2024-01-05", periods=10, freq="W-FRI")
        >>> [d.strftime("%m-%d") for d in cutoffs(grid, horizon=2, windows=2, step=3)]
        ['02-02', '02-23']
    """
    for name, value in (("horizon", horizon), ("windows", windows), ("step", step)):
        _check_positive(name, value)
    grid = pd.DatetimeIndex(dates).unique().sort_values()
    last = len(grid) - 1 - horizon
    first = last - (windows - 1) * step
    # at least two periods before the first origin's forecasts, so every window has a scale
    if first < 1:
        need = horizon + (windows - 1) * step + 2
        raise ValueError(f"`dates` has {len(grid)} periods; {windows} windows with "
                         f"`horizon`={horizon} and `step`={step} need at least {need}.")
    return [grid[i] for i in range(first, last + 1, step)]


@dataclass
class WindowForecasts:
    """Every model's mean forecast at one cutoff, series x horizon, plus what `auto` needs."""

    cutoff: pd.Timestamp
    t: int  # grid index of the cutoff
    means: dict[str, FloatArray]
    actual: FloatArray
    scale: FloatArray
    classes: npt.NDArray[np.str_]
    ets: ETSFit | None = field(default=None, repr=False)  # the fit behind means["ets"]
