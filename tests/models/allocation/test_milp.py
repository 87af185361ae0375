"""Optimality: `allocate` against an exact MILP (scipy's HiGHS) on 200 random instances.

The MILP is the piecewise-linear model of the same problem: per node an integer number of
packs n in [lo, hi] and one segment per pack whose slope is that pack's weighted expected
extra sales (E[min(D, p + kb)] - E[min(D, p + (k-1)b)], concave in k, so the LP fills
segments in order) less its holding cost (profit cases), sum of packs <= budget, and the
tier gate with binaries: z_c = 1 lets tiers below c exceed their minimum and forces tier c
to its target packs.
"""

from __future__ import annotations

import numpy as np
import pytest

from models.allocation import allocate
from models.allocation.kernel import objective
from tests.models.allocation.cases import case_problem, make_case, milp_optimum

N_CASES = 200
TOLERANCE = 1e-3  # the "within 0.1%"


@pytest.mark.parametrize("chunk", range(4))
def test_allocate_matches_milp_optimum(chunk: int) -> None:
    _check_gaps(range(chunk * N_CASES // 4, (chunk + 1) * N_CASES // 4), profit=False)


@pytest.mark.parametrize("chunk", range(2))
def test_profit_allocation_matches_milp_optimum(chunk: int) -> None:
    """Expected profit (margin x units sold - holding cost): the same exactness."""
    _check_gaps(range(chunk * N_CASES // 4, (chunk + 1) * N_CASES // 4), profit=True)


def _check_gaps(seeds: range, *, profit: bool) -> None:
    gaps = []
    for seed in seeds:
        case = make_case(seed, profit=profit)
        table = allocate(case.demand, request=case.request, nodes=case.nodes,
                         inventory=case.inventory, config=case.config)
        p = case_problem(case)
        ours = float(objective(p, table["packs"].to_numpy(np.int64))[0])
        best, packs = milp_optimum(p)
        assert packs.sum() <= p.budget[0]
        gaps.append((best - ours) / max(abs(best), 1e-9))
    assert max(gaps) <= TOLERANCE, f"worst gap {max(gaps):.2e}"
