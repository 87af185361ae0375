"""Allocation of an sku's central stock across nodes, with the reason for every line.

`allocate` maximises priority-weighted expected profit over each node's protection interval:
margin x expected units sold less the cost of holding the packs there over the interval
(`models.allocation.kernel`: exact, greedy by pack; in two stages when the demand carries a
narrower ranking distribution, `models.allocation.staged`), so a pack whose expected margin is below
its holding cost at every node stays central; with `objective="units"` in the request (or no
margin and holding cost known) it maximises expected units sold; `fair_share` is the planners'
baseline (`models.allocation.equal_cover`). Both take the same request and return the same
table: one row per node with the allocation and its explanation (demand over the interval,
position and stock-out probability before and after, and the constraint that bound the line).

Invariants (tests/models/allocation/test_*.py): never more than `available`; every line a
multiple of the pack size, within [min, max]; the lines of all skus of one call together
within each node's free capacity (shared, `models.allocation.capacity`); no line for an
excluded node; a lower priority tier gets nothing above its minimum until every higher tier
holds its target service level (channelcast only). Requests that cannot hold (minimums over
the stock, unknown nodes, pack size 0) raise with the cause.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np
import numpy.typing as npt
import pandas as pd

from features.config import AllocationConfig
from features.schema import ITEM, NODE, PRIORITY
from models.allocation.capacity import check_shared_minimums, share_capacity
from models.allocation.equal_cover import fair_share_packs
from models.allocation.kernel import PackProblem, pack_value
from models.allocation.request import AllocationRequest
from models.allocation.staged import solve_staged
from models.allocation.table import explain, limits_frame, with_stocked_rows
from models.demand_interval import IntervalDemand

__all__ = ["POLICIES", "allocate", "allocate_all", "fair_share", "limits_problem",
           "pack_problem"]

POLICIES = ("channelcast", "fair_share_forecast", "fair_share_sales")
_DEFAULT_CONFIG = AllocationConfig()
FloatArray = npt.NDArray[np.float64]


def allocate(demand: IntervalDemand, *, request: AllocationRequest, nodes: pd.DataFrame,
             inventory: pd.DataFrame | None = None,
             config: AllocationConfig = _DEFAULT_CONFIG) -> pd.DataFrame:
    """Split `request.available` units of one sku to maximise priority-weighted expected sales.

    Args:
        demand: protection-interval demand per node x sku (`interval_demand`).
        request: the sku, its stock, pack size and per-node overrides.
        nodes: the nodes table (priority, capacity).
        inventory: on_hand, in_transit, min_qty, max_qty per node x sku (all skus: a node's
            free capacity is its capacity minus everything it holds). Missing -> 0 stock.
        config: target service per tier, shipping floor, priority weights.

    Returns:
        One row per node that sells the sku (see `models.allocation.table.COLUMNS`).

    Raises:
        InfeasibleAllocationError: minimums over the stock, or over a node's own max/capacity.
        UnknownNodeError: a node in the request or inventory that is not in `nodes`.
        ValueError: pack size < 1, negative stock, bad config.
    """
    return allocate_all(demand, requests=[request], nodes=nodes, inventory=inventory,
                        config=config)


def fair_share(demand: IntervalDemand, *, request: AllocationRequest, nodes: pd.DataFrame,
               inventory: pd.DataFrame | None = None, basis: str = "forecast",
               recent_sales: pd.Series | None = None) -> pd.DataFrame:
    """The planners' baseline: equal cover over `basis` ("forecast" mean demand over the
    interval, or "sales": `recent_sales` per period (index node_id, sku) x interval)."""
    policy = f"fair_share_{basis}"
    if policy not in POLICIES:
        raise ValueError(f"`basis` must be 'forecast' or 'sales'; got {basis!r}.")
    return allocate_all(demand, requests=[request], nodes=nodes, inventory=inventory,
                        policy=policy, recent_sales=recent_sales)


def allocate_all(demand: IntervalDemand, *, requests: Sequence[AllocationRequest],
                 nodes: pd.DataFrame, inventory: pd.DataFrame | None = None,
                 policy: str = "channelcast", config: AllocationConfig = _DEFAULT_CONFIG,
                 recent_sales: pd.Series | None = None) -> pd.DataFrame:
    """Many skus at once (one request each), solved together: the table of every line.

    A node's `capacity` is shared by all the requested skus: together they never fill it
    beyond its room (capacity minus everything it holds); where they would, the packs worth
    least there (net of their value at the sku's next-best node) are sent elsewhere or kept
    (`models.allocation.capacity`), and those lines are bound by `capacity`.
    """
    if policy not in POLICIES:
        raise ValueError(f"`policy` must be one of {list(POLICIES)}; got {policy!r}.")
    config.check()
    for req in requests:
        req.check()
    demand = with_stocked_rows(demand, inventory, [r.sku for r in requests])
    lim = limits_frame(demand, requests=requests, nodes=nodes, inventory=inventory)
    problem = limits_problem(demand, lim, requests, config)
    basis = None if policy == "channelcast" else _basis(demand, lim, policy, recent_sales)
    problem, packs, cut = _solve(problem, lim, basis=basis)
    table = explain(problem, lim, packs, cut=cut, demand=demand.take(lim["row"].to_numpy()),
                    next_value=pack_value(problem, np.arange(len(packs)), packs + 1))
    table["policy"] = policy
    return table


def _solve(problem: PackProblem, lim: pd.DataFrame, *, basis: FloatArray | None
           ) -> tuple[PackProblem, npt.NDArray[np.int64], npt.NDArray[np.int64] | None]:
    """Packs per row by channelcast (`basis` None) or fair share over `basis`, with node
    capacity shared by the skus (the lines it caps get `hi_source` capacity in `lim`).
    Returns the problem as finally capped, the packs and channelcast's tier cut."""
    node, names = pd.factorize(lim[NODE])
    node = node.astype(np.int64)
    room = np.full(len(names), np.inf)
    room[node] = lim["room"].to_numpy(np.float64)
    shared = problem.n_groups > 1 and bool(np.isfinite(room).any())
    if shared:
        check_shared_minimums(problem, node, room, names)
    if basis is not None:
        packs = fair_share_packs(problem, basis=basis)
        if not shared:
            return problem, packs, None
        problem, packs, capped = share_capacity(
            problem, packs, node=node, room=room, by_value=False,
            solve=lambda q: fair_share_packs(q, basis=basis))
        cut = None
    else:
        solutions = [solve_staged(problem)]

        def resolve(q: PackProblem) -> npt.NDArray[np.int64]:
            solutions.append(solve_staged(q))
            return solutions[-1].packs

        packs = solutions[0].packs
        if not shared:
            return problem, packs, solutions[0].cut
        problem, packs, capped = share_capacity(problem, packs, node=node, room=room,
                                                solve=resolve)
        cut = solutions[-1].cut
    if capped.any():
        lim["hi"] = problem.hi
        lim.loc[capped, "hi_source"] = "capacity"
    return problem, packs, cut


def limits_problem(demand: IntervalDemand, lim: pd.DataFrame,
                   requests: Sequence[AllocationRequest], config: AllocationConfig
                   ) -> PackProblem:
    """The kernel's arrays from the limits table (rows in `lim` order)."""
    budget = np.array([int(np.floor(r.available / r.pack_size + 1e-9)) for r in requests])
    group = lim["group"].to_numpy(np.int64)
    profit = np.array([r.uses_profit for r in requests])
    margin = np.array([r.unit_margin if r.uses_profit else np.nan for r in requests])
    holding = np.array([r.holding_cost if r.uses_profit else 0.0 for r in requests])
    return pack_problem(demand.take(lim["row"].to_numpy(), with_keys=False), group=group,
                        position=lim["position"].to_numpy(np.float64),
                        pack=lim["pack"].to_numpy(np.float64),
                        lo=lim["lo"].to_numpy(np.int64), hi=lim["hi"].to_numpy(np.int64),
                        priority=lim[PRIORITY].to_numpy(np.int64), budget=budget,
                        config=config, holding_ratio=np.where(
                            profit, holding / np.where(profit, margin, 1.0), 0.0)[group])


def pack_problem(demand: IntervalDemand, *, group: npt.NDArray[np.int64], position: FloatArray,
                 pack: FloatArray, lo: npt.NDArray[np.int64], hi: npt.NDArray[np.int64],
                 priority: npt.NDArray[np.int64], budget: npt.NDArray[np.int64],
                 config: AllocationConfig = _DEFAULT_CONFIG,
                 holding_ratio: npt.ArrayLike = 0.0) -> PackProblem:
    """The optimiser's problem from per-row arrays (rows aligned with `demand`): adds the
    priority weights, the packs to each tier's target service level and the shipping floor.
    When `demand` knows its lead-time part, stock-outs before the shipment lands are lost
    sales (`IntervalDemand.served`): the shipment is valued for what it can still sell.

    `holding_ratio` (per row or one value): holding cost per unit per period / unit margin;
    a pack then costs pack x ratio x the interval's periods (the objective is expected profit
    in units of margin) and no tier's target asks for packs that do not pay their holding."""
    demand = demand.served(position)
    weights = config.priority_weights or {}
    levels = np.unique(priority)
    weight = np.array([weights.get(int(p), 1.0 / p) for p in levels])[
        np.searchsorted(levels, priority)]
    service = config.target_service
    alpha = (np.array([service[int(p)] for p in levels])[np.searchsorted(levels, priority)]
             if isinstance(service, Mapping) else np.full(len(priority), float(service)))
    target = np.ceil((demand.quantile(alpha) - position) / pack - 1e-9)
    cost = np.broadcast_to(np.asarray(holding_ratio, np.float64), pack.shape) * pack \
        * demand.periods
    if not np.all(np.isfinite(cost) & (cost >= 0)):
        raise ValueError("`holding_ratio` must be finite and >= 0 (holding cost per unit per "
                         "period / unit margin).")
    problem = PackProblem(demand=demand, group=group, position=position, pack=pack, lo=lo,
                          hi=hi, weight=weight, priority=priority,
                          target=np.clip(target, lo, hi).astype(np.int64),
                          floor=config.min_sell_through * pack,
                          budget=np.asarray(budget, dtype=np.int64), cost=cost)
    if not cost.any():
        return problem
    paying = _paying_packs(problem)
    return replace(problem, target=np.clip(np.minimum(problem.target, paying), lo, hi))


def _paying_packs(p: PackProblem) -> npt.NDArray[np.int64]:
    """Per row, the most packs (up to its target) of which every one pays its holding cost
    (weight x expected extra units sold >= cost); binary search, the value falls with k."""
    lo, hi = np.zeros(len(p.target), np.int64), p.target.copy()
    rows = np.arange(len(lo))
    while np.any(lo < hi):
        mid = (lo + hi + 1) // 2
        ok = p.weight * pack_value(p, rows, mid) >= p.cost
        lo, hi = np.where(ok, mid, lo), np.where(ok, hi, mid - 1)
    return lo


def _basis(demand: IntervalDemand, lim: pd.DataFrame, policy: str,
           recent_sales: pd.Series | None) -> FloatArray:
    rows: npt.NDArray[np.int64] = lim["row"].to_numpy(np.int64)
    if policy == "fair_share_forecast":
        return demand.mean[rows]
    if recent_sales is None:
        raise ValueError("`recent_sales` (units per period by node_id, sku) is needed for the "
                         "fair_share_sales policy; see `models.allocation.recent_sales_rate`.")
    index = pd.MultiIndex.from_frame(lim[[NODE, ITEM]].astype(str))
    rate = recent_sales.copy()
    rate.index = pd.MultiIndex.from_arrays([rate.index.get_level_values(0).astype(str),
                                            rate.index.get_level_values(1).astype(str)])
    per: FloatArray = rate.reindex(index).fillna(0.0).to_numpy(np.float64)
    return per * demand.periods[rows]

