"""Croston family: oracles, NaN skipping, and agreement with statsforecast on complete series."""

from __future__ import annotations

import numpy as np
import pytest

from models.intermittent import croston_classic, croston_optimized, croston_sba, tsb

NAN = np.nan

ALL_METHODS = [
    lambda y, h: croston_classic(y, horizon=h),
    lambda y, h: croston_sba(y, horizon=h),
    lambda y, h: croston_optimized(y, horizon=h),
    lambda y, h: tsb(y, horizon=h),
]


def _mixed_series(n_series: int = 50, n_periods: int = 60, seed: int = 0) -> np.ndarray:
    """Half smooth Poisson(5) series, half intermittent (30% demand, Poisson(3) + 1 sizes)."""
    rng = np.random.default_rng(seed)
    half = n_series // 2
    smooth = rng.poisson(5.0, (half, n_periods))
    occurs = rng.random((n_series - half, n_periods)) < 0.3
    sparse = occurs * (rng.poisson(3.0, (n_series - half, n_periods)) + 1)
    return np.vstack([smooth, sparse]).astype(np.float64)


def _compact(row: np.ndarray, width: int) -> np.ndarray:
    """Drop NaN cells and left-pad with NaN: the series as if blanked periods never existed."""
    kept = row[~np.isnan(row)]
    return np.concatenate([np.full(width - kept.size, NAN), kept])


def test_constant_series_oracle():
    y = np.full((2, 15), 3.0)
    np.testing.assert_allclose(croston_classic(y, horizon=4), 3.0)
    np.testing.assert_allclose(croston_sba(y, horizon=4), 3.0 * 0.95)
    np.testing.assert_allclose(croston_sba(y, horizon=4, alpha=0.2), 3.0 * 0.9)
    np.testing.assert_allclose(tsb(y, horizon=4), 3.0)


def test_croston_by_hand():
    # sizes 4, 2 -> 4 + 0.1 * (2 - 4) = 3.8; intervals 3, 2 -> 3 + 0.1 * (2 - 3) = 2.9
    y = np.array([[0.0, 0.0, 4.0, 0.0, 2.0, 0.0]])
    np.testing.assert_allclose(croston_classic(y, horizon=1), [[3.8 / 2.9]])


def test_tsb_by_hand_decays_through_zeros_and_croston_does_not():
    y = np.array([[2.0, 0.0, 4.0, 0.0]])
    longer = np.array([[2.0, 0.0, 4.0, 0.0, 0.0, 0.0]])
    # probability 1 -> 0.9 -> 0.91 -> 0.819; size 2 -> 2.2
    np.testing.assert_allclose(tsb(y, horizon=1)[0], [0.819 * 2.2])
    assert tsb(longer, horizon=1)[0, 0] < tsb(y, horizon=1)[0, 0]
    np.testing.assert_allclose(croston_classic(longer, horizon=1), croston_classic(y, horizon=1))


@pytest.mark.parametrize("method", ALL_METHODS)
def test_every_row_gets_a_finite_non_negative_forecast(method):
    y = np.array([
        [NAN] * 8,                  # never observed
        [NAN] * 7 + [5.0],          # one observation, a sale at the origin
        [0.0] * 8,                  # never sold
        [NAN] * 3 + [0.0] * 5,      # late start, never sold
        [NAN, 2.0, NAN, -1.0, 0.0, NAN, 0.0, NAN],  # a return counts as no demand
    ])
    out = method(y, 3)
    assert out.shape == (5, 3)
    assert np.isfinite(out).all() and (out >= 0).all()
    np.testing.assert_allclose(out[[0, 2, 3]], 0.0)
    assert (out[1] > 0).all()


@pytest.mark.parametrize("method", ALL_METHODS)
def test_nan_periods_are_skipped_as_if_absent(method):
    rng = np.random.default_rng(3)
    y = _mixed_series(20, 40, seed=1)
    y[rng.random(y.shape) < 0.2] = NAN
    y[:5, :10] = NAN
    compacted = np.vstack([_compact(row, y.shape[1]) for row in y])
    np.testing.assert_allclose(method(y, 2), method(compacted, 2), rtol=1e-12)


def test_optimized_with_a_single_alpha_is_classic():
    y = _mixed_series(10, 30)
    np.testing.assert_allclose(
        croston_optimized(y, horizon=2, alphas=(0.2,)), croston_classic(y, horizon=2, alpha=0.2)
    )


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: croston_classic(np.ones((1, 3)), horizon=1, alpha=0.0), "alpha"),
        (lambda: croston_sba(np.ones((1, 3)), horizon=1, alpha=1.5), "alpha"),
        (lambda: tsb(np.ones((1, 3)), horizon=1, alpha_p=-0.1), "alpha_p"),
        (lambda: tsb(np.ones((1, 3)), horizon=-1), "horizon"),
        (lambda: croston_optimized(np.ones((1, 3)), horizon=1, alphas=()), "alphas"),
    ],
)
def test_invalid_arguments_name_the_parameter(call, name):
    with pytest.raises(ValueError, match=f"`{name}`"):
        call()


def _statsforecast_means(model, y: np.ndarray, h: int) -> np.ndarray:
    return np.vstack([model.forecast(y=row, h=h)["mean"] for row in y])


def test_agrees_with_statsforecast_on_complete_series():
    sf = pytest.importorskip("statsforecast.models")
    y, h = _mixed_series(), 4
    y[-1] = 0.0  # one never-sold series
    cases = [
        (croston_classic(y, horizon=h), sf.CrostonClassic()),
        (croston_sba(y, horizon=h), sf.CrostonSBA()),
        (tsb(y, horizon=h), sf.TSB(alpha_d=0.1, alpha_p=0.1)),
        (tsb(y, horizon=h, alpha_d=0.3, alpha_p=0.05), sf.TSB(alpha_d=0.3, alpha_p=0.05)),
    ]
    for ours, model in cases:
        np.testing.assert_allclose(ours, _statsforecast_means(model, y, h), atol=1e-6)


def test_optimized_grid_approaches_statsforecast_golden_section():
    sf = pytest.importorskip("statsforecast.models")
    y = _mixed_series()[25:]
    fine = tuple(np.linspace(0.1, 0.3, 201))
    ours = croston_optimized(y, horizon=1, alphas=fine)
    np.testing.assert_allclose(ours, _statsforecast_means(sf.CrostonOptimized(), y, 1), rtol=5e-3)
