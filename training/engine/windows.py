"""Rolling-origin cutoffs of the evaluation protocol (../shared/EVALUATION.md)."""

from __future__ import annotations

import pandas as pd

__all__ = ["cutoffs"]


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
