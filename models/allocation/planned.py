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

from models.allocation.ranking import RANKING_DISPERSION, gamma_ranking
from models.demand_interval import IntervalDemand

__all__ = ["channelcast_demand"]


def channelcast_demand(demand: IntervalDemand, *, factor: npt.ArrayLike | None = None,
                       dispersion: float | None = RANKING_DISPERSION) -> IntervalDemand:
    """`demand` scaled per row by `factor` (None: 1), with the gamma ranking of `dispersion`
    (None: the forecast's own ranking distribution) (module doc)."""
    if factor is not None:
        demand = demand.scaled(np.asarray(factor, dtype=np.float64))
    if dispersion is None:
        return demand
    return gamma_ranking(demand, dispersion=dispersion)
