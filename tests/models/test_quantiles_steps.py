"""Conformal quantiles fed step by step: only the given steps are pooled, and a step with no
residuals yet borrows the nearest step that has some (never a zero-width interval)."""

from __future__ import annotations

import numpy as np

from models.quantiles import ConformalQuantiles


def test_add_pools_only_the_given_steps() -> None:
    rng = np.random.default_rng(1)
    mean, actual = rng.uniform(1, 9, (60, 3)), rng.uniform(1, 9, (60, 3))
    groups, scale = np.full(60, "smooth"), np.ones(60)
    cq = ConformalQuantiles(3)
    cq.add(mean=mean, actual=actual, scale=scale, groups=groups, steps=[0])
    assert {k for k, _ in cq.pools} == {0}
    cq.add(mean=mean, actual=actual, scale=scale, groups=groups, steps=range(1, 3))
    full = ConformalQuantiles(3)
    full.add(mean=mean, actual=actual, scale=scale, groups=groups)
    for key, pool in full.pools.items():
        np.testing.assert_array_equal(np.concatenate(cq.pools[key]), np.concatenate(pool))


def test_a_step_without_residuals_borrows_the_nearest_known_step() -> None:
    rng = np.random.default_rng(2)
    mean, actual = np.full((80, 4), 5.0), 5.0 + rng.normal(0, 2, (80, 4))
    cq = ConformalQuantiles(4)
    cq.add(mean=mean, actual=actual, scale=np.ones(80), groups=np.full(80, "smooth"),
           steps=[0, 1])
    out = cq.predict(mean=np.full((2, 4), 5.0), scale=np.ones(2),
                     groups=np.array(["smooth", "lumpy"]), quantiles=[0.1, 0.9])
    np.testing.assert_allclose(out[0.1][:, 3], out[0.1][:, 1])
    np.testing.assert_allclose(out[0.9][:, 2], out[0.9][:, 1])
    assert (out[0.9] - out[0.1] > 1.0).all()
