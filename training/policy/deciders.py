"""The replay's allocation policies as functions (period, positions, central stock) -> units.

Each policy has one service knob, swept for the efficient frontier (`training.policy.frontier`):
- channelcast: `knob` = the quantile of a node's protection-interval demand (what its stock
  can still serve, `IntervalDemand.served`) up to which it is filled; packs above it stay
  central. None: no cap (the optimiser alone decides, by expected profit or units).
- fair share (forecast or sales): `knob` = the cover multiple c: a node is filled to at most
  c x its basis (mean forecast demand, or recent sales, over the interval); the stock
  beyond stays central. None: no cap (all the central stock is split).
channelcast maximises expected profit when `holding_ratio` (holding cost per unit per period /
unit margin, per series) is given, else expected units sold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from features.config import AllocationConfig
from models.allocation import POLICIES, fair_share_packs, pack_problem
from models.allocation.kernel import PackProblem
from models.allocation.staged import solve_staged
from models.demand_interval import IntervalDemand
from training.policy.sim import Decide

__all__ = ["PolicyInputs", "decider", "priority_weights", "recorded"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class PolicyInputs:
    """What the policies know, per replayed period and per series.

    Attributes:
        dists: protection-interval demand forecast at each replayed period.
        group: sku number per series; pack: units per pack per sku.
        priority: tier per series (all 1 without tiers).
        sales: recorded units per series x grid period (for fair share by sales).
        start: grid index of the first replayed period; interval: lead + review per series.
        sales_window: periods of recent sales behind fair share by sales.
        holding_ratio: per series, holding cost per unit per period / unit margin (None:
            channelcast maximises units).
        allocation: channelcast's settings.
        channelcast_dists: channelcast's own interval demand per replayed period (with the
            planned promotions, `training.policy.promo`); None: `dists`.
    """

    dists: Sequence[IntervalDemand]
    group: IntArray
    pack: FloatArray
    priority: IntArray
    sales: FloatArray
    start: int
    interval: IntArray
    sales_window: int
    holding_ratio: FloatArray | None
    allocation: AllocationConfig
    channelcast_dists: Sequence[IntervalDemand] | None = None


def decider(policy: str, inputs: PolicyInputs, *, knob: float | None = None) -> Decide:
    """The policy (from `models.allocation.POLICIES`) at service knob `knob` (module doc)."""
    if policy not in POLICIES:
        raise ValueError(f"`policy` must be one of {list(POLICIES)}; got {policy!r}.")
    if knob is not None and not knob > 0:
        raise ValueError(f"the service knob of {policy} must be > 0 (or None); got {knob}.")
    if policy == "channelcast" and knob is not None and not knob < 1:
        raise ValueError(f"channelcast's knob is a quantile in (0, 1); got {knob}.")
    f = inputs
    row_pack = f.pack[f.group]
    ratio = 0.0 if f.holding_ratio is None or policy != "channelcast" else f.holding_ratio
    dists = (f.channelcast_dists if policy == "channelcast" and f.channelcast_dists is not None
             else f.dists)

    def decide(t: int, position: FloatArray, central: FloatArray) -> FloatArray:
        budget = np.floor(central / f.pack + 1e-9).astype(np.int64)
        p = pack_problem(dists[t], group=f.group, position=position, pack=row_pack,
                         lo=np.zeros(len(f.group), np.int64), hi=budget[f.group],
                         priority=f.priority, budget=budget, config=f.allocation,
                         holding_ratio=ratio)
        if policy == "channelcast":
            if knob is not None:
                p = _capped(p, np.ceil((p.demand.quantile(knob) - position) / row_pack - 1e-9))
            return solve_staged(p).packs * row_pack
        if policy == "fair_share_forecast":
            basis = f.dists[t].mean
        else:
            now = f.start + t
            basis = f.sales[:, max(now - f.sales_window, 0): now].mean(axis=1) * f.interval
        if knob is not None:
            p = _capped(p, np.floor((knob * basis - position) / row_pack + 1e-9))
        return fair_share_packs(p, basis=basis) * row_pack

    return decide


def _capped(p: PackProblem, packs: FloatArray) -> PackProblem:
    """`p` with each row's most packs lowered to `packs` (never below 0 or its minimum)."""
    hi = np.minimum(p.hi, np.maximum(packs, p.lo)).astype(np.int64)
    return replace(p, hi=hi, target=np.minimum(p.target, hi))


def recorded(decide: Decide, plan: FloatArray) -> Decide:
    """`decide`, writing what it ships at period t into `plan[:, t]`."""

    def recording(t: int, position: FloatArray, central: FloatArray) -> FloatArray:
        ship = np.maximum(np.asarray(decide(t, position, central), dtype=np.float64), 0.0)
        plan[:, t] = ship
        return ship

    return recording


def priority_weights(priority: IntArray, config: AllocationConfig) -> FloatArray:
    """Per series: the allocation's priority weight (1 / priority unless configured)."""
    given = config.priority_weights or {}
    return np.array([given.get(int(p), 1.0 / p) for p in priority], dtype=np.float64)
