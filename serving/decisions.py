"""Allocation and stock risk for API requests: the models' decisions over the served
model's forecasts and the channel tables in force, with HTTP-ready errors.

Both use the model's forecasts at `DEFAULT_LEVELS` over its whole horizon (cached per model
generation), the node table for lead time, review period, priority and channel, and the
inventory in force (the latest `PUT /v1/inventory`, else the data folder's).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from features.schema import CHANNEL, ITEM, NODE
from models.allocation import AllocationConfig, AllocationRequest, allocate_all
from models.demand_interval import (
    DEFAULT_LEVELS,
    IntervalDemand,
    interval_demand,
    lead_periods,
    protection_periods,
)
from models.errors import InfeasibleAllocationError, UnknownNodeError
from models.fair_share import recent_sales_rate
from models.risk import last_prices, stock_risk
from serving.channel import ChannelTables
from serving.errors import ApiError
from serving.model_store import ServedModel
from serving.schemas import AllocationIn, RiskIn
from training.pyfunc import served_model

__all__ = ["BOUND_TEXT", "allocation_lines", "edited_reason", "line_reason", "risk_rows"]

BOUND_TEXT = {
    "demand": "more would not be expected to sell over the node's protection interval",
    "available": "the central stock ran out",
    "tier": "higher-priority nodes took the stock first",
    "max_qty": "the node's maximum quantity",
    "capacity": "the node's free capacity",
    "min_qty": "held at the node's minimum",
    "excluded": "excluded by the request",
    "share": "its proportional fair share",
    "override": "set by a planner",
}


def _nodes(tables: ChannelTables) -> pd.DataFrame:
    if tables.nodes is None:
        raise ApiError(409, "the service has no node table: start it with `--data DIR` (a "
                       "folder with nodes.csv) or serve a model trained with its nodes.")
    return tables.nodes


def _check_nodes(named: dict[str, list[str]], nodes: pd.DataFrame) -> None:
    known = set(nodes[NODE].astype(str))
    unknown = {field: sorted(set(ids) - known) for field, ids in named.items()}
    unknown = {k: v for k, v in unknown.items() if v}
    if unknown:
        ids = sorted({i for v in unknown.values() for i in v})
        errors = [{"loc": ["body", field, node], "msg": f"unknown node {node!r}",
                   "type": "unknown_node", "value": node}
                  for field, v in unknown.items() for node in v]
        raise ApiError(404, f"unknown node(s) {', '.join(map(repr, ids[:20]))}: not in the "
                       "node table.", errors=errors)


def _request(body: AllocationIn, tables: ChannelTables) -> AllocationRequest:
    available, pack = tables.central(body.sku)
    if body.available is not None:
        available = body.available
    if available is None:
        raise ApiError(422, f"no central stock on record for sku {body.sku!r}: send "
                       "`available`, or PUT /v1/inventory with its central_stock.",
                       errors=[{"loc": ["body", "available"], "type": "missing",
                                "msg": "required: no central stock on record for this sku"}])
    return AllocationRequest(sku=body.sku, available=float(available),
                             pack_size=body.pack_size or pack or 1, min_qty=body.min_qty,
                             max_qty=body.max_qty, exclude=tuple(body.exclude))


def allocation_lines(model: ServedModel, tables: ChannelTables, body: AllocationIn
                     ) -> tuple[pd.DataFrame, AllocationRequest]:
    """The explained allocation table of one request, and the request as run."""
    rows = model.by_sku.get(body.sku)
    if not rows:
        raise ApiError(404, f"unknown sku {body.sku!r}: the model has no series of it.",
                       errors=[{"loc": ["body", "sku"], "msg": "unknown sku",
                                "type": "unknown_sku", "value": body.sku}])
    nodes = _nodes(tables)
    _check_nodes({"min_qty": list(body.min_qty), "max_qty": list(body.max_qty),
                  "exclude": list(body.exclude)}, nodes)
    request = _request(body, tables)
    f = model.forecaster
    try:
        demand = model.cache.derived(  # type: ignore[union-attr]
            ("interval_demand", body.sku, id(nodes)),
            lambda: _interval_demand(model, rows, nodes))
        sales = (recent_sales_rate(f.tail) if body.policy == "fair_share_sales" else None)
        lines = allocate_all(demand, requests=[request], nodes=nodes,
                             inventory=tables.inventory, policy=body.policy,
                             config=AllocationConfig(target_service=body.target_service),
                             recent_sales=sales)
    except UnknownNodeError as exc:
        raise ApiError(404, str(exc)) from exc
    except (InfeasibleAllocationError, ValueError, OverflowError, FloatingPointError) as exc:
        raise ApiError(422, str(exc), errors=[{"loc": ["body"], "msg": str(exc),
                                               "type": "infeasible"}]) from exc
    return lines, request


def _interval_demand(model: ServedModel, rows: list[int], nodes: pd.DataFrame) -> IntervalDemand:
    """Protection-interval demand of an sku's series at the nodes of the node table."""
    f = model.forecaster
    table = model.cache.table(served_model(f), f.horizon, DEFAULT_LEVELS)  # type: ignore[union-attr]
    known = set(nodes[NODE].astype(str))
    forecast = model.frame([r for r in rows if model.node_ids[r] in known], table)
    return interval_demand(forecast, periods=protection_periods(nodes, freq=f.freq),
                           lead=lead_periods(nodes, freq=f.freq))


def line_reason(line: dict[str, Any]) -> str:
    """One allocation line in words."""
    before, after = line["p_stockout_before"], line["p_stockout_after"]
    risk = (f"stock-out risk {before:.0%} -> {after:.0%}" if after is not None
            else f"stock-out risk {before:.0%} before")
    return (f"{line['allocated']:g} units ({line['packs']} pack(s)); demand over the "
            f"protection interval {line['demand_mean']:.1f} on average (90% <= "
            f"{line['demand_q0_9']:.1f}); position {line['position_before']:g} -> "
            f"{line['position_after']:g}; {risk}; stopped by {line['bound']}: "
            f"{BOUND_TEXT.get(line['bound'], line['bound'])}.")


def edited_reason(line: dict[str, Any], allocated: float, p_stockout_after: float,
                  by: str = "planner") -> str:
    """A line whose quantity `by` changed to `allocated`, in words: the new position and
    stock-out risk first, then the line as it stood (its quantity and reason)."""
    position = line["position_before"] + allocated
    return (f"Overridden by {by}: {allocated:g} units; position {line['position_before']:g} "
            f"-> {position:g}; stock-out risk {line['p_stockout_before']:.0%} -> "
            f"{p_stockout_after:.0%} (proposal {line['allocated']:g}: {line['reason']})")


_LINE_FLOATS = {"allocated": "allocated", "demand_mean": "demand_mean",
                "demand_q0_9": "demand_q0.9", "on_hand": "on_hand", "in_transit": "in_transit",
                "position_before": "position_before", "position_after": "position_after",
                "p_stockout_before": "p_stockout_before", "p_stockout_after": "p_stockout_after"}


def lines_json(table: pd.DataFrame) -> list[dict[str, Any]]:
    """Allocation table rows as stored and answered (proposed = allocated at first)."""
    columns: dict[str, list[Any]] = {
        name: np.nan_to_num(table[col].to_numpy(np.float64), nan=0.0, posinf=0.0,
                            neginf=0.0).tolist() for name, col in _LINE_FLOATS.items()}
    columns["node_id"] = table[NODE].astype(str).tolist()
    columns["sku"] = table[ITEM].astype(str).tolist()
    columns["priority"] = table["priority"].astype(int).tolist()
    columns["packs"] = table["packs"].astype(int).tolist()
    columns["bound"] = table["bound"].astype(str).tolist()
    names = list(columns)
    out = []
    for values in zip(*columns.values(), strict=True):
        line = dict(zip(names, values, strict=True))
        line["proposed"] = line["allocated"]
        line["reason"] = line_reason(line)
        out.append(line)
    return out


def _num(value: Any) -> float:
    v = float(value)
    return v if math.isfinite(v) else 0.0


def risk_rows(model: ServedModel, tables: ChannelTables, body: RiskIn
              ) -> tuple[list[dict[str, Any]], int]:
    """The ranked stock-risk rows matching `body`'s filters (top `body.top`) and how many
    matched in all."""
    nodes = _nodes(tables)
    if tables.inventory is None or tables.inventory.empty:
        raise ApiError(409, "no inventory on record: PUT /v1/inventory first, or start the "
                       "service with `--data DIR` holding inventory.csv.")
    if body.nodes:
        _check_nodes({"nodes": body.nodes}, nodes)
    if body.skus:
        unknown = sorted(set(body.skus) - set(model.by_sku))
        if unknown:
            raise ApiError(404, f"unknown sku(s) {', '.join(map(repr, unknown[:20]))}: the "
                           "model has no series of them.",
                           errors=[{"loc": ["body", "skus", s], "msg": "unknown sku",
                                    "type": "unknown_sku", "value": s} for s in unknown[:100]])
    f = model.forecaster
    keys = f.keys[[NODE, ITEM]].astype(str).reset_index(drop=True)
    channel = nodes.set_index(nodes[NODE].astype(str))[CHANNEL].astype(str) \
        if CHANNEL in nodes else pd.Series(dtype=str)
    keep = keys[NODE].isin(set(nodes[NODE].astype(str))).to_numpy()
    if body.nodes:
        keep &= keys[NODE].isin(set(body.nodes)).to_numpy()
    if body.skus:
        keep &= keys[ITEM].isin(set(body.skus)).to_numpy()
    if body.channel:
        keep &= keys[NODE].map(channel).eq(body.channel).to_numpy()
    if body.demand_class:
        keep &= np.isin(f.classes.astype(str), body.demand_class)
    rows = np.flatnonzero(keep)
    if rows.size == 0:
        return [], 0
    table = model.cache.table(served_model(f), f.horizon, DEFAULT_LEVELS)  # type: ignore[union-attr]
    risk = stock_risk(model.frame(rows.tolist(), table), nodes=nodes,
                      inventory=tables.inventory, freq=f.freq, prices=last_prices(f.tail),
                      excess_weeks=body.excess_weeks)
    if body.risk_class:
        risk = risk[risk["risk_class"].isin(body.risk_class)]
    classes = pd.Series(f.classes.astype(str), index=pd.MultiIndex.from_frame(keys))
    return _risk_json(risk.head(body.top), channel, classes), len(risk)


def _risk_json(risk: pd.DataFrame, channel: pd.Series, classes: pd.Series
               ) -> list[dict[str, Any]]:
    out = []
    for rank, rec in enumerate(risk.to_dict("records"), start=1):
        node, sku = str(rec[NODE]), str(rec[ITEM])
        value = rec.get("expected_lost_value")
        cover = float(rec["weeks_of_cover"])
        out.append({
            "rank": rank, "node_id": node, "sku": sku, "channel": channel.get(node),
            "demand_class": classes.get((node, sku)), "on_hand": _num(rec["on_hand"]),
            "in_transit": _num(rec["in_transit"]), "position": _num(rec["position"]),
            "demand_mean": _num(rec["demand_mean"]), "p_stockout": _num(rec["p_stockout"]),
            "expected_lost_units": _num(rec["expected_lost_units"]),
            "expected_lost_value": (None if value is None or not math.isfinite(float(value))
                                    else float(value)),
            "weeks_of_cover": cover if math.isfinite(cover) else None,
            "p_excess": _num(rec["p_excess"]), "risk_class": str(rec["risk_class"]),
            "excess": bool(rec["excess"])})
    return out
