"""Seeded random allocation problems, and the exact MILP reference, for the optimality and
property tests and benchmarks/allocation.py (not a test file).

An instance is one sku over n nodes: gamma demand per forecast step (quantiles on
DEFAULT_LEVELS), protection intervals of 1-3 periods, random positions, pack sizes, minimums,
maximums, capacities and two priority tiers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_matrix

from models.allocation import AllocationConfig, AllocationRequest, pack_problem
from models.allocation.kernel import PackProblem, objective, pack_value
from models.demand_interval import DEFAULT_LEVELS, IntervalDemand, combine_steps

__all__ = ["Case", "case_problem", "make_case", "make_demand", "milp_optimum"]


def make_demand(rng: np.random.Generator, n: int, *, horizon: int = 3, sku: str = "S1"
                ) -> IntervalDemand:
    """Protection-interval demand of n nodes N0..N{n-1} for one sku."""
    levels = np.array(DEFAULT_LEVELS)
    means = rng.gamma(1.0, 8.0, size=(n, horizon))
    shape = rng.uniform(0.5, 4.0, size=(n, 1))
    steps = np.stack([stats.gamma.ppf(levels[None, :], a=shape, scale=means[:, h:h + 1] / shape)
                      for h in range(horizon)], axis=1)
    periods = rng.uniform(1.0, horizon, n)
    mean, knots, values = combine_steps(steps, means, levels=levels, periods=periods,
                                        correlation=float(rng.uniform(0, 1)))
    keys = pd.DataFrame({"node_id": [f"N{i}" for i in range(n)], "sku": sku})
    return IntervalDemand(keys=keys, mean=mean, periods=periods, levels=knots, values=values)


@dataclass(frozen=True)
class Case:
    """A random instance as the public API sees it, and as the kernel sees it."""

    demand: IntervalDemand
    request: AllocationRequest
    nodes: pd.DataFrame
    inventory: pd.DataFrame
    config: AllocationConfig


def make_case(seed: int, *, max_nodes: int = 50, max_packs: int = 25,
              profit: bool = False) -> Case:
    """One random instance; minimums always fit the stock. `profit`: the request maximises
    expected profit, with a holding cost of 1-30% of the unit margin per period."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, max_nodes + 1))
    demand = make_demand(rng, n)
    pack = int(rng.choice([1, 1, 2, 3, 6, 12]))
    names = demand.keys["node_id"].tolist()
    min_qty = np.where(rng.random(n) < 0.3, rng.integers(1, 3, n) * pack, np.nan)
    max_qty = np.where(rng.random(n) < 0.4, pack * rng.integers(2, max_packs, n), np.nan)
    on_hand = rng.integers(0, 20, n).astype(float)
    in_transit = rng.integers(0, 5, n).astype(float)
    capacity = np.where(rng.random(n) < 0.3,
                        on_hand + in_transit + pack * rng.integers(2, max_packs, n), np.nan)
    nodes = pd.DataFrame({"node_id": names, "parent_id": None, "channel": "dealer",
                          "lead_time_days": 7, "review_period_days": 7,
                          "priority": rng.integers(1, 3, n), "capacity": capacity})
    inventory = pd.DataFrame({"node_id": names, "sku": "S1", "on_hand": on_hand,
                              "in_transit": in_transit,
                              "as_of": pd.Timestamp("2024-01-01"),
                              "min_qty": min_qty, "max_qty": max_qty})
    floor_units = np.nansum(np.ceil(min_qty / pack)) * pack
    available = float(floor_units + rng.integers(0, max(2, int(demand.mean.sum() * 1.5)) + 1))
    exclude = tuple(rng.choice(names, size=int(rng.integers(0, 3)), replace=False)) \
        if n > 2 else ()
    margin = float(rng.uniform(1, 10)) if profit else None
    holding = None if margin is None else margin * float(rng.uniform(0.01, 0.3))
    request = AllocationRequest(sku="S1", available=available, pack_size=pack,
                                exclude=exclude, unit_margin=margin, holding_cost=holding)
    config = AllocationConfig(target_service=float(rng.choice([0.8, 0.9, 0.95])))
    return Case(demand=demand, request=request, nodes=nodes, inventory=inventory,
                config=config)


def case_problem(case: Case) -> PackProblem:
    """The kernel problem behind a case (same limits as `allocate` derives)."""
    from models.allocation.table import limits_frame

    lim = limits_frame(case.demand, requests=[case.request], nodes=case.nodes,
                       inventory=case.inventory)
    budget = np.array([int(case.request.available // case.request.pack_size)])
    req = case.request
    ratio = (req.holding_cost or 0.0) / (req.unit_margin or 1.0) if req.uses_profit else 0.0
    return pack_problem(case.demand.take(lim["row"].to_numpy(), with_keys=False),
                        group=lim["group"].to_numpy(np.int64),
                        position=lim["position"].to_numpy(np.float64),
                        pack=lim["pack"].to_numpy(np.float64),
                        lo=lim["lo"].to_numpy(np.int64), hi=lim["hi"].to_numpy(np.int64),
                        priority=lim["priority"].to_numpy(np.int64), budget=budget,
                        config=case.config, holding_ratio=ratio)


def milp_optimum(p: PackProblem, *, time_limit: float = 60.0) -> tuple[float, np.ndarray]:
    """Optimal weighted expected sales and packs of a single-group problem, by HiGHS.

    Variables: packs n (integer, one per node), segments s (one per pack above the minimum,
    in [0, 1]), gates z (binary, one per tier but the last).
    """
    n = len(p.lo)
    seg_row = np.repeat(np.arange(n), p.hi - p.lo)
    seg_k = p.lo[seg_row] + 1 + (np.arange(seg_row.size)
                                 - np.repeat(np.cumsum(p.hi - p.lo) - (p.hi - p.lo), p.hi - p.lo))
    slope = (p.weight[seg_row] * pack_value(p, seg_row, seg_k) - p.cost[seg_row]
             if seg_row.size else np.zeros(0))
    tiers = np.unique(p.priority)[:-1]
    n_seg, n_gate = seg_row.size, tiers.size
    cost = np.concatenate([np.zeros(n), -slope, np.zeros(n_gate)])
    lower = np.concatenate([p.lo, np.zeros(n_seg), np.zeros(n_gate)])
    upper = np.concatenate([p.hi, np.ones(n_seg), np.ones(n_gate)])
    integrality = np.concatenate([np.ones(n), np.zeros(n_seg), np.ones(n_gate)])
    rows, cols, vals, lb, ub = _link_and_budget(p, seg_row)
    for t, c in enumerate(tiers):
        gate = n + n_seg + t
        for r in range(n):
            if p.priority[r] > c:  # a lower tier gets nothing above its minimum unless z_c
                coef, lo, hi = -(p.hi[r] - p.lo[r]), -np.inf, p.lo[r]
            elif p.priority[r] == c:  # z_c needs tier c at its target
                coef, lo, hi = -float(p.target[r]), 0.0, np.inf
            else:
                continue
            rows += [len(lb), len(lb)]
            cols += [r, gate]
            vals += [1.0, coef]
            lb.append(lo)
            ub.append(hi)
    a = coo_matrix((vals, (rows, cols)), shape=(len(lb), n + n_seg + n_gate)).tocsr()
    res = milp(cost, integrality=integrality, bounds=Bounds(lower, upper),
               constraints=LinearConstraint(a, lb, ub),
               options={"mip_rel_gap": 1e-9, "time_limit": time_limit})
    assert res.status == 0, res.message
    packs = np.rint(res.x[:n]).astype(np.int64)
    return float(objective(p, packs)[0]), packs


def _link_and_budget(p: PackProblem, seg_row: np.ndarray
                     ) -> tuple[list[int], list[int], list[float], list[float], list[float]]:
    """packs_r - sum of r's segments = lo_r for every node; sum of packs <= budget."""
    n = len(p.lo)
    rows = [*range(n), *seg_row.tolist(), *([n] * n)]
    cols = [*range(n), *(n + np.arange(seg_row.size)).tolist(), *range(n)]
    vals = [1.0] * n + [-1.0] * seg_row.size + [1.0] * n
    lb = [*map(float, p.lo), 0.0]
    ub = [*map(float, p.lo), float(p.budget[0])]
    return rows, cols, vals, lb, ub
