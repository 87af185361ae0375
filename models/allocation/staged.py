"""channelcast's allocation in two stages: narrow intervals place packs, calibrated ones the rest.

Stage 1 solves the problem (`models.allocation.kernel.solve`, exact for the distribution it is
given) on the demand's `ranking` distribution (`IntervalDemand.ranking`: the same forecast with
independent steps, narrower than the calibrated one). Stage 2 keeps those packs as minimums and
solves the same problem on the calibrated distribution, so the packs stage 1 would keep central
go where the calibrated distribution still expects them to sell, and nothing a node could sell
stays central for lack of spread. Without a ranking distribution this is `solve`.

Why: with the calibrated (comonotone) intervals, the greedy pack values favour the nodes with
the widest upper tails over nodes whose likely demand would go unmet; ranking on narrower
intervals and filling up on calibrated ones sold more with less stock on every generated seed
at 85% and 100% supply (BENCHMARKS.md, "Policy headroom against perfect foresight (issue 20)").
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from models.allocation.kernel import PackProblem, PackSolution, solve

__all__ = ["solve_staged"]


def solve_staged(p: PackProblem) -> PackSolution:
    """Packs per row: stage 1 on `p.demand.ranking`, stage 2 on `p.demand` (module doc)."""
    ranking = p.demand.ranking
    if ranking is None:
        return solve(p)
    first = solve(replace(p, demand=ranking)).packs
    lo = np.maximum(p.lo, first)
    return solve(replace(p, lo=lo, target=np.maximum(p.target, lo)))
