"""Small hand-made channels with a consistent stock flow, for the monitor's tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

WEEKS = 80


def flow(units: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """sell_in and on_hand of an order-up-to node (up to `level`, one period of lead)."""
    sell_in, on_hand = np.zeros_like(units), np.zeros_like(units)
    stock = level
    for t, sold in enumerate(units):
        sell_in[t] = max(level - stock, 0.0)
        stock = stock + sell_in[t] - sold
        on_hand[t] = stock
    return sell_in, on_hand


def channel(n_nodes: int = 3, n_skus: int = 4, weeks: int = WEEKS, seed: int = 0,
            mean: float = 60.0) -> pd.DataFrame:
    """Weekly Poisson sell-through of every node x sku with sell_in/on_hand that balance."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2022-01-03", periods=weeks, freq="W-MON")
    rows = []
    for n in range(n_nodes):
        for s in range(n_skus):
            units = rng.poisson(mean, weeks).astype(float)
            sell_in, on_hand = flow(units, 4 * mean)
            rows.append(pd.DataFrame({"date": dates, "node_id": f"N{n}", "sku": f"S{s}",
                                      "units": units, "price": 10.0, "promo": 0,
                                      "on_hand": on_hand, "sell_in": sell_in}))
    return pd.concat(rows, ignore_index=True)


def nodes(n_nodes: int = 3) -> pd.DataFrame:
    """Nodes N0.. under region R (dealers)."""
    return pd.DataFrame({"node_id": ["R", *[f"N{i}" for i in range(n_nodes)]],
                         "parent_id": ["", *["R"] * n_nodes],
                         "channel": ["region", *["dealer"] * n_nodes],
                         "lead_time_days": 7, "review_period_days": 7, "priority": 1})


def rebalance(frame: pd.DataFrame, node: str, sku: str, level: float = 240.0) -> pd.DataFrame:
    """Recompute sell_in/on_hand of one series after its units changed."""
    out = frame.copy()
    rows = (out["node_id"] == node) & (out["sku"] == sku)
    sell_in, on_hand = flow(out.loc[rows, "units"].to_numpy(float), level)
    out.loc[rows, "sell_in"], out.loc[rows, "on_hand"] = sell_in, on_hand
    return out


def week(t: int) -> pd.Timestamp:
    """The start of week t of `channel`."""
    return pd.Timestamp("2022-01-03") + pd.Timedelta(weeks=t)
