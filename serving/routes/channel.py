"""What the ERP sends and asks about the channel: stock risk, inventory snapshots, and new
sell-through (which rolls the model forward)."""

from __future__ import annotations

from typing import Any

import pandas as pd
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from features.schema import DATE, ITEM, NODE
from serving.contract import RowProblem, check_rows, nodes_of_model
from serving.decisions import risk_rows
from serving.deps import ErpDep, ModelDep, ServiceDep
from serving.errors import ERROR_RESPONSES, ApiError, documented, summary
from serving.model_store import ServedModel
from serving.schemas import (
    InventoryIn,
    InventoryOut,
    RiskIn,
    RiskOut,
    SellThroughIn,
    SellThroughOut,
)
from serving.tables import as_utc

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["channel"], responses=ERROR_RESPONSES)
_404 = documented(_404="unknown node or sku (each named)")
_409 = documented(_409="the service lacks what this needs")


@router.post("/stock-risk", response_model=RiskOut, responses={**_404, **_409})
def rank_stock_risk(body: RiskIn, _who: ErpDep, model: ModelDep, service: ServiceDep
                    ) -> dict[str, Any]:
    """Stock-out and excess risk per stocked node x sku, ranked by expected lost value."""
    tables = service.channel
    rows, total = risk_rows(model, tables, body)
    as_of = (f"snapshot {tables.snapshot_id} of {tables.snapshot_at:%Y-%m-%d %H:%M} UTC"
             if tables.snapshot_at else f"data folder {tables.source}")
    return {"model_version": model.version, "origin": f"{model.forecaster.origin:%Y-%m-%d}",
            "inventory_as_of": as_of, "total": total, "rows": rows}


def _refuse(problems: list[RowProblem], what: str) -> None:
    """422 for any contract problem; 404 when the only problems are unknown nodes."""
    if not problems:
        return
    items = [p.as_dict() for p in problems[:1000]]
    if all(p.unknown_node for p in problems):
        ids = sorted({p.value or "" for p in problems})
        raise ApiError(404, f"unknown node(s) {', '.join(map(repr, ids[:20]))} in {what}: not "
                       "in the node table; nothing was applied.", errors=items)
    raise ApiError(422, f"{len(problems)} problem(s) in {what}, nothing was applied; first: "
                   f"{summary(items, more_word='problem')}", errors=items)


def _nodes(service: ServiceDep) -> pd.DataFrame:
    nodes = service.channel.nodes
    if nodes is not None:
        return nodes
    current = service.models.current
    ids = [] if current is None else sorted(current.forecaster.keys[NODE].astype(str).unique())
    return nodes_of_model(ids)


def _records(rows: list[Any]) -> list[dict[str, Any]]:
    return [r.model_dump(mode="json", exclude_none=True) for r in rows]


@router.put("/inventory", response_model=InventoryOut, responses=_404)
def put_inventory(body: InventoryIn, who: ErpDep, service: ServiceDep, request: Request
                  ) -> dict[str, Any]:
    """Replace the inventory snapshot (and the central stock, when sent); validated by the
    data contract, all or nothing."""
    tables = {"inventory": _records(body.inventory)}
    if body.central_stock is not None:
        tables["central_stock"] = _records(body.central_stock)
    _, problems = check_rows(tables, nodes=_nodes(service))
    _refuse(problems, "the snapshot")
    snap = service.put_inventory(inventory=tables["inventory"],
                                 central_stock=tables.get("central_stock"), by=who.name)
    request.state.audit = {"action": "inventory.put", "object_id": str(snap.id),
                           "detail": {"rows": len(body.inventory),
                                      "central_stock_rows": len(body.central_stock or [])}}
    return {"snapshot_id": snap.id, "rows": len(body.inventory),
            "central_stock_rows": None if body.central_stock is None else
            len(body.central_stock), "created_at": as_utc(snap.created_at)}


def _check_new_rows(rows: pd.DataFrame, model: ServedModel) -> None:
    """404 naming series the model does not know; 422 for periods it holds already."""
    origin = model.forecaster.origin
    pairs = list(zip(rows[NODE].astype(str), rows[ITEM].astype(str), strict=True))
    unknown = {p for p in pairs if p not in model.index}
    if unknown:
        shown = ", ".join(f"({n}, {s})" for n, s in sorted(unknown)[:20])
        raise ApiError(404, f"{len(unknown)} series not in the model: {shown}; nothing was "
                       "applied (train a version with their history to forecast them).",
                       errors=[{"loc": ["body", "rows", i, "sku"], "type": "unknown_series",
                                "msg": f"series ({n}, {s}) is not in the model",
                                "value": f"{n}/{s}"} for i, (n, s) in enumerate(pairs)
                               if (n, s) in unknown][:1000])
    old = [i for i, d in enumerate(rows[DATE]) if pd.Timestamp(d) <= origin]
    if old:
        raise ApiError(422, f"{len(old)} row(s) are not after the model's last period "
                       f"{origin:%Y-%m-%d}; those periods are in the model already. Nothing "
                       "was applied.", errors=[{"loc": ["body", "rows", i, "date"],
                                                "type": "not_after_origin",
                                                "msg": f"must be after {origin:%Y-%m-%d}",
                                                "value": f"{rows[DATE].iloc[i]:%Y-%m-%d}"}
                                               for i in old[:1000]])


@router.post("/sell-through", response_model=SellThroughOut, status_code=201,
             responses={**_404, **_409})
async def post_sell_through(body: SellThroughIn, who: ErpDep, model: ModelDep,
                            service: ServiceDep, request: Request) -> dict[str, Any]:
    """New periods of sell-through: validated (row-level errors, all or nothing), then the
    model rolls forward over them without retraining and answers from the new origin."""
    if getattr(model.forecaster, "state", None) is None:
        raise ApiError(409, "the served model keeps no history, so it cannot roll forward; "
                       "train and promote a new version.")
    records = _records(body.rows)
    accepted, problems = await run_in_threadpool(
        check_rows, {"sell_through": records}, nodes=_nodes(service),
        freq=model.forecaster.freq, fields={"sell_through": "rows"})
    _refuse(problems, "the sell-through rows")
    rows = accepted["sell_through"]
    _check_new_rows(rows, model)
    try:
        batch, swapped = await run_in_threadpool(service.roll_forward, rows, records=records,
                                                 by=who.name)
    except ValueError as exc:
        raise ApiError(422, f"cannot roll the model forward over these rows: {exc}; nothing "
                       "was applied.") from exc
    request.state.audit = {"action": "sell_through.post", "object_id": str(batch.id),
                           "detail": {"rows": batch.n_rows, "origin_before": batch.origin_before,
                                      "origin_after": batch.origin_after}}
    return {"batch_id": batch.id, "rows": batch.n_rows, "origin_before": batch.origin_before,
            "origin_after": batch.origin_after, "model_version": swapped.version}
