"""What one allocation call asks for: an sku's stock to split and the request's overrides."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

__all__ = ["HOLDING_RATE", "MARGIN_RATE", "OBJECTIVES", "AllocationRequest", "priced"]

MARGIN_RATE = 0.3
"""Unit margin as a share of price where the data has no margin."""
HOLDING_RATE = 0.25 / 52
"""Holding cost per period as a share of the stock's value: 25% a year on weekly data."""

OBJECTIVES = ("profit", "units")
"""What an allocation maximises: expected profit (margin x units sold - holding cost; needs the
sku's `unit_margin` and `holding_cost`) or expected units sold ("allocate everything" that can
sell)."""


@dataclass(frozen=True)
class AllocationRequest:
    """One sku's stock to split, with per-node overrides of the inventory table's limits.

    Attributes:
        sku: the item.
        available: central units to split (>= 0).
        pack_size: units per pack; every line is a multiple of it (>= 1).
        min_qty, max_qty: node_id -> units; override inventory's `min_qty` / `max_qty`.
        exclude: nodes that get nothing (and whose minimums are waived).
        objective: "profit" (default) keeps a pack central when its expected margin at every
            node is below the cost of holding it there over the node's protection interval;
            "units" ships every pack that can sell. Profit needs both money fields below;
            without them the allocation maximises units (`uses_profit` says which).
        unit_margin: money earned per unit sold (> 0).
        holding_cost: money per unit per period held at a node (>= 0).
    """

    sku: str
    available: float
    pack_size: int = 1
    min_qty: Mapping[str, float] = field(default_factory=dict)
    max_qty: Mapping[str, float] = field(default_factory=dict)
    exclude: Sequence[str] = ()
    objective: str = "profit"
    unit_margin: float | None = None
    holding_cost: float | None = None

    @property
    def uses_profit(self) -> bool:
        """True when the allocation maximises expected profit (objective and money known)."""
        return (self.objective == "profit" and self.unit_margin is not None
                and self.holding_cost is not None)

    def check(self) -> None:
        """Raise ValueError naming the field if the pack size or the stock cannot hold."""
        if not float(self.pack_size).is_integer() or self.pack_size < 1:
            raise ValueError(f"`pack_size` of sku {self.sku} must be a whole number >= 1; got "
                             f"{self.pack_size}. Use 1 for single units.")
        if not np.isfinite(self.available) or self.available < 0:
            raise ValueError(f"`available` of sku {self.sku} must be a number >= 0; got "
                             f"{self.available}.")
        if self.objective not in OBJECTIVES:
            raise ValueError(f"`objective` of sku {self.sku} must be one of {list(OBJECTIVES)}; "
                             f"got {self.objective!r}.")
        if self.unit_margin is not None and not (np.isfinite(self.unit_margin)
                                                 and self.unit_margin > 0):
            raise ValueError(f"`unit_margin` of sku {self.sku} must be a number > 0; got "
                             f"{self.unit_margin}. Use objective 'units' when selling earns "
                             "nothing.")
        if self.holding_cost is not None and not (np.isfinite(self.holding_cost)
                                                  and self.holding_cost >= 0):
            raise ValueError(f"`holding_cost` of sku {self.sku} must be a number >= 0 (money "
                             f"per unit per period); got {self.holding_cost}.")


def priced(request: AllocationRequest, prices: pd.Series, *,
           margin_rate: float = MARGIN_RATE, holding_rate: float = HOLDING_RATE
           ) -> AllocationRequest:
    """`request` with the money the profit objective needs filled in where it gives none,
    from the sku's price (the mean of its nodes' `prices`, index (node_id, sku), e.g.
    `models.risk.last_prices`): margin = `margin_rate` x price, holding cost per period =
    `holding_rate` x price. Unchanged without a known price (it then maximises units)."""
    if margin_rate <= 0 or holding_rate < 0:
        raise ValueError(f"`margin_rate` must be > 0 and `holding_rate` >= 0; got "
                         f"{margin_rate} and {holding_rate}.")
    mine = prices[prices.index.get_level_values(-1).astype(str) == str(request.sku)] \
        if len(prices) else prices
    price = float(mine.mean()) if len(mine) else np.nan
    if not np.isfinite(price) or price <= 0:
        return request
    margin = request.unit_margin if request.unit_margin is not None else margin_rate * price
    holding = (request.holding_cost if request.holding_cost is not None
               else holding_rate * price)
    return replace(request, unit_margin=margin, holding_cost=holding)
