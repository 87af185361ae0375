"""The pooled interval means in the product (`channelcast allocate`, the service).

The replay (`training.policy.pooled.pooled_scale`) and the product compute the same pooled
rate (`models.allocation.pooled.pooled_rate`: the sku's level over its last 2 periods across
all its nodes x the node's 52-period share, stock-out and unreported periods left out) from
the sales recorded up to the forecast's origin, and move channelcast's interval means the same
`pooled_factor` of the way to it (`models.allocation.planned.channelcast_demand`).

The gate is one function for both (`models.allocation.pooled.pooled_gate_on`), on the same
kind of evidence (`models.allocation.pooled.interval_evidence`): the means are moved when,
over every series' protection interval (from the node table) after each calibration
window's cutoff, the half-way means have split each sku's recorded sales over its nodes
with a smaller absolute error than the model's forecasts (`split_error`; intervals with a
stock-out or an unreported period left out). The
product's windows are the served model's calibration windows (`Forecaster.calibration`: the
last `CALIBRATION_WINDOWS` windows of `horizon` periods before its origin, every series it
knows; with `allocate --fit`, the sku's), the pooled rate recomputed from the history at the
same cutoffs. The replay's are the replayed windows before each week
(`training.policy.pooled`). No calibration forecasts on record (a forecaster pickled before
they were kept; the Dask engine keeps them too) or no history at their cutoffs: the
forecasts are kept.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from features.engineering.history import Panel, build_panel
from features.schema import DATE, ITEM, NODE
from models.allocation.planned import channelcast_demand
from models.allocation.pooled import (
    NO_EVIDENCE,
    POOLED_WEIGHT,
    PooledGate,
    interval_evidence,
    pooled_factor,
    pooled_gate_on,
    pooled_rate,
)
from models.allocation.table import pair_indexer
from models.demand_interval import IntervalDemand, protection_periods
from training.engine.forecast import Forecaster

__all__ = ["PooledGate", "history_demand", "history_panel", "pooled_gate", "product_demand",
           "served_factor"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def history_panel(history: pd.DataFrame, *, freq: str, origin: pd.Timestamp) -> Panel:
    """The sell-through (with `on_hand` when known, for stock-out periods) up to `origin`."""
    cols = [c for c in (DATE, NODE, ITEM, "units", "on_hand") if c in history]
    rows = history.loc[pd.to_datetime(history[DATE]) <= origin, cols]
    return build_panel(rows, freq=freq)


def _pairs_in(keys: pd.DataFrame, among: pd.DataFrame) -> npt.NDArray[np.intp]:
    """Position of each (node_id, sku) row of `keys` among `among`'s rows, -1 if absent."""
    return pair_indexer(keys[NODE].astype(str).to_numpy(), keys[ITEM].astype(str).to_numpy(),
                        among[NODE].astype(str).to_numpy(), among[ITEM].astype(str).to_numpy())


def _group(panel: Panel) -> IntArray:
    return pd.factorize(panel.keys[ITEM].astype(str))[0].astype(np.int64)


def pooled_gate(forecaster: Forecaster, panel: Panel, *, nodes: pd.DataFrame) -> PooledGate:
    """The product's gate on the served model's calibration windows (module doc); `nodes`
    gives each series' protection interval (series of other nodes are left out)."""
    cal = forecaster.calibration
    seen = panel.dates.get_indexer(cal.cutoffs) + 1  # periods seen at each cutoff (0: absent)
    kept = np.flatnonzero(seen > 0)
    if kept.size == 0:
        return NO_EVIDENCE
    at = _pairs_in(panel.keys, forecaster.keys)
    forecasts = np.full((kept.size, panel.n_series, forecaster.horizon), np.nan)
    known = np.flatnonzero(at >= 0)
    forecasts[:, known] = cal.means[at[known]][:, kept].transpose(1, 0, 2)
    periods = protection_periods(nodes, freq=forecaster.freq)
    interval = panel.keys[NODE].astype(str).map(periods).to_numpy(np.float64)
    return pooled_gate_on(interval_evidence(panel.units, panel.censored, _group(panel),
                                            cutoffs=seen[kept].tolist(), forecasts=forecasts,
                                            periods=interval))


def served_factor(demand: IntervalDemand, panel: Panel, *, gate: PooledGate,
                  weight: float = POOLED_WEIGHT) -> FloatArray:
    """Per row of `demand`: the factor taking its interval mean `weight` of the way to the
    pooled rate x its interval when `gate.used` (else 1; 1 for a series not in `panel`)."""
    factor = np.ones(len(demand))
    if not gate.used:
        return factor
    rate = pooled_rate(panel.units, panel.censored, _group(panel))
    at = _pairs_in(demand.keys, panel.keys)
    rows = np.flatnonzero(at >= 0)
    factor[rows] = pooled_factor(demand.mean[rows], rate[at[rows]] * demand.periods[rows],
                                 weight=weight)
    return factor


def product_demand(demand: IntervalDemand, *, panel: Panel | None, gate: PooledGate | None,
                   weight: float = POOLED_WEIGHT) -> tuple[IntervalDemand, pd.DataFrame]:
    """channelcast's demand in the product (`channelcast_demand`: pooled means where `gate`
    is on, the gamma ranking) and the (node_id, sku) rows whose means were moved."""
    if panel is None or gate is None or not gate.used:
        return channelcast_demand(demand), demand.keys.iloc[:0][[NODE, ITEM]]
    factor = served_factor(demand, panel, gate=gate, weight=weight)
    moved = demand.keys.loc[factor != 1.0, [NODE, ITEM]].reset_index(drop=True)
    return channelcast_demand(demand, factor=factor), moved


def history_demand(demand: IntervalDemand, *, policy: str, history: pd.DataFrame | None,
                   freq: str, forecaster: Forecaster | None, nodes: pd.DataFrame
                   ) -> tuple[IntervalDemand, pd.DataFrame]:
    """For channelcast, `product_demand` with the pooled rate and gate from `history` (a data
    folder's sell-through) at `forecaster`'s origin (either None: no pooled means) and the
    protection intervals of `nodes`; others keep `demand`. Also the (node_id, sku) rows whose
    means were moved."""
    if policy != "channelcast":
        return demand, demand.keys.iloc[:0][[NODE, ITEM]]
    if forecaster is None or history is None:
        return product_demand(demand, panel=None, gate=None)
    panel = history_panel(history, freq=freq, origin=forecaster.origin)
    return product_demand(demand, panel=panel,
                          gate=pooled_gate(forecaster, panel, nodes=nodes))
