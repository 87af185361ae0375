"""Replay of a channel period by period under one allocation policy (pure arrays).

Each period t, in this order: shipments due at t arrive at the nodes; the central warehouse
receives its supply; every `review` periods the policy splits the central stock (it sees the
nodes' positions, the central stock and whatever it was given that was known at t); the
shipments leave and arrive `lead` periods later (0 = at once); then every node sells
min(demand, on hand) and the rest of the demand is lost.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["Decide", "SimInputs", "SimOutcome", "simulate"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Decide = Callable[[int, FloatArray, FloatArray], FloatArray]
"""(period, node positions, central stock per sku) -> units shipped per series."""


@dataclass(frozen=True)
class SimInputs:
    """The channel to replay.

    Attributes:
        demand: series x periods, the demand each node will see (NaN counts as 0).
        group: sku number of each series.
        lead: periods from shipment to arrival, per series.
        review: periods between allocations.
        supply: sku x periods, units arriving centrally at the start of each period.
        initial: units on hand per series at the start.
    """

    demand: FloatArray
    group: IntArray
    lead: IntArray
    review: int
    supply: FloatArray
    initial: FloatArray


@dataclass(frozen=True)
class SimOutcome:
    """What happened: totals over the replay and stock per period."""

    demand: float
    sold: float
    lost: float
    node_stock: FloatArray  # units on hand at all nodes at the end of each period
    central_stock: FloatArray  # units held centrally at the end of each period
    stockouts: int  # series x periods with demand > 0 that lost some of it
    periods_with_demand: int
    series_lost: FloatArray  # units lost per series over the replay
    series_stock: FloatArray  # per series: end-of-period units on hand, summed over periods
    group_central: FloatArray  # per sku: end-of-period central units, summed over periods

    @property
    def fill_rate(self) -> float:
        return self.sold / self.demand if self.demand > 0 else float("nan")


def simulate(inputs: SimInputs, *, decide: Decide,
             on_period: Callable[[], object] | None = None) -> SimOutcome:
    """Replay every period of `inputs.demand` under the policy `decide`; `on_period` is
    called after each period (progress)."""
    demand = np.nan_to_num(inputs.demand, nan=0.0)
    n, periods = demand.shape
    n_groups = inputs.supply.shape[0]
    on_hand = inputs.initial.astype(np.float64).copy()
    arrivals = np.zeros((n, periods + int(inputs.lead.max(initial=0)) + 1))
    central = np.zeros(n_groups)
    node_stock, central_stock = np.zeros(periods), np.zeros(periods)
    sold = lost = 0.0
    stockouts = 0
    series_lost, series_stock, group_central = np.zeros(n), np.zeros(n), np.zeros(n_groups)
    rows = np.arange(n)
    for t in range(periods):
        on_hand += arrivals[:, t]
        central += inputs.supply[:, t]
        if t % inputs.review == 0:
            position = on_hand + arrivals[:, t + 1:].sum(axis=1)
            ship = _checked(decide(t, position, central.copy()), inputs.group, central)
            central -= np.bincount(inputs.group, weights=ship, minlength=n_groups)
            arrivals[rows, t + inputs.lead] += ship  # column t is spent: lead 0 lands now
            on_hand += np.where(inputs.lead == 0, ship, 0.0)
        sale = np.minimum(demand[:, t], on_hand)
        on_hand -= sale
        sold += sale.sum()
        lost += (demand[:, t] - sale).sum()
        series_lost += demand[:, t] - sale
        series_stock += on_hand
        group_central += central
        stockouts += int(((demand[:, t] > 0) & (sale < demand[:, t] - 1e-9)).sum())
        node_stock[t], central_stock[t] = on_hand.sum(), central.sum()
        if on_period is not None:
            on_period()
    return SimOutcome(demand=float(demand.sum()), sold=sold, lost=lost, node_stock=node_stock,
                      central_stock=central_stock, stockouts=stockouts,
                      periods_with_demand=int((demand > 0).sum()), series_lost=series_lost,
                      series_stock=series_stock, group_central=group_central)


def _checked(ship: FloatArray, group: IntArray, central: FloatArray) -> FloatArray:
    """A policy may never ship more than the central stock or a negative quantity."""
    ship = np.asarray(ship, dtype=np.float64)
    total = np.bincount(group, weights=ship, minlength=central.size)
    if (ship < -1e-9).any() or (total > central + 1e-6).any():
        raise RuntimeError("the policy shipped more than the central stock (or < 0): a bug in "
                           "the policy, not in the data.")
    return np.maximum(ship, 0.0)
