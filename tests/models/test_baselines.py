"""Baselines: oracles, the NaN contract, and agreement with statsforecast on complete series."""

from __future__ import annotations

import numpy as np
import pytest

from models.baselines import (
    as_panel,
    moving_average,
    naive,
    seasonal_moving_average,
    seasonal_naive,
)

NAN = np.nan


def _mixed_series(n_series: int = 50, n_periods: int = 60, seed: int = 0) -> np.ndarray:
    """Half smooth Poisson(5) series, half intermittent (40% demand, Poisson(3) + 1 sizes)."""
    rng = np.random.default_rng(seed)
    smooth = rng.poisson(5.0, (n_series // 2, n_periods))
    sparse = (rng.random((n_series - n_series // 2, n_periods)) < 0.4) * (
        rng.poisson(3.0, (n_series - n_series // 2, n_periods)) + 1
    )
    return np.vstack([smooth, sparse]).astype(np.float64)


ALL_METHODS = [
    lambda y, h: naive(y, horizon=h),
    lambda y, h: moving_average(y, horizon=h, window=4),
    lambda y, h: seasonal_naive(y, horizon=h, season=4),
    lambda y, h: seasonal_moving_average(y, horizon=h, season=4, n_seasons=2),
]


@pytest.mark.parametrize("method", ALL_METHODS)
def test_constant_series_forecasts_the_constant(method):
    y = np.full((3, 20), 3.0)
    np.testing.assert_allclose(method(y, 6), 3.0)


@pytest.mark.parametrize("method", ALL_METHODS)
def test_every_row_gets_a_finite_non_negative_forecast(method):
    y = np.array([
        [NAN] * 10,                      # never observed
        [NAN] * 9 + [2.0],               # one observation, at the origin
        [NAN] * 4 + [0.0] * 6,           # observed, never sold
        [4.0] + [NAN] * 9,               # ended long ago
        [1.0, -2.0, NAN, -1.0] * 2 + [-3.0, -1.0],  # returns only
    ])
    out = method(y, 5)
    assert out.shape == (5, 5)
    assert np.isfinite(out).all() and (out >= 0).all()
    np.testing.assert_allclose(out[0], 0.0)
    np.testing.assert_allclose(out[1], 2.0)
    np.testing.assert_allclose(out[2], 0.0)
    np.testing.assert_allclose(out[3], 4.0)


def test_seasonal_naive_repeats_the_last_cycle():
    cycle = np.array([1.0, 5.0, 2.0, 8.0])
    y = np.tile(cycle, 5)[None, 1:]  # origin falls on the last position of the cycle
    np.testing.assert_allclose(seasonal_naive(y, horizon=10, season=4)[0], np.tile(cycle, 3)[:10])


def test_seasonal_naive_falls_back_to_older_cycles_then_last_value():
    y = np.array([[NAN, 7.0, 3.0, NAN, 1.0, NAN, 4.0, NAN, 6.0]])
    # last cycle (ending at the origin): [NAN, 4.0, NAN, 6.0]; position 0 comes from the
    # previous cycle [7.0, 3.0, NAN, 1.0]; position 2 was never observed -> last value 6.0
    out = seasonal_naive(y, horizon=4, season=4)[0]
    np.testing.assert_allclose(out, [7.0, 4.0, 6.0, 6.0])


def test_seasonal_naive_shorter_than_one_season_aligns_positions():
    out = seasonal_naive(np.array([[2.0, 3.0]]), horizon=4, season=4)[0]
    np.testing.assert_allclose(out, [3.0, 3.0, 2.0, 3.0])


def test_moving_average_uses_the_last_observed_values():
    y = np.array([[100.0, 1.0, NAN, 2.0, NAN, NAN, 3.0, NAN]])
    np.testing.assert_allclose(moving_average(y, horizon=2, window=3)[0], [2.0, 2.0])
    np.testing.assert_allclose(moving_average(y, horizon=1, window=10)[0], [26.5])


def test_seasonal_moving_average_skips_nan_cycles():
    y = np.array([[1.0, 10.0, 3.0, NAN, 5.0, 20.0]])  # the first cycle is outside the window
    np.testing.assert_allclose(
        seasonal_moving_average(y, horizon=3, season=2, n_seasons=2)[0], [4.0, 20.0, 4.0]
    )


def test_leading_nans_do_not_change_the_forecast():
    y = _mixed_series(6, 30)
    padded = np.hstack([np.full((6, 9), NAN), y])
    for method in ALL_METHODS[:2]:
        np.testing.assert_allclose(method(padded, 3), method(y, 3))


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: naive(np.ones((2, 3)), horizon=0), "horizon"),
        (lambda: moving_average(np.ones((2, 3)), horizon=1, window=0), "window"),
        # a float season on purpose: the runtime check under test refuses it
        (lambda: seasonal_naive(np.ones((2, 3)), horizon=1, season=2.5),  # type: ignore[arg-type]
         "season"),
        (lambda: naive(np.ones(3), horizon=1), "y"),
        (lambda: naive(np.ones((2, 0)), horizon=1), "y"),
        (lambda: naive(np.array([[1.0, np.inf]]), horizon=1), "y"),
    ],
)
def test_invalid_arguments_name_the_parameter(call, name):
    with pytest.raises(ValueError, match=f"`{name}`"):
        call()


def test_as_panel_does_not_copy_float_input():
    y = np.zeros((2, 3))
    assert as_panel(y) is y


def _statsforecast_means(model, y: np.ndarray, h: int) -> np.ndarray:
    return np.vstack([model.forecast(y=row, h=h)["mean"] for row in y])


def test_agrees_with_statsforecast_on_complete_series():
    sf = pytest.importorskip("statsforecast.models")
    y, h = _mixed_series(), 9
    cases = [
        (naive(y, horizon=h), sf.Naive()),
        (seasonal_naive(y, horizon=h, season=7), sf.SeasonalNaive(season_length=7)),
        (moving_average(y, horizon=h, window=5), sf.WindowAverage(window_size=5)),
        (
            seasonal_moving_average(y, horizon=h, season=7, n_seasons=3),
            sf.SeasonalWindowAverage(season_length=7, window_size=3),
        ),
    ]
    for ours, model in cases:
        np.testing.assert_allclose(ours, _statsforecast_means(model, y, h), atol=1e-6)
