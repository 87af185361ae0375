"""An allocation as line records, each line's reason in words, and a planner's override.

An allocation is answered and stored as one record (dict) per node: `line_records` turns the
allocation table into them. A planner may then override the quantities of some lines: the
override names only lines the allocation has, keeps every line a multiple of the pack size
and never allocates more than the stock available (`unknown_lines`, `off_pack`,
`over_available`); `override_lines` applies it and explains each changed line again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from features.schema import ITEM, NODE
from models.allocation.planned import DEMAND_SOURCE, POOLED_NOTE

__all__ = ["BOUND_TEXT", "Line", "edited_reason", "line_reason", "line_records", "off_pack",
           "over_available", "override_lines", "unknown_lines"]

Line = dict[str, Any]
"""One allocation line as stored and answered (node_id, sku, allocated, packs, reason...)."""

BOUND_TEXT = {
    "demand": "more would not be expected to sell over the node's protection interval",
    "holding": "the next pack's expected margin would not cover the cost of holding it there "
               "(kept central)",
    "available": "the central stock ran out",
    "tier": "higher-priority nodes took the stock first",
    "max_qty": "the node's maximum quantity",
    "capacity": "the node's free capacity",
    "min_qty": "held at the node's minimum",
    "excluded": "excluded by the request",
    "share": "its proportional fair share",
    "override": "set by a planner",
}
"""What stopped a line (the table's `bound`), in words."""

_LINE_FLOATS = {"allocated": "allocated", "demand_mean": "demand_mean",
                "demand_q0_9": "demand_q0.9", "on_hand": "on_hand", "in_transit": "in_transit",
                "position_before": "position_before", "position_after": "position_after",
                "p_stockout_before": "p_stockout_before", "p_stockout_after": "p_stockout_after"}
_TOLERANCE = 1e-9


def line_reason(line: Mapping[str, Any]) -> str:
    """One allocation line in words."""
    before, after = line["p_stockout_before"], line["p_stockout_after"]
    risk = (f"stock-out risk {before:.0%} -> {after:.0%}" if after is not None
            else f"stock-out risk {before:.0%} before")
    return (f"{line['allocated']:g} units ({line['packs']} pack(s)); demand over the "
            f"protection interval {line['demand_mean']:.1f} on average (90% <= "
            f"{line['demand_q0_9']:.1f}); position {line['position_before']:g} -> "
            f"{line['position_after']:g}; {risk}; stopped by {line['bound']}: "
            f"{BOUND_TEXT.get(line['bound'], line['bound'])}"
            f"{'; ' + POOLED_NOTE if line.get(DEMAND_SOURCE) == 'pooled' else ''}.")


def edited_reason(line: Mapping[str, Any], allocated: float, p_stockout_after: float,
                  by: str = "planner") -> str:
    """A line whose quantity `by` changed to `allocated`, in words: the new position and
    stock-out risk first, then the line as it stood (its quantity and reason)."""
    position = line["position_before"] + allocated
    return (f"Overridden by {by}: {allocated:g} units; position {line['position_before']:g} "
            f"-> {position:g}; stock-out risk {line['p_stockout_before']:.0%} -> "
            f"{p_stockout_after:.0%} (proposal {line['allocated']:g}: {line['reason']})")


def line_records(table: pd.DataFrame) -> list[Line]:
    """Allocation table rows as line records (proposed = allocated at first; NaN and inf
    become 0), each with its reason."""
    columns: dict[str, list[Any]] = {
        name: np.nan_to_num(table[col].to_numpy(np.float64), nan=0.0, posinf=0.0,
                            neginf=0.0).tolist() for name, col in _LINE_FLOATS.items()}
    columns["node_id"] = table[NODE].astype(str).tolist()
    columns["sku"] = table[ITEM].astype(str).tolist()
    columns["priority"] = table["priority"].astype(int).tolist()
    columns["packs"] = table["packs"].astype(int).tolist()
    columns["bound"] = table["bound"].astype(str).tolist()
    if DEMAND_SOURCE in table:
        columns[DEMAND_SOURCE] = table[DEMAND_SOURCE].astype(str).tolist()
    names = list(columns)
    out = []
    for values in zip(*columns.values(), strict=True):
        line = dict(zip(names, values, strict=True))
        line["proposed"] = line["allocated"]
        line["reason"] = line_reason(line)
        out.append(line)
    return out


def unknown_lines(lines: Sequence[Mapping[str, Any]], quantities: Mapping[str, float]
                  ) -> list[str]:
    """Nodes of `quantities` without a line in `lines`, sorted."""
    return sorted(set(quantities) - {line["node_id"] for line in lines})


def off_pack(quantities: Mapping[str, float], pack_size: float) -> list[str]:
    """Nodes of `quantities` whose units are not a whole number of packs, in order."""
    return [node for node, qty in quantities.items()
            if abs(qty / pack_size - round(qty / pack_size)) > _TOLERANCE]


def over_available(lines: Sequence[Mapping[str, Any]], available: float) -> float | None:
    """The units `lines` allocate in all if that is more than `available`, else None."""
    total = sum(line["allocated"] for line in lines)
    return total if total > available + _TOLERANCE else None


def override_lines(lines: Sequence[Mapping[str, Any]], quantities: Mapping[str, float], *,
                   pack_size: float, by: str, reason: str
                   ) -> tuple[list[Line], list[dict[str, Any]]]:
    """`lines` with the quantities of `quantities` (node_id -> units), and the changes.

    A changed line gets its packs and position after from the new quantity, no stock-out
    probability after (the planner's quantity was not valued), bound `override`, and its
    reason in words followed by who overrode it and why. The changes list each node's
    quantity `from` and `to`. Check `unknown_lines` first: an unknown node raises KeyError.
    """
    by_node = {line["node_id"]: dict(line) for line in lines}
    changes = []
    for node, qty in quantities.items():
        line = by_node[node]
        changes.append({"node_id": node, "from": line["allocated"], "to": float(qty)})
        line.update(allocated=float(qty), packs=int(round(qty / pack_size)),
                    position_after=line["position_before"] + float(qty),
                    p_stockout_after=None, bound="override")
        line["reason"] = line_reason(line) + f" Overridden by {by}: {reason}"
    return list(by_node.values()), changes
