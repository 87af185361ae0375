"""Fair share: the allocation planners use today, as the baseline to beat.

Every node is brought to the same cover: position + allocation = c x basis, where basis is
the node's forecast demand over its protection interval (`fair_share_forecast`) or its
recent sales rate over the same interval (`fair_share_sales`), and c is the largest common
cover the stock allows. Limits (min, max, capacity, exclusions) hold; the units are then
rounded down to packs and the packs left over go to the largest remainders. No priority,
no uncertainty: that is what channelcast adds.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from features.schema import DATE, ITEM, NODE, UNITS
from models.allocation.kernel import PackProblem

__all__ = ["fair_share_packs", "recent_sales_rate"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
_STEPS = 60


def fair_share_packs(p: PackProblem, *, basis: npt.ArrayLike) -> IntArray:
    """Packs per row that equalise cover (position / basis) within each group.

    Invariants: lo <= packs <= hi per row, and sum of packs <= budget per group.
    """
    share = np.asarray(basis, dtype=np.float64)
    units = _equal_cover(p, share)
    k = np.clip(np.floor(units / p.pack + 1e-9), p.lo, p.hi).astype(np.int64)
    frac = units / p.pack - k
    for _ in range(8):  # hand out leftover packs, largest remainder first
        left = p.budget - np.bincount(p.group, weights=k, minlength=p.n_groups)
        open_ = np.flatnonzero((k < p.hi) & (share > 0) & (left[p.group] >= 1))
        if open_.size == 0:
            break
        order = open_[np.lexsort((-frac[open_], p.group[open_]))]
        gs = p.group[order]
        rank = np.arange(gs.size) - np.searchsorted(gs, gs, side="left")
        give = order[rank < left[gs]]
        k[give] += 1
        frac[give] = -np.inf
    return k


def _equal_cover(p: PackProblem, share: FloatArray) -> FloatArray:
    """Units per row at the largest common cover whose total fits each group's budget."""
    lo_u, hi_u = p.lo * p.pack, p.hi * p.pack
    group_pack = np.ones(p.n_groups)
    group_pack[p.group] = p.pack  # one pack size per group
    budget_u = p.budget * group_pack
    with np.errstate(divide="ignore", invalid="ignore"):
        need = np.where(share > 0, (p.position + hi_u) / share, 0.0)
    top = np.zeros(p.n_groups)
    np.maximum.at(top, p.group, need)
    lo_c, hi_c = np.zeros(p.n_groups), top

    def units_at(c: FloatArray) -> FloatArray:
        return np.clip(c[p.group] * share - p.position, lo_u, hi_u)

    for _ in range(_STEPS):
        mid = 0.5 * (lo_c + hi_c)
        fits = np.bincount(p.group, weights=units_at(mid), minlength=p.n_groups) <= budget_u
        lo_c, hi_c = np.where(fits, mid, lo_c), np.where(fits, hi_c, mid)
    return units_at(lo_c)


def recent_sales_rate(history: pd.DataFrame, *, window: int = 4,
                      end: pd.Timestamp | None = None) -> pd.Series:
    """Mean units per period over each series' last `window` periods up to `end`.

    Periods missing from `history` inside the window count as 0 sales. Index: (node_id, sku).
    """
    if window < 1:
        raise ValueError(f"`window` must be >= 1; got {window}.")
    dates = pd.DatetimeIndex(history[DATE].unique()).sort_values()
    if end is not None:
        dates = dates[dates <= pd.Timestamp(end)]
    recent = history[history[DATE].isin(dates[-window:])]
    return recent.groupby([NODE, ITEM])[UNITS].sum() / window
