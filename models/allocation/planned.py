"""What channelcast allocates on: the forecast's interval demand, moved and ranked.

One function, used by the product (`channelcast allocate`, the service's allocations) and by
the policy replay (`training.policy.backtest.replay_setup`), so that the backtest measures the
policy that ships. `channelcast_demand` scales each row's interval distribution (quantiles,
lead-time part, ranking) by a factor (the pooled means, `models.allocation.pooled`, and in the
replay the planned promotions), then gives it the gamma ranking distribution that the first
stage of the two-stage allocation places packs on (`models.allocation.ranking`). Fair share
keeps the forecasts as they are.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from features.schema import ITEM, NODE
from models.allocation.ranking import RANKING_DISPERSION, gamma_ranking
from models.allocation.table import pair_indexer
from models.demand_interval import IntervalDemand

__all__ = ["DEMAND_SOURCE", "POOLED_NOTE", "channelcast_demand", "with_demand_source"]

DEMAND_SOURCE = "demand_source"
"""Allocation table column: "pooled" where the line's interval mean was moved to the pooled
rate, "forecast" where it is the forecast's."""
POOLED_NOTE = ("the demand mean is the forecast's moved half-way to the pooled rate (the sku's "
               "sales over its last 2 periods across all nodes x this node's 52-period share), "
               "which has split the sku's sales over its nodes better than the forecasts "
               "lately")
"""What a line's explanation adds when its demand mean is the pooled one."""


def channelcast_demand(demand: IntervalDemand, *, factor: npt.ArrayLike | None = None,
                       dispersion: float | None = RANKING_DISPERSION) -> IntervalDemand:
    """`demand` scaled per row by `factor` (None: 1), with the gamma ranking of `dispersion`
    (None: the forecast's own ranking distribution) (module doc)."""
    if factor is not None:
        demand = demand.scaled(np.asarray(factor, dtype=np.float64))
    if dispersion is None:
        return demand
    return gamma_ranking(demand, dispersion=dispersion)


def with_demand_source(table: pd.DataFrame, moved: pd.DataFrame) -> pd.DataFrame:
    """`table` with `DEMAND_SOURCE`: "pooled" on the (node_id, sku) lines in `moved`."""
    at = pair_indexer(table[NODE].astype(str).to_numpy(), table[ITEM].astype(str).to_numpy(),
                      moved[NODE].astype(str).to_numpy(), moved[ITEM].astype(str).to_numpy())
    out = table.copy()
    out[DEMAND_SOURCE] = np.where(at >= 0, "pooled", "forecast").astype(object)
    return out
