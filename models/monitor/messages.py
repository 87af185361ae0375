"""The alert messages: what was seen, what was expected, and what to check."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

__all__ = ["alert_message"]

_CHECK = {
    "demand_drop": "check for a lost customer, a competitor, a delisting or a price change",
    "demand_spike": "check for bulk resale, fake sales, an unrecorded promotion or a data "
                    "error",
    "channel_stuffing": "check whether sell-in is pushed beyond what the node sells (quarter-"
                        "end loading, incentives) before it comes back as returns",
    "stock_mismatch": "check phantom sales, stock moved to another node unreported, shrink "
                      "or a wrong on_hand report",
    "reporting_gap": "check the node's data feed or whether the node has closed",
}


def _day(value: Any) -> str:
    return f"{pd.Timestamp(value):%Y-%m-%d}"


def alert_message(kind: str, row: Mapping[str, Any]) -> str:
    """The message of one alert row (kind, node_id, sku, period_start/_end, expected,
    observed and the detector's extras)."""
    where = f"node {row['node_id']}" + (f", sku {row['sku']}" if row.get("sku") else "")
    start, end = _day(row["period_start"]), _day(row["period_end"])
    exp, obs = float(row["expected"]), float(row["observed"])
    if kind == "demand_drop":
        share = obs / exp if exp > 0 else 0.0
        seen = (f"{where}: sold {obs:,.0f} units from {start} to {end}, {share:.0%} of the "
                f"{exp:,.0f} expected (clean periods only, promotions and stock-outs left out)")
    elif kind == "demand_spike":
        moved = float(row.get("item_shift", 0.0))
        peers = f"the item moved {moved:+.0%} at its other nodes; " if abs(moved) >= 0.005 else ""
        seen = (f"{where}: sold {obs:,.0f} units in the period of {end}, expected about "
                f"{exp:,.0f} ({peers}upper bound {float(row.get('upper', exp)):,.0f}; no "
                "promotion on record)")
    elif kind == "channel_stuffing":
        seen = (f"{where}: sell-in {float(row.get('ratio', 0)):.2f}x sell-through since "
                f"{start}; cover is {obs:.1f} weeks against a normal {exp:.1f} weeks")
    elif kind == "stock_mismatch":
        diff = obs - exp
        sign = "more" if diff > 0 else "less"
        seen = (f"{where}: on_hand {obs:,.0f} at the end of {end} is {abs(diff):,.0f} units "
                f"{sign} than previous on_hand + sell_in - units = {exp:,.0f}")
    else:
        seen = (f"{where}: no rows since {start} (reported {exp:.0f} of the periods before)")
    return f"{seen}; {_CHECK[kind]}."
