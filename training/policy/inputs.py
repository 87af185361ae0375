"""The policy backtest's inputs per series: demand, lead times, mean price or margin."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from features.engineering.history import Panel
from features.periods import period_days
from features.schema import DATE, ITEM, LEAD_TIME, NODE, UNITS

__all__ = ["demand_panel", "lead_periods_of", "series_mean"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def series_mean(history: pd.DataFrame, panel: Panel, column: str) -> FloatArray:
    """Mean of `column` per series of the panel (NaN where the column or its values are
    absent)."""
    if column not in history:
        return np.full(panel.n_series, np.nan)
    keys = [history[NODE].astype(str), history[ITEM].astype(str)]
    mean = pd.to_numeric(history[column], errors="coerce").groupby(keys).mean()
    index = pd.MultiIndex.from_frame(panel.keys[[NODE, ITEM]].astype(str))
    return mean.reindex(index).to_numpy(np.float64)


def lead_periods_of(panel: Panel, nodes: pd.DataFrame, freq: str, fixed: int | None) -> IntArray:
    """Lead time in periods per series: `fixed` for all, else each node's lead_time_days
    rounded up to whole periods."""
    if fixed is not None:
        if fixed < 0:
            raise ValueError(f"`lead_periods` must be >= 0; got {fixed}.")
        return np.full(panel.n_series, fixed, dtype=np.int64)
    days = nodes.set_index(nodes[NODE].astype(str))[LEAD_TIME].astype(float)
    per = panel.keys[NODE].astype(str).map(days)
    if per.isna().any():
        raise ValueError(f"nodes {per[per.isna()].index[:5].tolist()} have no "
                         f"`{LEAD_TIME}`; add them to `nodes`.")
    return np.ceil(per.to_numpy() / period_days(freq) - 1e-9).astype(np.int64)


def demand_panel(panel: Panel, demand: pd.DataFrame | None) -> FloatArray:
    """Demand per series x period: `demand` (date, node_id, sku, units) if given, else the
    recorded sales; 0 outside a series' rows."""
    if demand is None:
        return np.nan_to_num(panel.units, nan=0.0)
    keys = pd.MultiIndex.from_frame(panel.keys[[NODE, ITEM]].astype(str))
    s = keys.get_indexer(pd.MultiIndex.from_arrays([demand[NODE].astype(str),
                                                    demand[ITEM].astype(str)]))
    t = panel.dates.get_indexer(pd.DatetimeIndex(demand[DATE]))
    ok = (s >= 0) & (t >= 0)
    out = np.zeros((panel.n_series, panel.n_periods))
    out[s[ok], t[ok]] = demand[UNITS].to_numpy(np.float64)[ok]
    return out
