"""The helpers of benchmarks/hierarchy_bound.py on tiny hand-made cases."""

from __future__ import annotations

import numpy as np

from benchmarks.hierarchy_bound import CellScorer, H, Pool, across_windows, key, simplex


def test_simplex_grid_covers_every_weight_vector_once() -> None:
    """Step 0.1 over 6 members: C(15, 5) = 3003 distinct non-negative rows summing to 1."""
    grid = simplex()
    assert grid.shape == (3003, 6)
    assert np.allclose(grid.sum(axis=1), 1.0) and grid.min() >= 0.0
    assert len({tuple(np.round(r, 6)) for r in grid}) == 3003
    assert simplex(0.5, 2).tolist() == [[0.0, 1.0], [0.5, 0.5], [1.0, 0.0]]


def test_key_counts_strict_wins_only() -> None:
    """A tie loses; the excess sums log ratios of the lost cells."""
    won, excess, avg = key(np.array([1.0, 2.0, 4.0]), np.array([2.0, 2.0, 2.0]))
    assert won == 1
    assert np.isclose(excess, -np.log(2.0)) and np.isclose(avg, -7.0 / 3.0)


def test_cell_scorer_is_weighted_rmsse_per_cell() -> None:
    """Two series in one cell: RMSSE weighted by units in the last H periods up to the cut."""
    cut = H + 1
    y = np.vstack([np.r_[np.tile([0.0, 2.0], (cut + 1) // 2 + 1)[: cut + 1], np.full(H, 3.0)],
                   np.r_[np.full(cut + 1, 1.0), np.full(H, 1.0)]])
    scorer = CellScorer.of(y, cut, {"a/sku": np.array([0, 1])})
    fc = np.vstack([np.full(H, 1.0), np.full(H, 5.0)])
    # series 1 has scale 0: weight 0; series 0: scale 4, error 2 every step -> RMSSE 1
    assert np.allclose(scorer.cells(fc), [1.0])


def test_across_windows_combines_picks_to_win_on_the_mean() -> None:
    """Neither window's best-alone pick wins both cells on the mean; a mix of picks does."""
    target = np.array([1.0, 1.0])
    first = Pool(target, ["a", "b"], [np.array([0.5, 1.3]), np.array([0.99, 1.05])])
    second = Pool(target, ["c", "d"], [np.array([1.3, 0.5]), np.array([1.05, 0.99])])
    alone = (first.cells[first.best_index()] + second.cells[second.best_index()]) / 2
    assert key(alone, target)[0] == 0
    best, pick = across_windows([first, second], target)
    assert best[0] == 2 and pick == [0, 0]
