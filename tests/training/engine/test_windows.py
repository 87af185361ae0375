from __future__ import annotations

import pandas as pd
import pytest

from training.engine.windows import cutoffs

GRID = pd.date_range("2024-01-01", periods=12, freq="MS")


def test_last_cutoff_is_horizon_before_the_end_and_spaced_by_step() -> None:
    got = cutoffs(GRID, horizon=3, windows=3, step=2)
    # positions 4, 6, 8 of 0..11; the last one leaves 9, 10, 11 to forecast
    assert got == [GRID[4], GRID[6], GRID[8]]


def test_order_and_duplicates_of_dates_do_not_matter() -> None:
    shuffled = pd.DatetimeIndex(list(GRID[::-1]) + list(GRID[:3]))
    assert cutoffs(shuffled, horizon=2, windows=2, step=2) == [GRID[7], GRID[9]]


def test_protocol_shape_walmart_like() -> None:
    grid = pd.date_range("2010-02-05", periods=143, freq="W-FRI")
    got = cutoffs(grid, horizon=8, windows=4, step=8)
    assert got[-1] == grid[-9]
    assert [b - a for a, b in zip(got, got[1:], strict=False)] == [pd.Timedelta(weeks=8)] * 3


def test_smallest_history_that_fits() -> None:
    grid = GRID[:7]  # horizon 3 + one step of 2 + 2 periods of training history
    assert cutoffs(grid, horizon=3, windows=2, step=2) == [grid[1], grid[3]]


def test_too_short_history_names_the_parameters() -> None:
    with pytest.raises(ValueError, match="need at least 8"):
        cutoffs(GRID[:7], horizon=3, windows=2, step=3)


@pytest.mark.parametrize("name", ["horizon", "windows", "step"])
def test_non_positive_parameters_are_refused(name: str) -> None:
    kwargs = {"horizon": 2, "windows": 2, "step": 2, name: 0}
    with pytest.raises(ValueError, match=f"`{name}`"):
        cutoffs(GRID, **kwargs)
