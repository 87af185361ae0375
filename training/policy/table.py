"""The policy table's lines and each policy's share of the oracle's headroom."""

from __future__ import annotations

import numpy as np
import pandas as pd

from training.policy.sim import SimOutcome

__all__ = ["FAIR_SHARE", "add_headroom", "outcome_row"]

FAIR_SHARE = ("fair_share_forecast", "fair_share_sales")


def outcome_row(share: float, policy: str, o: SimOutcome, seconds: float) -> dict[str, object]:
    """One line of the policy table. `avg_total_stock` = node + central (a policy that keeps
    stock central holds it all the same); `end_node_stock` = what the nodes hold when the
    replay stops (unsold by then, whatever would sell later)."""
    return {"scarcity": share, "policy": policy, "fill_rate": o.fill_rate, "lost_units": o.lost,
            "avg_node_stock": float(o.node_stock.mean()),
            "avg_central_stock": float(o.central_stock.mean()),
            "avg_total_stock": float((o.node_stock + o.central_stock).mean()),
            "end_node_stock": float(o.node_stock[-1]) if o.node_stock.size else 0.0,
            "stockouts": o.stockouts,
            "stockout_rate": o.stockouts / max(o.periods_with_demand, 1),
            "seconds": round(seconds, 1)}


def add_headroom(table: pd.DataFrame) -> pd.DataFrame:
    """The table with each policy's share of the oracle's headroom over the best fair-share
    policy of its supply mode and scarcity: `headroom_fill` = (fill rate - best fair share's)
    / (oracle's - best fair share's), `headroom_value` the same on `cost` (lower is better).
    1 = as good as the oracle, 0 = as good as the best fair share; NaN without an oracle,
    a fair-share row, or headroom (the oracle no better)."""
    out = table.reset_index(drop=True)
    out["headroom_fill"] = out["headroom_value"] = np.nan
    keys = [k for k in ("supply", "scarcity") if k in out]
    for _, rows in out.groupby(keys, sort=False):
        oracle = rows[rows["policy"] == "oracle"]
        fair = rows[rows["policy"].isin(FAIR_SHARE)]
        if oracle.empty or fair.empty:
            continue
        for column, name, best in (("fill_rate", "headroom_fill", fair["fill_rate"].max()),
                                   ("cost", "headroom_value", fair["cost"].min())):
            gap = float(oracle[column].iloc[0]) - best
            if abs(gap) > 1e-12 * max(abs(best), 1.0):
                out.loc[rows.index, name] = (rows[column] - best) / gap + 0.0  # no -0
    return out
