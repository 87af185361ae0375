"""Scaled split-conformal quantiles: calibrated on exchangeable errors, ordered, non-negative."""

from __future__ import annotations

import numpy as np
import pytest

from models.quantiles import (
    ConformalQuantiles,
    quantile_level,
    quantile_name,
    series_scale,
    weighted_quantile,
)


def test_quantile_name_and_range() -> None:
    assert quantile_name(0.1) == "q0.1"
    assert quantile_name(0.05) == "q0.05"
    with pytest.raises(ValueError, match="quantiles must be in"):
        quantile_name(1.0)


@pytest.mark.parametrize("q", [0.1, 0.05, 0.975, 0.123456, 1e-7, 0.999999])
def test_a_level_is_what_its_column_name_says(q: float) -> None:
    assert quantile_level(q) == q == float(quantile_name(q)[1:])


def test_float_noise_reads_as_the_level_named() -> None:
    assert quantile_level(0.1 + 0.2) == 0.3


@pytest.mark.parametrize(("q", "words"), [(0.1000000001, "'q0.1'"), (0.1234567, "'q0.123457'"),
                                          (0.99999999999999, "rounds to 1")])
def test_a_level_its_name_would_round_is_refused(q: float, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        quantile_level(q)


def test_scale_falls_back_to_level_then_one() -> None:
    y = np.array([[1.0, 3.0, 2.0], [4.0, 4.0, 4.0], [np.nan, np.nan, np.nan]])
    np.testing.assert_allclose(series_scale(y), [1.5, 4.0, 1.0])


def test_intervals_cover_80_percent_of_new_heteroscedastic_errors() -> None:
    rng = np.random.default_rng(0)
    S, h = 4000, 4
    level = rng.uniform(1, 1000, S)
    scale = level * 0.1
    groups = np.where(rng.random(S) < 0.5, "smooth", "lumpy")
    cq = ConformalQuantiles(h)
    for _ in range(2):
        mean = np.repeat(level[:, None], h, axis=1)
        cq.add(mean=mean, actual=mean + rng.normal(0, 1, (S, h)) * scale[:, None],
               scale=scale, groups=groups)
    mean = np.repeat(level[:, None], h, axis=1)
    actual = mean + rng.normal(0, 1, (S, h)) * scale[:, None]
    q = cq.predict(mean=mean, scale=scale, groups=groups, quantiles=(0.1, 0.5, 0.9))
    inside = (actual >= q[0.1]) & (actual <= q[0.9])
    assert abs(inside.mean() - 0.8) < 0.02
    assert (q[0.1] <= q[0.5]).all() and (q[0.5] <= q[0.9]).all() and (q[0.1] >= 0).all()


def test_predict_without_residuals_says_what_to_do() -> None:
    with pytest.raises(RuntimeError, match="add"):
        ConformalQuantiles(2).predict(mean=np.zeros((1, 2)), scale=np.ones(1),
                                      groups=np.array(["smooth"]), quantiles=(0.5,))


def test_weighted_quantile_follows_the_heavy_values() -> None:
    values = np.array([0.0, 1.0, 2.0, 10.0])
    assert weighted_quantile(values, np.array([1.0, 1.0, 1.0, 1e6]), [0.5])[0] > 9.99
    even = weighted_quantile(values, np.ones(4), [0.125, 0.875])
    np.testing.assert_allclose(even, [0.0, 10.0])
    np.testing.assert_allclose(weighted_quantile(values, np.zeros(4), [0.5]),
                               np.quantile(values, [0.5]))


def test_weighted_calibration_fits_the_series_that_carry_the_volume() -> None:
    """Big series (level 100) miss by +-1 scale unit, small ones (level 1) by +-5: weighted
    by the forecast level, the interval follows the big series; unweighted, both."""
    rng = np.random.default_rng(0)
    S, h = 400, 2
    mean = np.where(np.arange(S) < 200, 100.0, 1.0)[:, None] * np.ones((S, h))
    spread = np.where(np.arange(S) < 200, 1.0, 5.0)[:, None]
    actual = mean + spread * rng.uniform(-1, 1, (S, h))
    groups = np.full(S, "smooth")
    plain, weighted = ConformalQuantiles(h), ConformalQuantiles(h, weighted=True)
    for cq in (plain, weighted):
        cq.add(mean=mean, actual=actual, scale=np.ones(S), groups=groups)
    narrow = weighted.residual_quantiles([0.1, 0.9], step=0, group="smooth")
    wide = plain.residual_quantiles([0.1, 0.9], step=0, group="smooth")
    assert narrow[1] - narrow[0] < 2.0 < wide[1] - wide[0]
