"""The helpers of benchmarks/hierarchy_objectives.py on small hand-made cases."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import numpy as np
import pandas as pd

from benchmarks.hierarchy_objectives import (
    Choice,
    HeldOut,
    Rule,
    halves,
    leave_one_out,
    mean_objective,
    peer_objective,
    robust_objective,
    search,
    shrunk,
)
from models.hierarchy import Hierarchy, aggregate, build_hierarchy
from models.hierarchy.tuned import TunedWls, blocks_of, tune_wls


def _tree(seed: int) -> tuple[Hierarchy, np.ndarray, np.ndarray, np.ndarray]:
    """Three selling nodes under a distributor and a direct node, 3 skus; 4 windows of 4
    steps of residuals whose aggregates are noisier than the sum of their bottoms."""
    nodes = pd.DataFrame({"node_id": ["R", "D1", "K1", "K2", "S"],
                          "parent_id": [None, "R", "D1", "D1", None],
                          "channel": ["region", "distributor", "dealer", "dealer", "direct"]})
    bottom = pd.DataFrame([(n, s) for n in ["K1", "K2", "S"] for s in "abc"],
                          columns=["node_id", "sku"])
    h = build_hierarchy(nodes, bottom)
    rng = np.random.default_rng(seed)
    steps = np.tile(np.arange(1, 5), 4)
    res = aggregate(rng.normal(0.0, 3.0, size=(h.n_bottom, steps.size)), h)
    res += rng.normal(0.0, 2.0, size=res.shape)
    weights = rng.uniform(0.5, 1.5, size=h.n_all)
    return h, res, steps, weights


def test_the_search_with_tune_wls_objective_picks_tune_wls_point() -> None:
    """Oracle: the scorer here mirrors tuned.py's, so the same search finds the same point."""
    for seed in (0, 1, 2):
        h, res, steps, weights = _tree(seed)
        blocks = blocks_of(steps, res.shape[1])
        mine = search(HeldOut(h, res, blocks, weights, halves(blocks)), Rule(mean_objective))
        assert mine == tune_wls(h, res, steps=steps, weights=weights)


def test_folds() -> None:
    blocks = np.array([0, 0, 1, 1, 2, 2])
    (fit, test), (fit2, test2) = halves(blocks)
    assert fit.tolist() == test2.tolist() == [True, True, False, False, False, False]
    assert test.tolist() == fit2.tolist() == [False, False, True, True, True, True]
    loo = leave_one_out(blocks)
    assert len(loo) == 3 and all(len(f) == 1 for f in loo)
    assert loo[1][0][1].tolist() == [False, False, True, True, False, False]
    assert (loo[1][0][0] == ~loo[1][0][1]).all()


@dataclass
class _Fake:
    present: np.ndarray
    base: np.ndarray
    peers: np.ndarray

    def best_peer(self) -> np.ndarray:
        return self.peers


def test_peer_objective_weighs_lost_cells_and_a_little_of_the_won() -> None:
    # cell 0 lost by a factor 2, cell 1 won by a factor 2: log 2 + 0.1 x 0
    fake = _Fake(np.array([0, 1]), np.ones((2, 2)), np.array([1.0, 2.0]))
    table = np.array([[2.0, 2.0], [1.0, 1.0]])
    assert np.isclose(peer_objective(cast(HeldOut, fake), table), np.log(2.0))
    won = np.array([[0.5, 0.5], [1.0, 1.0]])  # both won: only the 0.1 x mean log ratio
    assert np.isclose(peer_objective(cast(HeldOut, fake), won), 0.1 * np.log(0.5))


def test_robust_objective_is_the_worst_window() -> None:
    fake = _Fake(np.array([0, 1]), np.array([[1.0, 2.0], [1.0, 1.0]]), np.ones(2))
    table = np.array([[1.0, 4.0], [1.0, 0.5]])  # window ratios: mean(1, 1) = 1, (2, .5)
    assert np.isclose(robust_objective(cast(HeldOut, fake), table), 1.25)
    assert np.isclose(mean_objective(cast(HeldOut, fake), table), 1.625)


def test_shrinking_the_multipliers() -> None:
    point = TunedWls(0.5, 1.0, {3: 4.0, 5: 0.25, 7: 1.0}, "bottom_up", 0.25)
    assert shrunk(point, 0.5).multipliers == {3: 2.0, 5: 0.5}
    assert shrunk(point, 0.0) == TunedWls(0.5, 1.0, {}, "bottom_up", 0.25)


def test_a_bagged_choice_is_coherent_and_the_average_of_its_points() -> None:
    h, res, _, _ = _tree(3)
    base = np.random.default_rng(4).uniform(5.0, 50.0, size=(h.n_all, 3))
    one, two = TunedWls(1.0, 0.0), TunedWls(0.0, 1.0, {}, "mint_shrink", 0.5)
    both = Choice([one, two], 0).means(h, res, base)
    np.testing.assert_allclose(aggregate(both[: h.n_bottom], h), both, rtol=1e-10)
    alone = [Choice([p], 0).means(h, res, base) for p in (one, two)]
    np.testing.assert_allclose(both, (alone[0] + alone[1]) / 2, rtol=1e-12)
