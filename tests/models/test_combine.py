"""Forecast combination: weights from summed statistics, names that round-trip."""

from __future__ import annotations

import numpy as np
import pytest

from models.combine import (
    MAX_WEIGHT,
    combination_name,
    combine,
    fit_weights,
    gram_stats,
    weights_of,
)


def _block(rng: np.random.Generator, weights: tuple[float, ...], n: int = 60, h: int = 4):
    f = rng.uniform(1.0, 20.0, (n, h, len(weights)))
    y = f @ np.array(weights)
    return f, y, rng.uniform(0.5, 3.0, n)


def test_unshrunk_weights_recover_the_combination_that_made_the_actuals() -> None:
    f, y, scale = _block(np.random.default_rng(0), (0.7, 0.3, 0.0))
    got = fit_weights(gram_stats(f, y, scale), 3, shrink=0.0)
    np.testing.assert_allclose(got, [0.7, 0.3, 0.0], atol=1e-6)


def test_shrinkage_pulls_towards_equal_weights_and_weights_stay_non_negative() -> None:
    f, y, scale = _block(np.random.default_rng(1), (1.0, 0.0, 0.0))
    stats = gram_stats(f, y, scale)
    mild, strong = fit_weights(stats, 3, shrink=0.3), fit_weights(stats, 3, shrink=1e6)
    assert (mild >= 0).all() and mild[0] > 0.6
    np.testing.assert_allclose(strong, [1 / 3] * 3, atol=1e-4)


def test_statistics_add_up_over_blocks_and_skip_unknown_cells() -> None:
    rng = np.random.default_rng(2)
    (f1, y1, s1), (f2, y2, s2) = _block(rng, (0.5, 0.5)), _block(rng, (0.5, 0.5))
    y2[:5, 2:] = np.nan
    whole = gram_stats(np.concatenate([f1, f2]), np.concatenate([y1, y2]),
                       np.concatenate([s1, s2]))
    np.testing.assert_allclose(gram_stats(f1, y1, s1) + gram_stats(f2, y2, s2), whole)
    assert whole[-1] == y1.size + y2.size - 10


def test_no_information_gives_equal_weights() -> None:
    assert fit_weights(np.zeros(3 * 3 + 3 + 1), 3).tolist() == [1 / 3] * 3
    f = np.zeros((4, 2, 2))
    assert fit_weights(gram_stats(f, np.ones((4, 2)), np.ones(4)), 2).tolist() == [0.5, 0.5]


def test_names_round_trip_and_combine_weights_the_arrays() -> None:
    name = combination_name(["lgbm", "ets", "snaive"], np.array([0.52, 0.0, 0.31]))
    assert name == "lgbm*0.52+snaive*0.31"
    assert weights_of(name) == {"lgbm": 0.52, "snaive": 0.31}
    assert weights_of("ets") == {"ets": 1.0}
    assert weights_of("blend") == {"lgbm": 0.5, "ets": 0.5}
    assert combination_name(["ma", "tsb"], np.array([1.0, 0.0])) == "ma"
    arrays = {"lgbm": np.full(3, 10.0), "snaive": np.full(3, 2.0)}
    np.testing.assert_allclose(combine(name, arrays), 0.52 * 10 + 0.31 * 2)


def test_bad_names_say_what_a_name_looks_like() -> None:
    with pytest.raises(ValueError, match="not `model\\*weight`"):
        weights_of("lgbm*heavy+ets*0.5")
    with pytest.raises(KeyError, match="needs the forecasts of \\['ets'\\]"):
        combine("lgbm*0.5+ets*0.5", {"lgbm": np.ones(2)})


def test_no_model_weighs_more_than_the_bound() -> None:
    f, y, scale = _block(np.random.default_rng(3), (5.0, 0.0))
    f[..., 1] = 0.0  # the other model forecasts 0 everywhere (a class of dead series)
    assert fit_weights(gram_stats(f, y, scale), 2).tolist() == pytest.approx([MAX_WEIGHT, 0.5])
