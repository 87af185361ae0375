"""wls_tuned: the sparse diagonal MinTrace step, a case on paper, degenerate cases, tuning."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from models.hierarchy import Hierarchy, aggregate, build_hierarchy, fit_reconciler
from models.hierarchy.covariance import LowRankCov
from models.hierarchy.projection import Projection, fit_diagonal, fit_projection
from models.hierarchy.tuned import TunedWls, blocks_of, cell_codes, cell_names, tune_wls
from tests.models.hierarchy.cases import two_level

BASE = np.array([[10.0], [20.0], [36.0]])


def test_a_point_of_the_family_on_paper() -> None:
    h = two_level()
    cells = cell_codes(h)
    assert [cell_names()[c] for c in cells] == ["node/sku", "node/sku", "total/sku"]
    struct, var = np.array([1.0, 1.0, 2.0]), np.array([1.0, 4.0, 9.0])
    # a = 1, b = 0.5, total x 0.5: W = (1*1, 1*2, 0.5*2*3) = (1, 2, 3); C y^ = 36 - 30 = 6,
    # C W C' = 1 + 2 + 3 = 6, so z = 1: A = 10 + 1, B = 20 + 2, T = 36 - 3 = 33
    point = TunedWls(1.0, 0.5, {int(cells[2]): 0.5})
    diag = point.diag(struct, var, cells)
    np.testing.assert_allclose(diag, [1.0, 2.0, 3.0])
    bottom = fit_diagonal(h.summing, 2, diag).bottom(BASE)
    np.testing.assert_allclose(aggregate(bottom, h).ravel(), [11.0, 22.0, 33.0])
    assert point.name == "wls_tuned(a=1, b=0.5; total/sku: 0.5)"


def test_sparse_step_equals_the_dense_mintrace_step() -> None:
    nodes = pd.DataFrame({"node_id": ["R", "D1", "K1", "K2", "S"],
                          "parent_id": [None, "R", "D1", "D1", None],
                          "channel": ["region", "distributor", "dealer", "dealer", "direct"]})
    bottom = pd.DataFrame([(n, s) for n in ["K1", "K2", "S"] for s in "abc"],
                          columns=["node_id", "sku"])
    h = build_hierarchy(nodes, bottom)
    rng = np.random.default_rng(5)
    diag = rng.uniform(0.5, 3.0, size=h.n_all)
    base = rng.normal(10.0, 3.0, size=(h.n_all, 4))
    # MinTrace by hand: y~ = y^ - W C' (C W C')^-1 C y^ with C = [-S_agg, I]
    s_agg = h.summing.toarray()[h.n_bottom:]
    c = np.hstack([-s_agg, np.eye(len(s_agg))])
    w = np.diag(diag)
    dense = base - w @ c.T @ np.linalg.solve(c @ w @ c.T, c @ base)
    np.testing.assert_allclose(fit_diagonal(h.summing, h.n_bottom, diag).bottom(base),
                               dense[: h.n_bottom], rtol=1e-10, atol=1e-10)
    cov = LowRankCov(diag, np.zeros((h.n_all, 0)))  # a diagonal W takes the sparse path
    assert not isinstance(fit_projection(h.summing, h.n_bottom, cov), Projection)


def test_windows_from_the_steps() -> None:
    np.testing.assert_array_equal(blocks_of(np.array([1, 2, 3, 1, 2, 3, 1]), 7),
                                  [0, 0, 0, 1, 1, 1, 2])
    np.testing.assert_array_equal(blocks_of(None, 4), [0, 0, 1, 1])


def test_one_window_reduces_to_wls_struct() -> None:
    h = two_level()
    residuals = np.random.default_rng(0).normal(size=(3, 4))
    assert tune_wls(h, residuals, steps=np.arange(1, 5)) == TunedWls(1.0, 0.0)
    rec = fit_reconciler(h, residuals, "wls_tuned", steps=np.arange(1, 5))
    assert rec.chosen == "wls_tuned(a=1, b=0)"
    # W = diag(1, 1, 2), as wls_struct in test_reconcile.py
    np.testing.assert_allclose(rec.means(BASE).ravel(), [11.5, 21.5, 33.0])


def test_no_evidence_keeps_wls_struct() -> None:
    # every base error zero: every candidate scores the same, nothing beats the start
    h = two_level()
    assert tune_wls(h, np.zeros((3, 8)), steps=np.tile([1, 2], 4)) == TunedWls(1.0, 0.0)


def _trusted_total(seed: int) -> tuple[Hierarchy, np.ndarray]:
    """Six bottoms with noisy base forecasts and a total whose base is nearly exact."""
    keys = pd.DataFrame({"level": ["node"] * 6 + ["total"],
                         "node_id": [f"N{i}" for i in range(6)] + ["TOTAL"], "sku": "x"})
    summing = sparse.csr_matrix(np.vstack([np.eye(6), np.ones((1, 6))]))
    h = Hierarchy(keys=keys, summing=summing, n_bottom=6)
    rng = np.random.default_rng(seed)
    bottom_errors = rng.normal(0.0, 5.0, size=(6, 40))
    return h, np.vstack([bottom_errors, rng.normal(0.0, 0.5, size=(1, 40))])


def test_tuning_trusts_a_good_total_and_helps_every_level() -> None:
    h, residuals = _trusted_total(1)
    steps = np.tile(np.arange(1, 5), 10)
    rec = fit_reconciler(h, residuals, "wls_tuned", steps=steps)
    struct = fit_reconciler(h, residuals, "wls_struct")
    assert rec.chosen != "wls_tuned(a=1, b=0)"
    _, fresh = _trusted_total(2)  # new windows' errors; reconciled errors are S G e
    rms = {name: np.sqrt(np.mean(r.means(fresh) ** 2, axis=1))
           for name, r in (("tuned", rec), ("struct", struct))}
    assert rms["tuned"][6] < 0.5 * rms["struct"][6]  # the total stays near its base
    assert rms["tuned"][:6].mean() < rms["struct"][:6].mean()  # and corrects the bottoms


def test_a_fitted_reconciler_pickles() -> None:
    h, residuals = _trusted_total(1)
    rec = fit_reconciler(h, residuals, "wls_tuned", steps=np.tile(np.arange(1, 5), 10))
    again = pickle.loads(pickle.dumps(rec))
    base = np.arange(14.0).reshape(7, 2)
    np.testing.assert_allclose(again.means(base), rec.means(base), rtol=1e-12)


def test_bad_weights() -> None:
    h = two_level()
    with pytest.raises(ValueError, match=r"one finite weight >= 0 per series \(n_all=3"):
        fit_reconciler(h, np.zeros((3, 8)), "wls_tuned", weights=[1.0, 2.0])
