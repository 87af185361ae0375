"""Two-stage allocation: ranking distribution first, calibrated distribution for the rest."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from models.allocation import pack_problem
from models.allocation.kernel import PackProblem, solve
from models.allocation.staged import solve_staged
from models.demand_interval import IntervalDemand
from tests.models.allocation.cases import make_demand

# calibrated: node 0 wide (0..40), node 1 narrow (8..12); same means, narrower for ranking
CALIBRATED = IntervalDemand.from_knots(levels=[0.0, 1.0], values=[[0.0, 40.0], [8.0, 12.0]])
RANKING = IntervalDemand.from_knots(levels=[0.0, 1.0], values=[[10.0, 30.0], [9.5, 10.5]])


def _problem(demand: IntervalDemand, budget: int) -> PackProblem:
    n = len(demand)
    return pack_problem(demand, group=np.zeros(n, np.int64), position=np.zeros(n),
                        pack=np.ones(n), lo=np.zeros(n, np.int64),
                        hi=np.full(n, budget, np.int64), priority=np.ones(n, np.int64),
                        budget=np.array([budget]))


def test_without_a_ranking_distribution_it_is_the_exact_solve() -> None:
    p = _problem(make_demand(np.random.default_rng(4), 6), 25)
    np.testing.assert_array_equal(solve_staged(p).packs, solve(p).packs)


def test_scarce_stock_goes_where_the_ranking_distribution_says() -> None:
    p = _problem(replace(CALIBRATED, ranking=RANKING), 22)
    plain, staged = solve(p).packs, solve_staged(p).packs
    assert plain.sum() == staged.sum() == 22
    assert staged[1] > plain[1]  # node 1's likely 10 units before node 0's wide tail


def test_what_the_ranking_keeps_central_the_calibrated_distribution_places() -> None:
    p = _problem(replace(CALIBRATED, ranking=RANKING), 48)
    first = solve(replace(p, demand=RANKING)).packs
    staged = solve_staged(p).packs
    assert first.sum() < 48 and np.all(staged >= first)
    assert staged.sum() == solve(p).packs.sum()
