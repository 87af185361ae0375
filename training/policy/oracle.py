"""The perfect-foresight policy of the policy backtest: the ceiling the other policies are
measured against.

The oracle knows every node's realised demand over the whole replay and plans all its
shipments at once, per sku, as a mixed-integer program (HiGHS through `scipy.optimize.milp`)
under the replay's own rules: shipments only at reviews, in whole packs, from the central
stock on hand (supply arrives period by period), landing after each node's lead time;
a node sells at most its demand and what it holds, and demand it cannot serve is lost.
It maximises the (priority-weighted) units sold.

Why it is the ceiling: any policy's shipments are a feasible plan of that program (same
supply, packs, reviews and lead times), so no policy sells more than its optimum; and the
replay of the optimal plan sells at least the optimum, since a node that sells whatever it
can as soon as it can sells at least as much as any plan's sales from the same arrivals.
The policy backtest has no node minimums, maximums or capacities (every policy ships
within [0, central stock]); neither does the oracle. Sizes: per sku, nodes x periods
shipment, sale and stock variables (walmart: ~45 nodes x 83 weeks). Whole packs make it
hard: with packs of 24 units and a few units a week per node HiGHS does not prove a 1% gap
in 20 s. A wall-clock limit made the plan depend on the machine's load (HiGHS stopped
wherever the clock found it, often inside the root node before its heuristics had run), so
each sku gets a deterministic work limit instead: HiGHS finishes the root node (presolve,
cuts, heuristics) and stops after `node_limit` branch-and-bound nodes (1 by default) or at
the `MIP_GAP`; the same inputs give the same plan on any machine and load. The oracle ships
the best plan found (none, if HiGHS found none: then the candidates below decide);
`Oracle.bound` is HiGHS' upper bound on the units sold (the sum over skus of each problem's
dual bound), which no policy can exceed. With a gap left, a policy may sell
a little more than that plan, never more than the bound. So the oracle takes, per sku, the
plan that sells most in hindsight among HiGHS' plan and `candidates` (the shipments the
other policies made in the same replay; skus do not interact in the replay, so the per-sku
choices make one feasible plan): it is then never below another policy. Shipments are not
timed to hold the least stock (a tie-break penalty made the problems much slower).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

from training.policy.sim import Decide, SimInputs, simulate

__all__ = ["MIP_GAP", "NODE_LIMIT", "Oracle", "best_per_sku", "plan_shipments"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
NODE_LIMIT = 1
"""Branch-and-bound nodes HiGHS explores per sku after its root node (a work limit, not a
clock: the plan does not depend on the machine's load)."""
MIP_GAP = 1e-3
"""Relative gap at which HiGHS stops."""


def plan_shipments(inputs: SimInputs, *, pack: FloatArray, weight: FloatArray,
                   node_limit: int = NODE_LIMIT) -> tuple[FloatArray, float]:
    """Units shipped per series x period by the perfect-foresight plan (`pack` per sku,
    `weight` per series), and the upper bound on the weighted units sold."""
    demand = np.nan_to_num(inputs.demand, nan=0.0)
    plan = np.zeros_like(demand)
    bound = 0.0
    for g in range(inputs.supply.shape[0]):
        rows = np.flatnonzero(inputs.group == g)
        if rows.size:
            plan[rows], b = _plan_sku(demand[rows], lead=inputs.lead[rows],
                                      review=inputs.review, supply=inputs.supply[g],
                                      initial=inputs.initial[rows], pack=float(pack[g]),
                                      weight=weight[rows], node_limit=node_limit)
            bound += b
    return plan, bound


def _plan_sku(demand: FloatArray, *, lead: IntArray, review: int, supply: FloatArray,
              initial: FloatArray, pack: float, weight: FloatArray, node_limit: int
              ) -> tuple[FloatArray, float]:
    """One sku's plan. Variables: packs k[i, r] at each review r, sales s[i, t], stock at
    the nodes after the period's sales h[i, t], central stock after shipping c[t]."""
    n, periods = demand.shape
    reviews = np.arange(0, periods, review)
    nk, ns = n * reviews.size, n * periods
    k_at = np.arange(nk).reshape(n, reviews.size)
    s_at = nk + np.arange(ns).reshape(n, periods)
    h_at = nk + ns + np.arange(ns).reshape(n, periods)
    c_at = nk + 2 * ns + np.arange(periods)
    size = nk + 2 * ns + periods
    r_idx: list[IntArray] = []
    c_idx: list[IntArray] = []
    vals: list[FloatArray] = []

    def add(row: IntArray, col: IntArray, value: float) -> None:
        r_idx.append(row.ravel())
        c_idx.append(col.ravel())
        vals.append(np.full(row.size, value))

    node_row = np.arange(ns).reshape(n, periods)  # h[t] - h[t-1] + s[t] - pack k[t-L] = 0
    add(node_row, h_at, 1.0)
    add(node_row[:, 1:], h_at[:, :-1], -1.0)
    add(node_row, s_at, 1.0)
    land = reviews[None, :] + lead[:, None]  # landing period of each review's shipment
    ok = land < periods
    ii, rr = np.nonzero(ok)
    add(node_row[ii, land[ii, rr]], k_at[ii, rr], -pack)
    central_row = ns + np.arange(periods)  # c[t] - c[t-1] + pack sum_i k[i, t] = supply[t]
    add(central_row, c_at, 1.0)
    add(central_row[1:], c_at[:-1], -1.0)
    add(np.repeat(central_row[reviews], n), k_at.T, pack)
    a = sparse.csr_array((np.concatenate(vals), (np.concatenate(r_idx),
                                                 np.concatenate(c_idx))),
                         shape=(ns + periods, size))
    rhs = np.zeros(ns + periods)
    rhs[node_row[:, 0]] = initial
    rhs[central_row] = supply
    upper = np.full(size, np.inf)
    upper[s_at] = demand
    upper[k_at[~ok]] = 0.0  # a shipment landing after the replay sells nothing
    cost = np.zeros(size)
    cost[s_at] = -np.repeat(weight[:, None], periods, axis=1)
    integer = np.zeros(size)
    integer[k_at] = 1
    result = milp(cost, constraints=LinearConstraint(a, rhs, rhs), integrality=integer,
                  bounds=Bounds(np.zeros(size), upper),
                  options={"node_limit": node_limit, "mip_rel_gap": MIP_GAP})
    plan = np.zeros((n, periods))
    given = getattr(result, "mip_dual_bound", None)
    dual = float(given) if given is not None and np.isfinite(given) else None
    if result.x is None:  # no plan within the work limit: ship nothing
        # here (the candidates' plans compete per sku); the bound is HiGHS' or the trivial one
        return plan, -dual if dual is not None else _trivial_bound(demand, initial, supply,
                                                                    weight)
    plan[:, reviews] = np.rint(result.x[k_at]) * pack
    return plan, -dual if dual is not None else -float(result.fun)


def _trivial_bound(demand: FloatArray, initial: FloatArray, supply: FloatArray,
                   weight: FloatArray) -> float:
    """Weighted units sold are at most the weighted demand and the stock that can arrive."""
    most = float(weight.max(initial=0.0)) * float(initial.sum() + supply.sum())
    return min(float(weight @ demand.sum(axis=1)), most)


def best_per_sku(inputs: SimInputs, plans: list[FloatArray], weight: FloatArray
                 ) -> FloatArray:
    """Per sku, the plan (series x periods of units shipped) whose replay sells the most
    (priority-weighted); the first plan wins ties."""
    demand = np.nan_to_num(inputs.demand, nan=0.0).sum(axis=1)
    n_groups = inputs.supply.shape[0]
    sold = []
    for plan in plans:
        out = simulate(inputs, decide=_follow(plan))
        sold.append(np.bincount(inputs.group, weights=weight * (demand - out.series_lost),
                                minlength=n_groups))
    best = np.argmax(np.round(np.vstack(sold), 9), axis=0)  # the first of equals
    return np.stack(plans)[best[inputs.group], np.arange(inputs.group.size)]


def _follow(plan: FloatArray) -> Decide:
    """The policy that ships `plan[:, t]` at period t."""

    def decide(t: int, _position: FloatArray, _central: FloatArray) -> FloatArray:
        return plan[:, t]

    return decide


class Oracle:
    """The perfect-foresight policy for `simulate` runs of `inputs` (a `Decide`): ships the
    planned units of each review, never more than the central stock. The plan: per sku,
    the best of `plan_shipments`' and the `candidates` (other plans for the same inputs)."""

    def __init__(self, inputs: SimInputs, *, pack: FloatArray, weight: FloatArray,
                 node_limit: int = NODE_LIMIT, candidates: tuple[FloatArray, ...] = ()
                 ) -> None:
        self.group = inputs.group
        weight = np.asarray(weight, dtype=np.float64)
        plan, self.bound = plan_shipments(inputs, pack=np.asarray(pack, dtype=np.float64),
                                          weight=weight, node_limit=node_limit)
        self.plan = best_per_sku(inputs, [plan, *candidates], weight) if candidates else plan

    def __call__(self, t: int, _position: FloatArray, central: FloatArray) -> FloatArray:
        """Units shipped per series at period `t` (the `Decide` signature)."""
        ship = self.plan[:, t]
        total = np.bincount(self.group, weights=ship, minlength=central.size)
        if (total > central + 1e-6).any():
            raise RuntimeError(f"the oracle's plan ships more than the central stock at period "
                               f"{t}: the plan was made for other inputs.")
        return ship
