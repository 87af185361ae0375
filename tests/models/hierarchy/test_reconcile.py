"""Reconciliation: a case done on paper, coherence and ordered quantiles for every method."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.hierarchy import (
    COHERENT_METHODS,
    LEVELS,
    METHODS,
    Hierarchy,
    aggregate,
    build_hierarchy,
    fit_reconciler,
)
from models.hierarchy.covariance import shrunk_covariance
from tests.models.hierarchy.cases import two_level


@pytest.mark.parametrize(("method", "expected"), [
    # base A=10, B=20, T=36: 6 units too many at the top
    ("bottom_up", [10.0, 20.0, 30.0]),
    # OLS, W = I: G = (S'S)^-1 S' -> A = (2*46 - 56)/3 = 12, B = (2*56 - 46)/3 = 22
    ("ols", [12.0, 22.0, 34.0]),
    # WLS struct, W = diag(1, 1, 2): y - W C' (C W C')^-1 C y with C y = 6, C W C' = 4
    ("wls_struct", [11.5, 21.5, 33.0]),
    ("none", [10.0, 20.0, 36.0]),
])
def test_two_level_case_on_paper(method: str, expected: list[float]) -> None:
    h = two_level()
    residuals = np.random.default_rng(0).normal(size=(3, 12))
    rec = fit_reconciler(h, residuals, method)
    np.testing.assert_allclose(rec.means(np.array([[10.0], [20.0], [36.0]])).ravel(),
                               expected, atol=1e-9)


def test_wls_var_on_paper() -> None:
    # variances 1, 4, 5 (residual columns +-1, +-2, +-sqrt(5)): C W C' = 10, W C' = (-1, -4, 5)
    h = two_level()
    signs = np.array([1.0, -1.0, 1.0, -1.0])
    residuals = np.vstack([signs, 2 * signs, np.sqrt(5) * signs]) * np.sqrt(3 / 4)
    rec = fit_reconciler(h, residuals, "wls_var")
    np.testing.assert_allclose(rec.means(np.array([[10.0], [20.0], [36.0]])).ravel(),
                               [10.6, 22.4, 33.0], atol=1e-6)


def _channel() -> tuple[Hierarchy, np.ndarray, np.ndarray]:
    nodes = pd.DataFrame({"node_id": ["R", "D1", "D2", "K1", "K2", "S"],
                          "parent_id": [None, "R", "R", "D1", "D1", None],
                          "channel": ["region", "distributor", "distributor", "dealer", "dealer",
                                      "direct"]})
    bottom = pd.DataFrame([(n, s) for n in ["D2", "K1", "K2", "S"] for s in ["a", "b", "c"]],
                          columns=["node_id", "sku"])
    items = pd.DataFrame({"sku": ["a", "b", "c"], "group": ["G1", "G1", "G2"]})
    h = build_hierarchy(nodes, bottom, items)
    rng = np.random.default_rng(3)
    actual = aggregate(rng.gamma(3.0, 20.0, size=(h.n_bottom, 48)), h)
    base = actual * rng.lognormal(0.0, 0.15, size=actual.shape)
    return h, actual, base


@pytest.mark.parametrize("method", METHODS)
def test_coherent_and_ordered_at_every_level(method: str) -> None:
    h, actual, base = _channel()
    residuals = actual[:, :40] - base[:, :40]
    residuals[5, :3] = np.nan  # missing errors are allowed
    rec = fit_reconciler(h, residuals, method, steps=np.tile(np.arange(1, 5), 10))
    means = rec.means(base[:, 40:])
    if method in COHERENT_METHODS:
        np.testing.assert_allclose(aggregate(means[: h.n_bottom], h), means,
                                   rtol=1e-10, atol=1e-8)
    q = rec.quantiles(means, [0.025, 0.1, 0.5, 0.9, 0.975])
    assert q.shape == (h.n_all, 8, 5)
    assert (np.diff(q, axis=2) >= 0).all()
    assert (q >= 0).all()
    for level in LEVELS:
        rows = h.level_rows(level)
        assert rows.size and (q[rows, :, -1] > q[rows, :, 0]).all(), level


def test_reconciliation_helps_aggregates() -> None:
    h, actual, base = _channel()
    residuals = actual[:, :40] - base[:, :40]
    top = h.level_rows("total")
    errors = {}
    for method in ("none", "mint_shrink", "mint_cv"):
        means = fit_reconciler(h, residuals, method).means(base[:, 40:])
        errors[method] = np.sqrt(np.mean((means[top] - actual[top, 40:]) ** 2))
    assert errors["mint_shrink"] < errors["none"]
    assert errors["mint_cv"] < errors["none"]


def test_shrunk_covariance_matches_hierarchicalforecast() -> None:
    utils = pytest.importorskip("hierarchicalforecast.utils")
    rng = np.random.default_rng(1)
    loadings = rng.normal(size=(30, 2))
    residuals = loadings @ rng.normal(size=(2, 20)) + rng.normal(size=(30, 20)) + 0.3
    theirs = utils._shrunk_covariance_schaferstrimmer_no_nans(residuals, 2e-8)
    ours = shrunk_covariance(residuals)
    dense = np.diag(ours.diag) + ours.factor @ ours.factor.T
    np.testing.assert_allclose(dense, theirs, rtol=1e-6, atol=1e-6)


def test_bad_arguments() -> None:
    h = two_level()
    with pytest.raises(ValueError, match="`method` must be one of"):
        fit_reconciler(h, np.zeros((3, 4)), "topdown")
    with pytest.raises(ValueError, match=r"n_all=3, h\)"):
        fit_reconciler(h, np.zeros((2, 4)), "ols")
    with pytest.raises(ValueError, match="`steps` must give"):
        fit_reconciler(h, np.zeros((3, 4)), "ols", steps=[1, 2])
    rec = fit_reconciler(h, np.random.default_rng(0).normal(size=(3, 8)), "ols")
    with pytest.raises(ValueError, match=r"in \(0, 1\)"):
        rec.quantiles(np.zeros((3, 1)), [0.5, 1.0])
