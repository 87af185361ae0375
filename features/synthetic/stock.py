"""Stock at the nodes of the synthetic generator, and the sales it lets through.

Every series runs a periodic-review order-up-to policy: on its node's review days the node
orders up to a level that covers the lead time plus the review period with a safety margin,
using a noisy forecast of demand (a planner's bias per series plus noise per order). Orders
come in whole packs, arrive after the lead time (sometimes one period late), and central
supply is occasionally short for an item, so part of an order is never shipped. Sales are
min(demand, stock available); demand beyond that is lost, as it is in real sell-through data.

The simulation loops over periods and works on arrays over all series at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from features.synthetic.demand import DemandPanel

__all__ = ["StockPanel", "StockPolicy", "simulate_stock", "supply_fill"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
I32Array = npt.NDArray[np.int32]


@dataclass(frozen=True)
class StockPolicy:
    """Replenishment settings per series (all arrays have one entry per series).

    Attributes:
        lead: lead time in periods (>= 1: an order arrives at the start of a later period).
        review: review period in periods (>= 1).
        offset: review calendar offset; the series orders when (t + offset) % review == 0.
        pack: order multiple in units.
        safety_z: safety factor on the forecast's standard deviation.
        item: item index of each series, to look up the central supply fill rate.
    """

    lead: IntArray
    review: IntArray
    offset: IntArray
    pack: IntArray
    safety_z: FloatArray
    item: IntArray


@dataclass(frozen=True)
class StockPanel:
    """The result of the stock run.

    Attributes:
        units: (series, periods) sales = min(demand, stock available).
        on_hand: (series, periods) stock at period end.
        sell_in: (series, periods) units received into the node in the period.
        in_transit: (series,) units shipped but not yet received after the last period.
        order_up_to: (series,) the order-up-to level at the last period.
        node_peak: (nodes,) highest total stock (on hand + in transit) a node ever held.
    """

    units: I32Array
    on_hand: I32Array
    sell_in: I32Array
    in_transit: IntArray
    order_up_to: IntArray
    node_peak: IntArray


def supply_fill(rng: np.random.Generator, n_items: int, periods: int, period_days: int
                ) -> FloatArray:
    """(items, periods) share of ordered units the central warehouse can ship.

    Each item falls into a shortage now and then (about twice a year) that lasts a few weeks;
    during it only 0-60% of what is ordered ships.
    """
    weeks = period_days / 7
    p_enter, p_leave = 1 - (1 - 0.04) ** weeks, 1 - (1 - 0.3) ** weeks
    fill = np.ones((n_items, periods))
    short = np.zeros(n_items, dtype=bool)
    for t in range(periods):
        u = rng.random(n_items)
        short = np.where(short, u >= p_leave, u < p_enter)
        fill[short, t] = rng.uniform(0.0, 0.6, int(short.sum()))
    return fill


def simulate_stock(rng: np.random.Generator, panel: DemandPanel, policy: StockPolicy,
                   fill: FloatArray, n_nodes: int) -> StockPanel:
    """Run the order-up-to policy of every series over all periods."""
    n_series, periods = int(panel.demand.shape[0]), int(panel.demand.shape[1])
    horizon = policy.lead + policy.review
    # cumulative expected demand, padded past the end so every look-ahead window exists
    padded = np.concatenate(
        [np.zeros((n_series, 1)), panel.expected,
         np.repeat(panel.expected[:, -1:], int(horizon.max()) + 1, axis=1)], axis=1)
    cum = np.cumsum(padded, axis=1)
    bias = rng.normal(0.0, 0.15, n_series)
    ring = int(policy.lead.max()) + 2
    pipeline = np.zeros((n_series, ring), dtype=np.int64)
    rows = np.arange(n_series)
    on_hand = np.zeros(n_series, dtype=np.int64)
    on_order = np.zeros(n_series, dtype=np.int64)
    target = np.zeros(n_series, dtype=np.int64)
    node_peak = np.zeros(n_nodes, dtype=np.int64)
    units = np.zeros((n_series, periods), dtype=np.int32)
    stock = np.zeros((n_series, periods), dtype=np.int32)
    sell_in = np.zeros((n_series, periods), dtype=np.int32)
    first_stock = rng.uniform(0.4, 1.0, n_series)
    for t in range(periods):
        slot = t % ring
        arrived = pipeline[:, slot].copy()
        pipeline[:, slot] = 0
        on_order -= arrived
        # the planner's forecast of mean demand over the next lead + review periods
        mean = (cum[rows, t + 1 + horizon] - cum[:, t + 1]) / horizon
        mean *= np.exp(bias + 0.25 * rng.standard_normal(n_series))
        spread = np.sqrt(horizon * (mean + mean**2 / panel.dispersion))
        target = np.maximum(np.ceil(mean * horizon + policy.safety_z * spread), 2).astype(np.int64)
        opening = panel.start == t
        if opening.any():
            share = first_stock[opening] if t == 0 else 1.0
            packs = np.ceil(share * target[opening] / policy.pack[opening])
            on_hand[opening] = packs.astype(np.int64) * policy.pack[opening]
        available = on_hand + arrived
        sold = np.minimum(panel.demand[:, t], available)
        on_hand = available - sold
        selling = (panel.start <= t) & (t < panel.end)
        review = selling & ((t + policy.offset) % policy.review == 0)
        short = np.where(review, target - on_hand - on_order, 0)
        packs = np.ceil(np.maximum(short, 0) / policy.pack)
        partial = np.where(rng.random(n_series) < 0.02, rng.uniform(0.3, 0.9, n_series), 1.0)
        shipped_packs = np.floor(packs * fill[policy.item, t] * partial + 1e-9)
        shipped = shipped_packs.astype(np.int64) * policy.pack
        late = (rng.random(n_series) < 0.05).astype(np.int64)
        pipeline[rows, (t + policy.lead + late) % ring] += shipped
        on_order += shipped
        units[:, t], stock[:, t], sell_in[:, t] = sold, on_hand, arrived
        node_peak = np.maximum(node_peak, (on_hand + on_order).reshape(n_nodes, -1).sum(axis=1))
    return StockPanel(units=units, on_hand=stock, sell_in=sell_in, in_transit=on_order,
                      order_up_to=target, node_peak=node_peak)
