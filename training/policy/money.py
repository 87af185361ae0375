"""The policy backtest's outcome in money: lost margin and the cost of holding stock.

Lost margin = unit margin x units lost, per series. Holding cost = `holding_rate` per period
x the value (price) of the stock held at the end of every period, at the nodes (per series,
its price) and centrally (per sku, the mean price of its series). Prices and margins per
series come from the history (`PolicyForecasts.price`, `.margin`); a series without a price
takes its sku's mean, and data without prices take 1 (units are money, as on walmart, where
sales in dollars are the units). Without a margin, margin = `margin_rate` x price.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from models.allocation import HOLDING_RATE, MARGIN_RATE
from training.policy.sim import SimOutcome

__all__ = ["HOLDING_RATE", "MARGIN_RATE", "UnitMoney", "money_columns", "unit_money"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class UnitMoney:
    """Money per unit: `margin` and `price` per series, `sku_price` per sku."""

    margin: FloatArray
    price: FloatArray
    sku_price: FloatArray


def unit_money(price: FloatArray | None, margin: FloatArray | None, *, group: IntArray,
               n_skus: int, margin_rate: float = MARGIN_RATE) -> UnitMoney:
    """Fill the gaps of per-series prices and margins (NaN = unknown; None = none known)."""
    if margin_rate < 0:
        raise ValueError(f"`margin_rate` must be >= 0; got {margin_rate}.")
    n = len(group)
    p = pd.Series(np.full(n, np.nan) if price is None else price, dtype=np.float64)
    p = p.fillna(p.groupby(group).transform("mean")).fillna(1.0)
    m = pd.Series(np.full(n, np.nan) if margin is None else margin, dtype=np.float64)
    m = m.fillna(margin_rate * p)
    sku = p.groupby(group).mean().reindex(range(n_skus)).fillna(1.0)
    return UnitMoney(margin=m.to_numpy(np.float64), price=p.to_numpy(np.float64),
                     sku_price=sku.to_numpy(np.float64))


def money_columns(outcome: SimOutcome, money: UnitMoney, *, holding_rate: float = HOLDING_RATE
                  ) -> dict[str, float]:
    """`lost_margin`, `holding_cost` (nodes + central), `node_holding_cost` and `cost`, the
    sum of lost margin and holding cost, over the whole replay."""
    if holding_rate < 0:
        raise ValueError(f"`holding_rate` must be >= 0; got {holding_rate}.")
    lost_margin = float(outcome.series_lost @ money.margin)
    node = holding_rate * float(outcome.series_stock @ money.price)
    central = holding_rate * float(outcome.group_central @ money.sku_price)
    return {"lost_margin": lost_margin, "holding_cost": node + central,
            "node_holding_cost": node, "cost": lost_margin + node + central}
