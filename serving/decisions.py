"""Allocation and stock risk for API requests: the models' decisions over the served
model's forecasts and the channel tables in force, with HTTP-ready errors.

Both use the model's forecasts at `DEFAULT_LEVELS` over its whole horizon (cached per model
generation), the node table for lead time, review period, priority and channel, and the
inventory in force (the latest `PUT /v1/inventory`, else the data folder's).
"""

from __future__ import annotations

import logging
import math
from typing import SupportsFloat

import numpy as np
import pandas as pd

from features.engineering.history import Panel
from features.schema import CHANNEL, ITEM, NODE
from models.allocation import (
    BOUND_TEXT,
    AllocationConfig,
    AllocationRequest,
    allocate_all,
    edited_reason,
    line_reason,
    priced,
    recent_sales_rate,
)
from models.allocation.planned import with_demand_source
from models.demand_interval import (
    DEFAULT_LEVELS,
    IntervalDemand,
    interval_demand,
    lead_periods,
    protection_periods,
)
from models.errors import InfeasibleAllocationError, UnknownNodeError
from models.risk import last_prices, stock_risk
from serving.channel import ChannelTables
from serving.errors import ApiError
from serving.model_store import ServedModel
from serving.monitor import fold_inventory
from serving.schemas import AllocationIn, ErrorItemJson, RiskIn, RiskRow
from training.engine.forecast import Forecaster
from training.policy.served import PooledGate, history_panel, pooled_gate, product_demand
from training.tracking.pyfunc import served_model

__all__ = ["BOUND_TEXT", "allocation_demand", "allocation_lines", "edited_reason", "line_reason",
           "risk_rows"]

_LOG = logging.getLogger("channelcast.serving")


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
        errors: list[ErrorItemJson] = [
            {"loc": ["body", field, node], "msg": f"unknown node {node!r}",
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
                             max_qty=body.max_qty, exclude=tuple(body.exclude),
                             objective=body.objective, unit_margin=body.unit_margin,
                             holding_cost=body.holding_cost)


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
    f = model.forecaster
    request = priced(_request(body, tables), last_prices(f.tail))
    try:
        demand, moved = _policy_demand(model, tables, nodes, body.sku, body.policy)
        sales = (recent_sales_rate(f.tail) if body.policy == "fair_share_sales" else None)
        lines = allocate_all(demand, requests=[request], nodes=nodes,
                             inventory=tables.inventory, policy=body.policy,
                             config=AllocationConfig(target_service=body.target_service),
                             recent_sales=sales)
        lines = with_demand_source(lines, moved)
    except UnknownNodeError as exc:
        raise ApiError(404, str(exc)) from exc
    except (InfeasibleAllocationError, ValueError, OverflowError, FloatingPointError) as exc:
        raise ApiError(422, str(exc), errors=[{"loc": ["body"], "msg": str(exc),
                                               "type": "infeasible"}]) from exc
    return lines, request


def allocation_demand(model: ServedModel, tables: ChannelTables, sku: str, policy: str
                      ) -> IntervalDemand | None:
    """The protection-interval demand an allocation of `sku` by `policy` is made on (for
    channelcast, the replay's: pooled means where its gate is on, the gamma ranking); None
    for an sku the model does not know or without a node table."""
    if not model.by_sku.get(sku) or tables.nodes is None:
        return None
    return _policy_demand(model, tables, tables.nodes, sku, policy)[0]


def _policy_demand(model: ServedModel, tables: ChannelTables, nodes: pd.DataFrame, sku: str,
                   policy: str) -> tuple[IntervalDemand, pd.DataFrame]:
    """`allocation_demand` (cached per model) and the (node_id, sku) rows whose means were
    moved to the pooled rate."""
    rows = model.by_sku.get(sku, [])
    demand = model.forecasts.derived(("interval_demand", sku, id(nodes)),
                                     lambda: _interval_demand(model, rows, nodes))
    if policy != "channelcast":  # fair share keeps the forecasts
        return demand, demand.keys.iloc[:0][[NODE, ITEM]]
    return model.forecasts.derived(  # what the policy backtest replays
        ("channelcast_demand", sku, id(nodes), id(tables.inventory)),
        lambda: _channelcast(model, demand, tables.inventory, nodes))


def _interval_demand(model: ServedModel, rows: list[int], nodes: pd.DataFrame) -> IntervalDemand:
    """Protection-interval demand of an sku's series at the nodes of the node table."""
    f = model.forecaster
    table = model.forecasts.table(served_model(f), f.horizon, DEFAULT_LEVELS)
    known = set(nodes[NODE].astype(str))
    forecast = model.frame([r for r in rows if model.node_ids[r] in known], table)
    return interval_demand(forecast, periods=protection_periods(nodes, freq=f.freq),
                           lead=lead_periods(nodes, freq=f.freq))


def _channelcast(model: ServedModel, demand: IntervalDemand, inventory: pd.DataFrame | None,
                 nodes: pd.DataFrame) -> tuple[IntervalDemand, pd.DataFrame]:
    """channelcast's demand of an sku (`training.policy.served.product_demand`) and the lines
    whose means were pooled; the pooled rate and its gate come from the model's tail with the
    inventory snapshot's stock folded in (stock-out periods), as the monitor holds it, and
    the gate's protection intervals from `nodes`."""
    panel, gate = model.forecasts.derived(("pooled_gate", id(inventory), id(nodes)),
                                          lambda: _pooled(model.forecaster, inventory, nodes))
    return product_demand(demand, panel=panel, gate=gate)


def _pooled(f: Forecaster, inventory: pd.DataFrame | None, nodes: pd.DataFrame
            ) -> tuple[Panel | None, PooledGate | None]:
    """The model's history tail as a panel and the pooled gate (None, None without a tail)."""
    if f.state is None:
        return None, None
    try:
        panel = history_panel(fold_inventory(f.tail, inventory), freq=f.freq, origin=f.origin)
        return panel, pooled_gate(f, panel, nodes=nodes)
    except ValueError as exc:  # a tail the panel refuses: allocate on the forecasts
        _LOG.warning("pooled means off for this model: %s", exc)
        return None, None


def _num(value: SupportsFloat) -> float:
    v = float(value)
    return v if math.isfinite(v) else 0.0


def risk_rows(model: ServedModel, tables: ChannelTables, body: RiskIn
              ) -> tuple[list[RiskRow], int]:
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
    table = model.forecasts.table(served_model(f), f.horizon, DEFAULT_LEVELS)
    risk = stock_risk(model.frame(rows.tolist(), table), nodes=nodes,
                      inventory=tables.inventory, freq=f.freq, prices=last_prices(f.tail),
                      excess_weeks=body.excess_weeks)
    if body.risk_class:
        risk = risk[risk["risk_class"].isin(body.risk_class)]
    classes = pd.Series(f.classes.astype(str), index=pd.MultiIndex.from_frame(keys))
    return _risk_json(risk.head(body.top), channel, classes), len(risk)


def _risk_json(risk: pd.DataFrame, channel: pd.Series, classes: pd.Series
               ) -> list[RiskRow]:
    out = []
    for rank, rec in enumerate(risk.to_dict("records"), start=1):
        node, sku = str(rec[NODE]), str(rec[ITEM])
        value = rec.get("expected_lost_value")
        cover = float(rec["weeks_of_cover"])
        out.append(RiskRow(
            rank=rank, node_id=node, sku=sku, channel=channel.get(node),
            demand_class=classes.get((node, sku)), on_hand=_num(rec["on_hand"]),
            in_transit=_num(rec["in_transit"]), position=_num(rec["position"]),
            demand_mean=_num(rec["demand_mean"]), p_stockout=_num(rec["p_stockout"]),
            expected_lost_units=_num(rec["expected_lost_units"]),
            expected_lost_value=(None if value is None or not math.isfinite(float(value))
                                 else float(value)),
            weeks_of_cover=cover if math.isfinite(cover) else None,
            p_excess=_num(rec["p_excess"]), risk_class=str(rec["risk_class"]),
            excess=bool(rec["excess"])))
    return out
