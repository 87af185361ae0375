"""Stock risk per node x sku: who runs out before a shipment can arrive, who sits on too much.

For every stocked node x sku, from its forecast and its position (on hand + in transit):
- `p_stockout`: P(demand over the protection interval > position), i.e. the chance of a
  stock-out before the shipment after one decided now could arrive, if nothing is shipped;
- `expected_lost_units` = E[(demand - position)+] over that interval, and its value at the
  node's last known price (`expected_lost_value`, empty where no price is known);
- `weeks_of_cover`: position / mean weekly demand (inf when no demand is expected);
- `p_excess`: P(demand over `excess_weeks` weeks < position), i.e. stock still left after
  that many weeks of cover;
- `risk_class` from `p_stockout` (critical / high / medium / low, `RiskThresholds`) and an
  `excess` flag from `p_excess`.
Rows are ranked by expected lost value (then lost units). Series with a forecast but no
inventory row are left out: their stock is unknown, not zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from features.periods import period_days
from features.schema import DATE, IN_TRANSIT, ITEM, NODE, ON_HAND, PRICE
from models.demand_interval import (
    DEFAULT_CORRELATION,
    IntervalDemand,
    interval_demand,
    protection_periods,
)

__all__ = ["RISK_CLASSES", "RiskThresholds", "last_prices", "risk_class", "stock_risk"]

RISK_CLASSES = ("critical", "high", "medium", "low")
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class RiskThresholds:
    """Least stock-out probability of each class (critical >= high >= medium), and the
    excess probability at which a line is flagged as excess."""

    critical: float = 0.5
    high: float = 0.25
    medium: float = 0.1
    excess: float = 0.8

    def check(self) -> None:
        values = (self.critical, self.high, self.medium, self.excess)
        if not all(0.0 < v <= 1.0 for v in values) or not (
                self.critical >= self.high >= self.medium):
            raise ValueError("`thresholds` must be in (0, 1] with critical >= high >= medium; "
                             f"got {self}.")


def risk_class(p_stockout: npt.ArrayLike, thresholds: RiskThresholds = RiskThresholds()
               ) -> npt.NDArray[np.str_]:
    """critical / high / medium / low per stock-out probability."""
    p = np.asarray(p_stockout, dtype=np.float64)
    t = thresholds
    return np.select([p >= t.critical, p >= t.high, p >= t.medium], list(RISK_CLASSES[:3]),
                     default=RISK_CLASSES[3])


def last_prices(history: pd.DataFrame) -> pd.Series:
    """Each series' last known `price` (index node_id, sku); empty without a price column."""
    if PRICE not in history:
        return pd.Series(dtype=np.float64)
    known = history[history[PRICE].notna()].sort_values(DATE)
    return known.groupby([NODE, ITEM])[PRICE].last()


def stock_risk(forecast: pd.DataFrame, *, nodes: pd.DataFrame, inventory: pd.DataFrame,
               freq: str, prices: pd.Series | None = None, excess_weeks: float = 8.0,
               correlation: float = DEFAULT_CORRELATION,
               thresholds: RiskThresholds = RiskThresholds()) -> pd.DataFrame:
    """The ranked risk table (columns in the module docstring) for every stocked series.

    Args:
        forecast: one origin's forecast rows (node_id, sku, step, mean, q...), as
            `Forecaster.predict(quantiles=DEFAULT_LEVELS)` gives.
        nodes: for lead time + review period per node.
        inventory: on_hand, in_transit per node x sku.
        freq: the forecast's period (W-*, D, MS).
        prices: price per (node_id, sku), e.g. `last_prices(history)`.
        excess_weeks: weeks of demand beyond which stock counts as excess.
    """
    thresholds.check()
    if excess_weeks <= 0:
        raise ValueError(f"`excess_weeks` must be > 0; got {excess_weeks}.")
    protect = interval_demand(forecast, periods=protection_periods(nodes, freq=freq),
                              correlation=correlation)
    weeks = excess_weeks * 7.0 / period_days(freq)
    excess = interval_demand(forecast, periods=weeks, correlation=correlation)
    inv = inventory[[NODE, ITEM, ON_HAND, IN_TRANSIT]].astype({NODE: str, ITEM: str})
    keys = pd.MultiIndex.from_frame(protect.keys[[NODE, ITEM]].astype(str))
    at = keys.get_indexer(pd.MultiIndex.from_frame(inv[[NODE, ITEM]]))
    inv = inv[at >= 0].reset_index(drop=True)
    rows = at[at >= 0]
    per_week = _weekly_mean(forecast, keys, freq)[rows]
    out = _measures(protect.take(rows, with_keys=False), excess.take(rows, with_keys=False),
                    inv, per_week, thresholds)
    out["price"] = _lookup(prices, inv)
    out["expected_lost_value"] = out["expected_lost_units"] * out["price"]
    order = np.lexsort((-out["expected_lost_units"].to_numpy(),
                        -out["expected_lost_value"].fillna(-np.inf).to_numpy()))
    return out.iloc[order].reset_index(drop=True)


def _measures(protect: IntervalDemand, excess: IntervalDemand, inv: pd.DataFrame,
              per_week: FloatArray, thresholds: RiskThresholds) -> pd.DataFrame:
    position = inv[ON_HAND].to_numpy(np.float64) + inv[IN_TRANSIT].to_numpy(np.float64)
    p_out = protect.sf(position)
    p_excess = np.where(position > 0, 1.0 - excess.sf(position), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        cover = np.where(per_week > 0, position / per_week, np.inf)
    return pd.DataFrame({
        NODE: inv[NODE], ITEM: inv[ITEM], ON_HAND: inv[ON_HAND], IN_TRANSIT: inv[IN_TRANSIT],
        "position": position, "demand_mean": protect.mean,
        "demand_q0.9": protect.quantile(0.9), "p_stockout": p_out,
        "expected_lost_units": protect.expected_shortfall(position),
        "weeks_of_cover": cover, "p_excess": p_excess,
        "risk_class": risk_class(p_out, thresholds), "excess": p_excess >= thresholds.excess,
    })


def _weekly_mean(forecast: pd.DataFrame, keys: pd.MultiIndex, freq: str) -> FloatArray:
    """Mean forecast demand per week of each series (over the forecast's steps)."""
    per_period = forecast.groupby([forecast[NODE].astype(str), forecast[ITEM].astype(str)])[
        "mean"].mean()
    weekly = per_period.reindex(keys).fillna(0.0).to_numpy(np.float64) * 7.0 / period_days(freq)
    return np.asarray(weekly, dtype=np.float64)


def _lookup(prices: pd.Series | None, inv: pd.DataFrame) -> FloatArray:
    if prices is None or prices.empty:
        return np.full(len(inv), np.nan)
    index = pd.MultiIndex.from_arrays([prices.index.get_level_values(0).astype(str),
                                       prices.index.get_level_values(1).astype(str)])
    at = index.get_indexer(pd.MultiIndex.from_frame(inv[[NODE, ITEM]]))
    values = prices.to_numpy(np.float64)
    return np.where(at >= 0, values[np.maximum(at, 0)], np.nan)
